import pytest

from hostsim.settings import Settings, parse_override, read_settings


def write(tmp_path, text):
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_strings_ints_and_the_root_table_only(tmp_path):
    path = write(
        tmp_path,
        """# comment
CIRCUITPY_WIFI_SSID = "my net"   # trailing comment
QUOTED = "say \\"hi\\"\\t\\u00e9"
PORT = 8080
NEG = -5
BIG = 1_000
HASH = "a # not a comment"

[section]
HIDDEN = "x"
""",
    )
    values, problems = read_settings(path)
    assert values == {
        "CIRCUITPY_WIFI_SSID": ("my net", True),
        "QUOTED": ('say "hi"\t\u00e9', True),
        "PORT": ("8080", False),
        "NEG": ("-5", False),
        "BIG": ("1_000", False),
        "HASH": ("a # not a comment", True),
    }
    assert problems == {}


def test_unreadable_values_are_reported_and_skipped(tmp_path):
    path = write(tmp_path, 'A = "open\nB = bare words # note\nC = "ok"\nD =\nnot a line\n')
    values, problems = read_settings(path)
    assert values == {"B": ("bare words", False), "C": ("ok", True)}
    assert [p.split(":")[0] for p in problems.values()] == ["line 1", "line 4", "line 5"]


def test_circuitpython_10_2_returns_every_value_as_text(tmp_path):
    """supervisor/shared/settings.c (10.2+): a bare value is its text; what it cannot read gives the default."""
    settings = Settings(write(tmp_path, 'SIZE = HD\nFPS = 0x1e\nBROKEN = "open\n'), {}, (10, 2))
    assert (settings.getenv("SIZE"), settings.getenv("FPS")) == ("HD", "0x1e")
    assert settings.getenv("BROKEN", "default") == "default"


def test_circuitpython_10_1_parses_bare_values_and_raises_on_the_rest(tmp_path):
    """shared-module/os/getenv.c (10.0, 10.1): bare values are integers; anything else raises ValueError."""
    settings = Settings(write(tmp_path, 'SIZE = HD\nFPS = 30\nHEX = 0x1e\nNAME = "cam"\nBROKEN = "open\n'), {}, (10, 1))
    assert (settings.getenv("FPS"), settings.getenv("HEX"), settings.getenv("NAME")) == (30, 30, "cam")
    with pytest.raises(ValueError, match="invalid syntax for integer with base 10: 'HD'"):
        settings.getenv("SIZE")
    with pytest.raises(ValueError, match="string is not closed"):
        settings.getenv("BROKEN")
    assert settings.getenv("MISSING", 5) == 5


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
