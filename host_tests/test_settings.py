"""camstream.settings: defaults, both value types of os.getenv, one-line errors naming the key."""

import pytest

from camstream import pins
from camstream.settings import SettingsError, camera_pins, default_device_id, load

MAC = b"\x24\x0a\xc4\xa1\xb2\xc3"
BASE = {"CAMSTREAM_SERVER_URL": "http://192.168.1.50:9005", "CAMSTREAM_API_KEY": "k3y"}


def env(**values):
    merged = dict(BASE)
    merged.update(values)
    return lambda key, default=None: merged.get(key, default)


def test_defaults():
    cfg = load(env(), MAC)
    assert cfg.server.host == "192.168.1.50" and cfg.server.port == 9005
    assert cfg.device_id == "ESP32-CAM-A1B2C3" and cfg.device_name == "ESP32-CAM-A1B2C3"
    assert (cfg.target_fps, cfg.frame_size, cfg.jpeg_quality, cfg.framebuffers) == (30, "HD", 6, 2)
    assert (cfg.upload, cfg.heartbeat_s, cfg.stats_s, cfg.watchdog_s) == ("multipart", 10, 5, 30)
    assert cfg.board is None and cfg.pins is None and cfg.ca_file is None


def test_strings_and_old_style_ints_both_parse():
    cfg = load(env(CAMSTREAM_TARGET_FPS="15", CAMSTREAM_JPEG_QUALITY=10, CAMSTREAM_WATCHDOG_S=" 0 "), MAC)
    assert (cfg.target_fps, cfg.jpeg_quality, cfg.watchdog_s) == (15, 10, 0)


def test_choices_are_case_insensitive_and_normalised():
    cfg = load(env(CAMSTREAM_FRAME_SIZE="svga", CAMSTREAM_UPLOAD="RAW"), MAC)
    assert (cfg.frame_size, cfg.upload) == ("SVGA", "raw")


@pytest.mark.parametrize(
    "key,value,allowed",
    [
        ("CAMSTREAM_TARGET_FPS", "fast", "1..60"),
        ("CAMSTREAM_TARGET_FPS", "0", "1..60"),
        ("CAMSTREAM_JPEG_QUALITY", "1", "2..55"),
        ("CAMSTREAM_JPEG_QUALITY", 56, "2..55"),
        ("CAMSTREAM_FRAMEBUFFERS", "3", "1..2"),
        ("CAMSTREAM_FRAME_SIZE", "4K", "HD"),
        ("CAMSTREAM_UPLOAD", "mjpeg", "multipart, raw"),
        ("CAMSTREAM_WATCHDOG_S", "5", "17..3600 (one step can block 15 s with this hub address)"),
        ("CAMSTREAM_WATCHDOG_S", "15", "17..3600"),
        ("CAMSTREAM_HEARTBEAT_S", "1.5", "1..3600"),
        ("CAMSTREAM_SERVER_URL", "ftp://x", "http or https"),
        ("CAMSTREAM_SERVER_URL", "http://host:99999", "1..65535"),
        ("CAMSTREAM_DEVICE_ID", "has space", "printable"),
        ("CAMSTREAM_BOARD", "my_board", "adafruit_esp32s3_camera"),
        ("CAMSTREAM_PINS", "data=1,2,3 xclk=15", "pclk is missing"),
        ("CAMSTREAM_PINS", "data=1,2,3 xclk=15 pclk=13 vsync=6 href=7 sda=4 scl=5", "8 GPIO numbers"),
    ],
)
def test_bad_value_is_one_line_naming_key_value_and_allowed(key, value, allowed):
    with pytest.raises(SettingsError) as info:
        load(env(**{key: value}), MAC)
    text = str(info.value)
    assert "\n" not in text
    assert key in text and repr(value) in text and allowed in text


def test_missing_required_keys_say_so():
    with pytest.raises(SettingsError, match="CAMSTREAM_SERVER_URL is not set"):
        load(lambda key, default=None: None, MAC)
    with pytest.raises(SettingsError, match="CAMSTREAM_API_KEY is not set"):
        load(env(CAMSTREAM_API_KEY=""), MAC)


def test_api_key_is_never_echoed():
    with pytest.raises(SettingsError) as info:
        load(env(CAMSTREAM_API_KEY="top secret"), MAC)
    assert "top secret" not in str(info.value) and "(hidden)" in str(info.value)


def test_pins_error_shows_the_expected_format():
    with pytest.raises(SettingsError, match=r"\(scl is missing\); expected data=D0,\.\.,D7 xclk=N"):
        load(env(CAMSTREAM_PINS="data=11,9,8,10,12,18,17,16 xclk=15 pclk=13 vsync=6 href=7 sda=4"), MAC)


def test_every_key_is_read_once():
    reads = []
    values = dict(BASE)

    def getenv(key, default=None):
        reads.append(key)
        return values.get(key, default)

    load(getenv, MAC)
    assert len(reads) == len(set(reads))
    assert {"CAMSTREAM_TARGET_FPS", "CAMSTREAM_PINS", "CAMSTREAM_BOARD", "CIRCUITPY_WIFI_SSID"} <= set(reads)


def test_default_device_id_uses_last_three_mac_bytes_uppercase():
    assert default_device_id(bytes([1, 2, 3, 0xAB, 0xCD, 0xEF])) == "ESP32-CAM-ABCDEF"


def test_camera_pins_prefers_pins_then_board_setting_then_running_board():
    line = "data=11,9,8,10,12,18,17,16 xclk=15 pclk=13 vsync=6 href=7 sda=4 scl=5"
    custom = load(env(CAMSTREAM_PINS=line, CAMSTREAM_BOARD="whatever"), MAC)
    assert camera_pins(custom, "adafruit_esp32s3_camera").data == (11, 9, 8, 10, 12, 18, 17, 16)
    chosen = load(env(CAMSTREAM_BOARD="firebeetle2_esp32s3"), MAC)
    assert camera_pins(chosen, "espressif_esp32s3_eye") is pins.BOARDS["firebeetle2_esp32s3"]
    detected = load(env(), MAC)
    assert camera_pins(detected, "espressif_esp32s3_eye") is pins.BOARDS["espressif_esp32s3_eye"]
    with pytest.raises(SettingsError, match="CAMSTREAM_BOARD is not set.*generic_s3"):
        camera_pins(detected, "generic_s3")


def test_both_sensebox_eye_board_ids_have_its_pins():
    """CircuitPython 10.0-10.2 name the board sensebox_eye_esp32s3; 10.3 renames it sensebox_mcu_eye_esp32s3."""
    old = camera_pins(load(env(), MAC), "sensebox_eye_esp32s3")
    assert old is camera_pins(load(env(), MAC), "sensebox_mcu_eye_esp32s3")
    assert (old.data, old.pwdn, old.i2c) == ("CAM_DATA", "PWDN", ("CAM_SCL", "CAM_SDA"))


def test_a_getenv_that_raises_names_the_key():
    """CircuitPython 10.0/10.1 parse bare values: `CAMSTREAM_FRAME_SIZE = HD` makes os.getenv raise ValueError."""

    def getenv(key, default=None):
        if key == "CAMSTREAM_FRAME_SIZE":
            raise ValueError("invalid syntax for integer with base 10: 'HD'")
        return BASE.get(key, default)

    with pytest.raises(SettingsError) as info:
        load(getenv, MAC)
    assert str(info.value) == (
        "settings.toml: CAMSTREAM_FRAME_SIZE cannot be read (invalid syntax for integer with base 10: 'HD');"
        ' expected text in double quotes, e.g. CAMSTREAM_FRAME_SIZE = "..."'
    )


@pytest.mark.parametrize(("url", "floor"), [("http://192.168.1.50:9005", 17), ("http://camhub.local:9005", 24)])
def test_watchdog_floor_covers_the_slowest_phase(url, floor):
    """budget.py: a hub given by name adds lwIP's DNS time to the control and frame phases."""
    assert load(env(CAMSTREAM_SERVER_URL=url, CAMSTREAM_WATCHDOG_S=str(floor)), MAC).watchdog_s == floor
    with pytest.raises(SettingsError, match=f"{floor}..3600"):
        load(env(CAMSTREAM_SERVER_URL=url, CAMSTREAM_WATCHDOG_S=str(floor - 1)), MAC)


def test_ca_file_is_read_from_settings():
    assert load(env(CAMSTREAM_CA_FILE="hub-cert.pem"), MAC).ca_file == "hub-cert.pem"
