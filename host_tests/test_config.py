"""camhub.config: flags override CAMHUB_* variables, which override defaults; bad values are usage errors."""

from pathlib import Path

import pytest

from camhub.config import Config, build_parser, load


def test_defaults():
    config = load([], {})
    assert config == Config()
    assert (config.host, config.port, config.data_dir, config.max_frame_bytes) == (
        "0.0.0.0",
        9005,
        Path("camhub-data"),
        4 * 1024 * 1024,
    )
    assert (config.record, config.retention_hours, config.retention_gb) == (frozenset(), 72.0, 10.0)


def test_environment_and_flags():
    env = {
        "CAMHUB_PORT": "9100",
        "CAMHUB_API_KEYS": "a, b,",
        "CAMHUB_RECORD": "cam1,cam2",
        "CAMHUB_VIEW_PASSWORD": "pw",
        "CAMHUB_DATA_DIR": "/tmp/x",
        "CAMHUB_VIEWER_TIMEOUT": "2.5",
    }
    config = load(["--port", "9200", "--record", "all"], env)
    assert (config.port, config.api_keys, config.view_password, config.data_dir) == (
        9200,
        ("a", "b"),
        "pw",
        Path("/tmp/x"),
    )
    assert config.record_all and config.viewer_timeout_s == 2.5
    assert load([], env).record == frozenset({"cam1", "cam2"})


def test_every_flag_has_an_environment_variable_in_help():
    text = build_parser().format_help()
    for flag in (
        "--host",
        "--port",
        "--data-dir",
        "--api-keys",
        "--view-password",
        "--record",
        "--retention-hours",
        "--retention-gb",
        "--max-frame-bytes",
        "--viewer-timeout",
    ):
        assert flag in text
        assert "CAMHUB_" + flag[2:].replace("-", "_").upper() in text


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--port", "x"], {}),
        ([], {"CAMHUB_PORT": "nine"}),
        ([], {"CAMHUB_RETENTION_GB": "-1"}),
        (["--log-level", "loud"], {}),
    ],
)
def test_bad_values_exit_with_usage_error(argv, env, capsys):
    with pytest.raises(SystemExit) as exc:
        load(argv, env)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err
