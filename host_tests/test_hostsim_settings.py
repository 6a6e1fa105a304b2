import pytest

from hostsim.settings import Settings, parse_override, read_settings


def write(tmp_path, text):
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_strings_ints_and_the_root_table_only(tmp_path):
    path = write(tmp_path, '''# comment
CIRCUITPY_WIFI_SSID = "my net"   # trailing comment
QUOTED = "say \\"hi\\"\\t\\u00e9"
PORT = 8080
NEG = -5
BIG = 1_000
HASH = "a # not a comment"

[section]
HIDDEN = "x"
''')
    values, problems = read_settings(path)
    assert values == {"CIRCUITPY_WIFI_SSID": "my net", "QUOTED": 'say "hi"\t\u00e9', "PORT": "8080",
                      "NEG": "-5", "BIG": "1000", "HASH": "a # not a comment"}
    assert problems == []


def test_unreadable_values_are_reported_and_skipped(tmp_path):
    path = write(tmp_path, 'A = "open\nB = bare words\nC = "ok"\nnot a line\n')
    values, problems = read_settings(path)
    assert values == {"C": "ok"}
    assert [p.split(":")[0] for p in problems] == ["line 1", "line 2", "line 4"]


def test_getenv_returns_str_or_default_and_rereads_the_file(tmp_path):
    path = write(tmp_path, "PORT = 8080\n")
    settings = Settings(path, {})
    assert settings.getenv("PORT") == "8080"
    assert settings.getenv("MISSING") is None
    assert settings.getenv("MISSING", 7) == 7
    path.write_text('PORT = "9090"\n')
    assert settings.getenv("PORT") == "9090"


def test_set_overrides_win_and_work_without_a_file(tmp_path):
    settings = Settings(tmp_path / "settings.toml", dict([parse_override("PORT=1234"), parse_override("E=")]))
    assert settings.getenv("PORT") == "1234"
    assert settings.getenv("E") == ""
    write(tmp_path, "PORT = 8080\nOTHER = 1\n")
    assert settings.getenv("PORT") == "1234"
    assert settings.getenv("OTHER") == "1"


@pytest.mark.parametrize("item", ["PORT", "=1", "A B=1", "/tmp/CIRCUITPY"])
def test_bad_overrides_are_rejected(item):
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        parse_override(item)
