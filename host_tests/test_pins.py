"""camstream.pins: the six board maps and the CAMSTREAM_PINS line."""

import pytest

from camstream.pins import BOARDS, parse, select

EYE = "data=11,9,8,10,12,18,17,16 xclk=15 pclk=13 vsync=6 href=7 sda=4 scl=5 pwdn=-1 reset=-1"


def test_board_maps_match_circuitpython_pin_names():
    memento = BOARDS["adafruit_esp32s3_camera"]
    assert (memento.data, memento.pwdn, memento.reset, memento.i2c) == (
        "CAMERA_DATA",
        "CAMERA_PWDN",
        "CAMERA_RESET",
        None,
    )
    xiao = BOARDS["seeed_xiao_esp32_s3_sense"]
    assert (xiao.data, xiao.vsync, xiao.i2c) == ("CAM_DATA", "CAM_VSYNC", ("CAM_SCL", "CAM_SDA"))
    sensebox = BOARDS["sensebox_mcu_eye_esp32s3"]
    assert (sensebox.pwdn, sensebox.i2c) == ("PWDN", ("CAM_SCL", "CAM_SDA"))
    assert BOARDS["firebeetle2_esp32s3"].data == "CAM_DATA"
    assert BOARDS["prokyber_ai_on_the_edge_cam"].i2c is None
    assert BOARDS["espressif_esp32s3_eye"].pwdn is None
    assert BOARDS["sensebox_eye_esp32s3"] is sensebox  # its id before CircuitPython 10.3
    assert BOARDS["firebeetle2_esp32s3"].power == "axp313a" and memento.power is None
    assert len(BOARDS) == 7


def test_parse_eye_map():
    spec = parse(EYE)
    assert spec.data == (11, 9, 8, 10, 12, 18, 17, 16)
    assert (spec.xclk, spec.pclk, spec.vsync, spec.href) == (15, 13, 6, 7)
    assert spec.i2c == (5, 4)  # (scl, sda)
    assert spec.pwdn is None and spec.reset is None


def test_optional_fields_default_to_not_wired():
    spec = parse("data=11,9,8,10,12,18,17,16 xclk=15 pclk=13 vsync=6 href=7 sda=4 scl=5 pwdn=46")
    assert spec.pwdn == 46 and spec.reset is None


@pytest.mark.parametrize(
    "line,message",
    [
        ("data=11,9,8 xclk=15 pclk=13 vsync=6 href=7 sda=4 scl=5", "8 GPIO"),
        (EYE.replace(" scl=5", ""), "scl is missing"),
        (EYE + " led=3", "unknown field"),
        (EYE.replace("xclk=15", "xclk=x"), "not a GPIO number"),
        (EYE.replace("xclk=15", "xclk=-1"), "xclk=-1"),
        (EYE.replace("xclk=15", "xclk=60"), "0..48"),
        (EYE.replace("xclk=15", "xclk=13"), "GPIO 13 is used twice"),
        (EYE + " sda=4", "twice"),
        ("data", "not name=value"),
    ],
)
def test_parse_errors_name_the_field(line, message):
    with pytest.raises(ValueError, match=message):
        parse(line)


def test_select_order():
    custom = parse(EYE)
    assert select("firebeetle2_esp32s3", custom, "espressif_esp32s3_eye") is custom
    assert select(None, None, "firebeetle2_esp32s3") is BOARDS["firebeetle2_esp32s3"]
    with pytest.raises(KeyError):
        select(None, None, "unknown_board")
