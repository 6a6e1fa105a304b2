"""Where the camera is wired: pin maps of CircuitPython camera boards, or GPIO numbers from CAMSTREAM_PINS.

A PinSpec names pins without touching hardware: strings are attribute names in `board`, integers are
GPIO numbers (`microcontroller.pin.GPIOn`). The edge module turns them into pin objects.
"""


class PinSpec:
    def __init__(self, data, vsync, href, pclk, xclk, pwdn=None, reset=None, i2c=None, power=None):
        self.data = data
        self.vsync = vsync
        self.href = href
        self.pclk = pclk
        self.xclk = xclk
        self.pwdn = pwdn
        self.reset = reset
        # None: the board's own board.I2C(); else (scl, sda) for a dedicated busio.I2C.
        self.i2c = i2c
        # None: the camera is always powered; "axp313a": its rails come from that power chip on the camera I2C bus.
        self.power = power


# senseBox MCU-S2 ESP32-S3 eye: CircuitPython 10.0-10.2 call it sensebox_eye_esp32s3, 10.3 sensebox_mcu_eye_esp32s3.
_SENSEBOX_EYE = PinSpec(
    "CAM_DATA", "CAM_VSYNC", "CAM_HREF", "CAM_PCLK", "CAM_XCLK", pwdn="PWDN", i2c=("CAM_SCL", "CAM_SDA")
)


BOARDS = {
    "adafruit_esp32s3_camera": PinSpec(
        "CAMERA_DATA", "CAMERA_VSYNC", "CAMERA_HREF", "CAMERA_PCLK", "CAMERA_XCLK", "CAMERA_PWDN", "CAMERA_RESET"
    ),
    "espressif_esp32s3_eye": PinSpec("CAMERA_DATA", "CAMERA_VSYNC", "CAMERA_HREF", "CAMERA_PCLK", "CAMERA_XCLK"),
    "seeed_xiao_esp32_s3_sense": PinSpec(
        "CAM_DATA", "CAM_VSYNC", "CAM_HREF", "CAM_PCLK", "CAM_XCLK", i2c=("CAM_SCL", "CAM_SDA")
    ),
    "sensebox_eye_esp32s3": _SENSEBOX_EYE,
    "sensebox_mcu_eye_esp32s3": _SENSEBOX_EYE,
    "prokyber_ai_on_the_edge_cam": PinSpec("CAMERA_DATA", "CAMERA_VSYNC", "CAMERA_HREF", "CAMERA_PCLK", "CAMERA_XCLK"),
    # Its camera rails come from an AXP313A; CircuitPython freezes that driver in but leaves the rails off.
    "firebeetle2_esp32s3": PinSpec("CAM_DATA", "CAM_VSYNC", "CAM_HREF", "CAM_PCLK", "CAM_XCLK", power="axp313a"),
}

PINS_FORMAT = "data=D0,..,D7 xclk=N pclk=N vsync=N href=N sda=N scl=N [pwdn=N] [reset=N] (GPIO numbers, -1 = none)"
_REQUIRED = ("data", "xclk", "pclk", "vsync", "href", "sda", "scl")
_OPTIONAL = ("pwdn", "reset")
MAX_GPIO = 48


def _gpio(name, text):
    text = text.strip()
    if not (text.isdigit() or (text[:1] == "-" and text[1:].isdigit())):
        raise ValueError("%s=%s is not a GPIO number" % (name, text))
    value = int(text)
    if value == -1 and name in _OPTIONAL:
        return None
    if not 0 <= value <= MAX_GPIO:
        raise ValueError("%s=%d is not a GPIO 0..%d" % (name, value, MAX_GPIO))
    return value


def parse(text):
    """A PinSpec from a CAMSTREAM_PINS line; ValueError names the bad or missing field."""
    fields = {}
    for item in text.replace(";", " ").split():
        eq = item.find("=")
        if eq <= 0:
            raise ValueError("%r is not name=value" % item)
        name = item[:eq].strip().lower()
        if name not in _REQUIRED and name not in _OPTIONAL:
            raise ValueError("unknown field %r" % name)
        if name in fields:
            raise ValueError("%s is given twice" % name)
        fields[name] = item[eq + 1 :]
    for name in _REQUIRED:
        if name not in fields:
            raise ValueError("%s is missing" % name)
    data = tuple(_gpio("data", d) for d in fields["data"].split(",") if d.strip())
    if len(data) != 8:
        raise ValueError("data needs 8 GPIO numbers D0..D7, got %d" % len(data))
    spec = PinSpec(
        data,
        _gpio("vsync", fields["vsync"]),
        _gpio("href", fields["href"]),
        _gpio("pclk", fields["pclk"]),
        _gpio("xclk", fields["xclk"]),
        _gpio("pwdn", fields.get("pwdn", "-1")),
        _gpio("reset", fields.get("reset", "-1")),
        (_gpio("scl", fields["scl"]), _gpio("sda", fields["sda"])),
    )
    used = list(data) + [spec.vsync, spec.href, spec.pclk, spec.xclk, spec.pwdn, spec.reset] + list(spec.i2c)
    used = [g for g in used if g is not None]
    for g in used:
        if used.count(g) > 1:
            raise ValueError("GPIO %d is used twice" % g)
    return spec


def select(board_setting, pins_spec, board_id):
    """The pins to use: CAMSTREAM_PINS wins, then CAMSTREAM_BOARD, then the running board."""
    if pins_spec is not None:
        return pins_spec
    name = board_setting or board_id
    if name not in BOARDS:
        raise KeyError(name)
    return BOARDS[name]
