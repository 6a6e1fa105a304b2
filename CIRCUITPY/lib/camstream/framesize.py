"""espcamera's frame sizes: their pixels, the PSRAM their buffers take, which sensor can make them, and the ladder
rate control steps along."""

# Every espcamera.FrameSize of CircuitPython 10 (ports/espressif/bindings/espcamera/__init__.c): width, height.
DIMENSIONS = {
    "R96X96": (96, 96),
    "QQVGA": (160, 120),
    "QCIF": (176, 144),
    "HQVGA": (240, 176),
    "R240X240": (240, 240),
    "QVGA": (320, 240),
    "CIF": (400, 296),
    "HVGA": (480, 320),
    "VGA": (640, 480),
    "SVGA": (800, 600),
    "XGA": (1024, 768),
    "HD": (1280, 720),
    "SXGA": (1280, 1024),
    "UXGA": (1600, 1200),
    "FHD": (1920, 1080),
    "P_HD": (720, 1280),
    "P_3MP": (864, 1536),
    "QXGA": (2048, 1536),
    "QHD": (2560, 1440),
    "WQXGA": (2560, 1600),
    "P_FHD": (1080, 1920),
    "QSXGA": (2560, 1920),
}
# In the order of esp32-camera's framesize_t, which espcamera compares against the sensor's largest size.
NAMES = (
    "R96X96", "QQVGA", "QCIF", "HQVGA", "R240X240", "QVGA", "CIF", "HVGA", "VGA", "SVGA", "XGA", "HD", "SXGA",
    "UXGA", "FHD", "P_HD", "P_3MP", "QXGA", "QHD", "WQXGA", "P_FHD", "QSXGA",
)  # fmt: skip
# Landscape sizes by pixel count: what rate control steps down and back up along.
LADDER = (
    "QQVGA", "QCIF", "HQVGA", "QVGA", "CIF", "HVGA", "VGA", "SVGA", "XGA", "HD", "SXGA", "UXGA", "FHD",
    "QXGA", "QHD", "WQXGA", "QSXGA",
)  # fmt: skip
# The largest size each sensor makes (esp32-camera driver/sensor.c); espcamera silently clamps larger ones.
SENSOR_MAX = {"OV2640": "UXGA", "OV3660": "QXGA", "OV5640": "QSXGA"}
DEFAULT_SENSOR = "OV5640"


def pixels(name):
    width, height = DIMENSIONS[name]
    return width * height


def kilopixels(name):
    """Pixels / 1024: small enough that products with byte counts stay MicroPython small ints."""
    return pixels(name) >> 10


def buffer_bytes(name):
    """One JPEG frame buffer: esp32-camera allocates width * height / 5 bytes (cam_hal.c, cam_config)."""
    return pixels(name) // 5


def _index(names, name):
    for i in range(len(names)):
        if names[i] == name:
            return i
    return -1


def rung(name):
    """The size's place on the ladder, or -1 for square and portrait sizes (rate control keeps those)."""
    return _index(LADDER, name)


def sensor_max(sensor_name):
    return SENSOR_MAX.get(sensor_name, SENSOR_MAX[DEFAULT_SENSOR])


def too_big_for(sensor_name, name):
    """True when the sensor cannot make `name`: espcamera's reconfigure() would quietly give its largest size."""
    return _index(NAMES, name) > _index(NAMES, sensor_max(sensor_name))
