"""Settings the hub sends in a heartbeat's answer: each one checked against what this sensor and board allow,
applied, and reported in the next heartbeat (what was applied, what was refused and why).

settings.toml stays the base: a key the hub no longer sends goes back to its settings.toml value, a reboot starts
from settings.toml, and the hub sends its settings again whenever the version a heartbeat reports is not its own.
A refused value changes nothing: the setting keeps what it had.
A hub that never sends any leaves everything as settings.toml says.
"""

from camstream import framesize
from camstream.errors import printable
from camstream.ratecontrol import POLICIES

REASON_MAX = 96  # the hub keeps a heartbeat's extra fields to 4 KB in all

# The order they are checked and applied in: each may depend on those before it.
KEYS = (
    "adapt",
    "frameSize",
    "minFrameSize",
    "quality",
    "maxQuality",
    "targetFps",
    "heartbeatS",
    "vflip",
    "hmirror",
    "brightness",
    "contrast",
    "saturation",
    "aeLevel",
    "specialEffect",
)
# Sensor knobs: the espcamera.Camera attribute behind each key.
KNOBS = {
    "vflip": "vflip",
    "hmirror": "hmirror",
    "brightness": "brightness",
    "contrast": "contrast",
    "saturation": "saturation",
    "aeLevel": "ae_level",
    "specialEffect": "special_effect",
}
_OV5640 = {
    "brightness": (-3, 3),
    "contrast": (-3, 3),
    "saturation": (-4, 4),
    "aeLevel": (-5, 5),
    "specialEffect": (0, 6),
}
# What each sensor's esp32-camera driver accepts (sensors/ov5640.c, ov3660.c, ov2640.c).
SENSOR_RANGES = {
    "OV5640": _OV5640,
    "OV3660": _OV5640,
    "OV2640": {
        "brightness": (-2, 2),
        "contrast": (-2, 2),
        "saturation": (-2, 2),
        "aeLevel": (-2, 2),
        "specialEffect": (0, 6),
    },
}
NUMBERS = {"quality": (2, 55), "maxQuality": (2, 55), "targetFps": (1, 60), "heartbeatS": (1, 3600)}


def base_settings(cfg):
    """What settings.toml says (and the sensor's defaults for its knobs), by the hub's names."""
    return {
        "adapt": cfg.adapt,
        "frameSize": cfg.frame_size,
        "minFrameSize": cfg.min_frame_size,
        "quality": cfg.jpeg_quality,
        "maxQuality": cfg.max_quality,
        "targetFps": cfg.target_fps,
        "heartbeatS": cfg.heartbeat_s,
        "vflip": False,
        "hmirror": False,
        "brightness": 0,
        "contrast": 0,
        "saturation": 0,
        "aeLevel": 0,
        "specialEffect": 0,
    }


def _number(value, low, high):
    if isinstance(value, bool) or not isinstance(value, int):
        return "expected a whole number %d..%d, got %r" % (low, high, value)
    if not low <= value <= high:
        return "%d is outside %d..%d" % (value, low, high)
    return ""


class RemoteSettings:
    """`streamer` has retime(target_fps, heartbeat_s); `largest_free_block()` is the PSRAM free in one piece."""

    def __init__(self, cfg, camera, rate, streamer, largest_free_block):
        self._camera = camera
        self._rate = rate
        self._streamer = streamer
        self._largest_free_block = largest_free_block
        self._base = base_settings(cfg)
        self.live = dict(self._base)
        self.version = 0
        self.applied = {}
        self.refused = {}

    def report(self):
        """For heartbeats: the version last applied, what of it was applied and what was refused (with why)."""
        return {"version": self.version, "applied": self.applied, "refused": self.refused}

    def apply(self, settings):
        """Apply {"version": n, "values": {...}} from the hub; returns False for a version applied already.

        Raises ValueError for an answer that is not shaped like that (nothing is applied then)."""
        if not isinstance(settings, dict):
            raise ValueError("settings must be an object")
        version = settings.get("version")
        values = settings.get("values")
        if isinstance(version, bool) or not isinstance(version, int) or version < 0 or not isinstance(values, dict):
            raise ValueError('settings must be {"version": n >= 0, "values": {...}}')
        if version == self.version:
            return False
        refused = {}
        for key in values:
            if key not in self._base:
                refused[key] = "not a setting of this firmware"
        wanted = dict(self._base)
        explicit = {}
        for key in KEYS:
            if key in values:
                problem = self._check(key, values[key], wanted)
                if problem:
                    refused[key] = problem
                    wanted[key] = self.live[key]  # a refused value changes nothing: what runs now stays
                else:
                    wanted[key] = values[key]
                    explicit[key] = values[key]
            else:
                self._follow(key, wanted)
        applied = self._change(wanted, explicit, refused)
        for key in refused:
            refused[key] = printable(refused[key], REASON_MAX)
        self.version, self.applied, self.refused = version, applied, refused
        line = "Hub settings v%d: " % version
        line += "applied " + ", ".join("%s=%s" % (k, applied[k]) for k in applied) if applied else "settings.toml"
        if refused:
            line += "; refused " + ", ".join("%s=%r (%s)" % (k, values.get(k), refused[k]) for k in refused)
        print(line)
        return True

    def _follow(self, key, wanted):
        """A limit the hub did not set follows the settings it did, as settings.toml's defaults do."""
        if key == "minFrameSize":
            top = framesize.rung(wanted["frameSize"])
            if top >= 0 and framesize.rung(wanted["minFrameSize"]) > top:
                wanted["minFrameSize"] = wanted["frameSize"]
        elif key == "maxQuality" and wanted["maxQuality"] < wanted["quality"]:
            wanted["maxQuality"] = wanted["quality"]

    def _check(self, key, value, wanted):
        """Why `value` cannot be applied here ("" if it can), given the settings checked before it."""
        if key in NUMBERS:
            problem = _number(value, NUMBERS[key][0], NUMBERS[key][1])
            if not problem and key == "maxQuality" and value < wanted["quality"]:
                problem = "%d is a better quality number than quality (%d); it is the worst rate control may use" % (
                    value,
                    wanted["quality"],
                )
            return problem
        if key == "adapt":
            return "" if value in POLICIES else "expected one of %s, got %r" % (", ".join(POLICIES), value)
        if key == "frameSize":
            return self._check_size(value)
        if key == "minFrameSize":
            if value not in framesize.LADDER:
                return "expected a landscape frame size (%s), got %r" % (", ".join(framesize.LADDER), value)
            top = framesize.rung(wanted["frameSize"])
            if top >= 0 and framesize.rung(value) > top:
                return "%s is larger than the frame size %s" % (value, wanted["frameSize"])
            return ""
        if key in ("vflip", "hmirror"):
            return "" if isinstance(value, bool) else "expected true or false, got %r" % (value,)
        sensor = self._camera.sensor_name
        low, high = SENSOR_RANGES.get(sensor, _OV5640)[key]
        problem = _number(value, low, high)
        return problem + (" for the %s" % (sensor or "sensor") if problem else "")

    def _check_size(self, value):
        if value not in framesize.DIMENSIONS:
            return "expected an espcamera frame size name, got %r" % (value,)
        camera = self._camera
        if framesize.too_big_for(camera.sensor_name, value):
            return "the %s makes at most %s" % (
                camera.sensor_name or "sensor",
                framesize.sensor_max(camera.sensor_name),
            )
        if value == camera.frame_size:
            return ""
        missing = camera.psram_shortfall(value, self._largest_free_block())
        if missing:
            need = camera.framebuffers * framesize.buffer_bytes(value)
            return "%d frame buffer(s) of %s need %d KB of PSRAM, %d KB short" % (
                camera.framebuffers,
                value,
                need // 1024,
                (missing + 1023) // 1024,
            )
        return ""

    def _change(self, wanted, explicit, refused):
        """Make the camera, rate control and loop follow `wanted`; returns what the hub asked for that now holds."""
        live = self.live
        camera = self._camera
        ceiling = wanted["frameSize"] != live["frameSize"] or wanted["quality"] != live["quality"]
        held = wanted["adapt"] != "fps"  # "quality" and "off" hold the picture set
        if ceiling or (held and (camera.frame_size, camera.quality) != (wanted["frameSize"], wanted["quality"])):
            camera.set_quality(wanted["quality"])  # a register: it holds whether or not the resize below does
            try:
                if wanted["frameSize"] != camera.frame_size:
                    camera.resize(wanted["frameSize"])
            except Exception as exc:
                refused["frameSize"] = "reconfigure failed: %s: %s" % (type(exc).__name__, exc)
                explicit.pop("frameSize", None)
                wanted["frameSize"] = live["frameSize"]
        for key in KNOBS:
            if wanted[key] != live[key]:
                try:
                    camera.set_knob(KNOBS[key], wanted[key])
                except (ValueError, AttributeError) as exc:
                    refused[key] = "the sensor refused it: %s" % exc
                    explicit.pop(key, None)
                    wanted[key] = live[key]
        rate = self._rate
        rate.policy = wanted["adapt"]
        rate.target_fps = wanted["targetFps"]
        limits = ("frameSize", "quality", "minFrameSize", "maxQuality", "adapt", "targetFps")
        if ceiling or any(wanted[k] != live[k] for k in limits):
            rate.set_limits(wanted["frameSize"], wanted["quality"], wanted["minFrameSize"], wanted["maxQuality"])
        if wanted["targetFps"] != live["targetFps"] or wanted["heartbeatS"] != live["heartbeatS"]:
            self._streamer.retime(wanted["targetFps"], wanted["heartbeatS"])
        self.live = wanted
        return explicit
