"""settings.toml, read once and validated: a bad value stops start-up with one line naming the key."""

from camstream import budget, framesize, pins, ratecontrol, urls

FRAME_SIZES = framesize.NAMES
UPLOAD_MODES = ("multipart", "raw")
DEVICE_ID_PREFIX = "ESP32-CAM-"
_HIDDEN = ("CAMSTREAM_API_KEY",)
WATCHDOG_DEFAULT_S = 30
MIN_FRAME_SIZE_DEFAULT = "QVGA"
MAX_QUALITY_DEFAULT = 40  # the worst JPEG quality number rate control may use: blocky, still readable


class SettingsError(ValueError):
    def __init__(self, key, value, allowed, problem=""):
        super().__init__(key, value, allowed, problem)
        self.key = key
        self.value = value
        self.allowed = allowed
        self.problem = problem

    def __str__(self):
        if self.value is None:
            return "settings.toml: %s is not set; expected %s" % (self.key, self.allowed)
        shown = "(hidden)" if self.key in _HIDDEN else repr(self.value)
        problem = " (%s)" % self.problem if self.problem else ""
        return "settings.toml: %s = %s is invalid%s; expected %s" % (self.key, shown, problem, self.allowed)


class UnreadableSetting(SettingsError):
    """os.getenv itself raised: CircuitPython 10.0/10.1 parse bare values and reject a bare non-integer."""

    def __str__(self):
        return "settings.toml: %s cannot be read (%s); expected %s" % (self.key, self.problem, self.allowed)


class Settings:
    """Every setting the firmware uses, typed and checked."""

    def __init__(self):
        self.wifi_ssid = None
        self.wifi_password = None
        self.server = None
        self.api_key = ""
        self.device_id = ""
        self.device_name = ""
        self.target_fps = 30
        self.frame_size = "HD"
        self.jpeg_quality = 6
        self.adapt = "fps"
        self.min_frame_size = MIN_FRAME_SIZE_DEFAULT
        self.max_quality = MAX_QUALITY_DEFAULT
        self.framebuffers = 2
        self.upload = "multipart"
        self.heartbeat_s = 10
        self.stats_s = 5
        self.watchdog_s = WATCHDOG_DEFAULT_S
        self.ca_file = None
        self.ca_data = None  # the certificate itself, read by the edge module
        self.board = None
        self.pins = None


class _Reader:
    def __init__(self, getenv):
        self._getenv = getenv

    def raw(self, key):
        try:
            value = self._getenv(key)
        except ValueError as exc:
            raise UnreadableSetting(key, None, 'text in double quotes, e.g. %s = "..."' % key, str(exc))
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                return None
        return value

    def text(self, key, default=None):
        value = self.raw(key)
        if value is None:
            return default
        return str(value)

    def integer(self, key, default, low, high, allowed=None):
        value = self.raw(key)
        if value is None:
            return default
        allowed = allowed or "a whole number %d..%d" % (low, high)
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise SettingsError(key, value, allowed)
        if isinstance(value, str):
            digits = value[1:] if value[:1] in "+-" else value
            if not digits.isdigit():
                raise SettingsError(key, value, allowed)
            number = int(value)
        else:
            number = value
        if not low <= number <= high:
            raise SettingsError(key, value, allowed)
        return number

    def choice(self, key, default, options):
        value = self.text(key)
        if value is None:
            return default
        for option in options:
            if option.lower() == value.lower():
                return option
        raise SettingsError(key, value, "one of " + ", ".join(options))


def _header_safe(text):
    for ch in text:
        if not " " < ch <= "~":
            return False
    return True


def default_device_id(mac):
    if not mac:
        return DEVICE_ID_PREFIX + "000000"
    return DEVICE_ID_PREFIX + "".join("%02X" % b for b in bytes(mac)[-3:])


def load(getenv, mac):
    """Read and check every CamStream key once; `getenv` is os.getenv, `mac` the WiFi MAC bytes."""
    read = _Reader(getenv)
    cfg = Settings()
    cfg.wifi_ssid = read.text("CIRCUITPY_WIFI_SSID")
    cfg.wifi_password = read.text("CIRCUITPY_WIFI_PASSWORD", "")

    url = read.text("CAMSTREAM_SERVER_URL")
    if url is None:
        raise SettingsError("CAMSTREAM_SERVER_URL", None, 'the hub\'s base URL, e.g. "http://192.168.1.50:9005"')
    try:
        cfg.server = urls.parse(url)
    except ValueError as exc:
        raise SettingsError("CAMSTREAM_SERVER_URL", url, 'a URL like "http://192.168.1.50:9005"', exc.args[0])

    key = read.text("CAMSTREAM_API_KEY")
    if key is None:
        raise SettingsError("CAMSTREAM_API_KEY", None, "the API key the hub was started with")
    if not _header_safe(key):
        raise SettingsError("CAMSTREAM_API_KEY", key, "printable ASCII without spaces")
    cfg.api_key = key

    cfg.device_id = read.text("CAMSTREAM_DEVICE_ID", default_device_id(mac))
    if not _header_safe(cfg.device_id) or len(cfg.device_id) > 64:
        raise SettingsError("CAMSTREAM_DEVICE_ID", cfg.device_id, "1..64 printable ASCII characters without spaces")
    cfg.device_name = read.text("CAMSTREAM_DEVICE_NAME", cfg.device_id)

    cfg.target_fps = read.integer("CAMSTREAM_TARGET_FPS", 30, 1, 60)
    cfg.frame_size = read.choice("CAMSTREAM_FRAME_SIZE", "HD", FRAME_SIZES)
    cfg.jpeg_quality = read.integer("CAMSTREAM_JPEG_QUALITY", 6, 2, 55, "a whole number 2..55 (lower = better, bigger)")
    _adaptation(read, cfg)
    cfg.framebuffers = read.integer("CAMSTREAM_FRAMEBUFFERS", 2, 1, 2)
    cfg.upload = read.choice("CAMSTREAM_UPLOAD", "multipart", UPLOAD_MODES)
    cfg.heartbeat_s = read.integer("CAMSTREAM_HEARTBEAT_S", 10, 1, 3600)
    cfg.stats_s = read.integer("CAMSTREAM_STATS_S", 5, 1, 3600)
    floor = budget.watchdog_floor_s(cfg.server.host_is_name)
    watchdog_allowed = "0 (off) or a whole number of seconds %d..3600 (one step can block %d s with this hub %s)" % (
        floor,
        floor - budget.MARGIN_S,
        "name" if cfg.server.host_is_name else "address",
    )
    cfg.watchdog_s = read.integer("CAMSTREAM_WATCHDOG_S", WATCHDOG_DEFAULT_S, 0, 3600, watchdog_allowed)
    if 0 < cfg.watchdog_s < floor:
        raise SettingsError("CAMSTREAM_WATCHDOG_S", read.raw("CAMSTREAM_WATCHDOG_S"), watchdog_allowed)
    cfg.ca_file = read.text("CAMSTREAM_CA_FILE")

    pins_text = read.text("CAMSTREAM_PINS")
    if pins_text is not None:
        try:
            cfg.pins = pins.parse(pins_text)
        except ValueError as exc:
            raise SettingsError("CAMSTREAM_PINS", pins_text, pins.PINS_FORMAT, exc.args[0])
    board = read.text("CAMSTREAM_BOARD")
    if board is not None and cfg.pins is None and board not in pins.BOARDS:
        raise SettingsError("CAMSTREAM_BOARD", board, _board_choices())
    cfg.board = board
    return cfg


def _adaptation(read, cfg):
    """CAMSTREAM_ADAPT and the limits rate control keeps to: frame sizes down to CAMSTREAM_MIN_FRAME_SIZE,
    quality numbers up to CAMSTREAM_MAX_JPEG_QUALITY (never better than CAMSTREAM_FRAME_SIZE/JPEG_QUALITY)."""
    cfg.adapt = read.choice("CAMSTREAM_ADAPT", "fps", ratecontrol.POLICIES)
    smallest = read.choice("CAMSTREAM_MIN_FRAME_SIZE", None, FRAME_SIZES)
    top = framesize.rung(cfg.frame_size)
    if smallest is None:
        smallest = MIN_FRAME_SIZE_DEFAULT
        if top >= 0 and framesize.rung(smallest) > top:
            smallest = cfg.frame_size  # a small CAMSTREAM_FRAME_SIZE is its own floor
    elif framesize.rung(smallest) < 0:
        raise SettingsError("CAMSTREAM_MIN_FRAME_SIZE", smallest, "a landscape size: " + ", ".join(framesize.LADDER))
    elif top >= 0 and framesize.rung(smallest) > top:
        raise SettingsError(
            "CAMSTREAM_MIN_FRAME_SIZE",
            smallest,
            "a frame size no larger than CAMSTREAM_FRAME_SIZE (%s)" % cfg.frame_size,
        )
    cfg.min_frame_size = smallest
    worst = "a whole number %d..55 (at least CAMSTREAM_JPEG_QUALITY)" % cfg.jpeg_quality
    cfg.max_quality = read.integer(
        "CAMSTREAM_MAX_JPEG_QUALITY", max(MAX_QUALITY_DEFAULT, cfg.jpeg_quality), cfg.jpeg_quality, 55, worst
    )


def _board_choices():
    names = sorted(pins.BOARDS)
    return "one of " + ", ".join(names) + ", or set CAMSTREAM_PINS"


def camera_pins(cfg, board_id):
    """The camera PinSpec for this board, or SettingsError when neither setting nor board gives one."""
    try:
        return pins.select(cfg.board, cfg.pins, board_id)
    except KeyError:
        allowed = _board_choices() + " (this board, %s, has no built-in camera pin map)" % board_id
        raise SettingsError("CAMSTREAM_BOARD", cfg.board, allowed)
