"""The camera: opens espcamera with the configured profile, explains init failures, keeps frames coming.

The hardware constructor is injected (`open_camera(**kwargs)` -> an espcamera.Camera), so this runs
with a fake camera off the board. So is `collect` (gc.collect): a failed espcamera.Camera() keeps its
pins and XCLK claimed until the half-built object is collected, and a retry before that fails with
"... in use" instead of the real cause.
"""

from camstream import framesize
from camstream.errors import CameraInitError, CameraTimeout

EMPTY_STEP_AFTER = 3  # consecutive empty take()s before trading quality for smaller frames
QUALITY_STEP = 2
QUALITY_CEILING = 40  # past this the picture is poor and the cause is not buffer overflow
REOPEN_AFTER = 30  # consecutive empty take()s before the camera is re-initialised
TAKE_TIMEOUT_S = 0.5
INIT_RETRIES = 3
INIT_RETRY_DELAY_S = 1.0
DMA_OVERHEAD = 16384  # per frame buffer on top of width * height / 5: a DMA half-buffer and alignment (cam_hal.c)


def grab_mode(framebuffers):
    """Two buffers: LATEST (the sensor fills one while the other is sent; no stale frames)."""
    return "LATEST" if framebuffers >= 2 else "WHEN_EMPTY"


def explain_init_error(exc, has_psram, frame_size, framebuffers):
    """A one-line likely cause for a failed espcamera.Camera()."""
    text = str(exc)
    low = text.lower()
    if not has_psram:
        return "this board has no PSRAM; espcamera needs an ESP32-S3 with PSRAM (%s)" % text
    if "axp313a" in low:
        return "the camera's power chip did not answer, so the camera stays unpowered (%s)" % text
    if isinstance(exc, MemoryError) or "no_mem" in low or "memory" in low:
        return (
            "not enough PSRAM for %d frame buffer(s) at %s: lower CAMSTREAM_FRAME_SIZE or CAMSTREAM_FRAMEBUFFERS (%s)"
            % (
                framebuffers,
                frame_size,
                text,
            )
        )
    if "pull up" in low or "pull-up" in low:
        return "no pull-up on the camera I2C lines: the camera is unpowered or its ribbon cable is loose (%s)" % text
    if "in use" in low or "pin" in low:
        return "pin conflict or wrong pin map: check CAMSTREAM_BOARD / CAMSTREAM_PINS (%s)" % text
    if "not found" in low or "not detected" in low or "0x20001" in low or "0x105" in low or "timeout" in low:
        return (
            "camera sensor not detected: check the ribbon cable (seated, contacts"
            " the right way), the camera's power, and the pin map (%s)" % text
        )
    return "camera init failed: check pins, power and the ribbon cable (%s: %s)" % (type(exc).__name__, text)


def _same(name):
    return name


class Camera:
    """Owns the one espcamera.Camera; `take()` returns take()'s memoryview or raises CameraTimeout.

    Frame size and quality change at run time (`resize()`, `set_quality()`), and so do the sensor's knobs
    (`set_knob()`): they are kept here and applied again whenever the camera is opened again. `size_of` maps a
    frame size name to the espcamera.FrameSize that reconfigure() takes.
    """

    def __init__(self, open_camera, frame_size, quality, framebuffers, has_psram, sleep, collect, size_of=None):
        self._open_camera = open_camera
        self._collect = collect
        self._size_of = size_of or _same
        self.knobs = {}
        self.reconfigures = 0
        self.frame_size = frame_size
        self.quality = quality
        self.framebuffers = framebuffers
        self._has_psram = has_psram
        self._sleep = sleep
        self._cam = None
        self.empty_streak = 0
        self.reopens = 0
        self.sensor_name = ""

    def open(self):
        """Start the camera, retrying; returns it or raises CameraInitError with the first attempt's cause.

        Every attempt starts with a collection, so no half-built camera of an earlier attempt (or of an
        earlier run of code.py) still holds the pins.
        """
        first = ""
        for attempt in range(1, INIT_RETRIES + 1):
            self._collect()
            try:
                cam = self._open_camera(
                    frame_size=self.frame_size,
                    jpeg_quality=self.quality,
                    framebuffer_count=self.framebuffers,
                    grab_mode=grab_mode(self.framebuffers),
                )
            except Exception as exc:
                cause = explain_init_error(exc, self._has_psram, self.frame_size, self.framebuffers)
                first = first or cause
                print("Camera: init attempt %d/%d failed: %s" % (attempt, INIT_RETRIES, cause))
                if attempt < INIT_RETRIES:
                    self._sleep(INIT_RETRY_DELAY_S)
                continue
            self._cam = cam
            self.sensor_name = getattr(cam, "sensor_name", "") or ""
            self._apply_knobs(cam)
            print(
                "Camera: %s ready, %s, quality %d, %d buffer(s), grab %s"
                % (
                    self.sensor_name or "sensor",
                    self.frame_size,
                    self.quality,
                    self.framebuffers,
                    grab_mode(self.framebuffers),
                )
            )
            return cam
        raise CameraInitError(first)

    def take(self):
        """The next JPEG frame (valid until the next take/close)."""
        cam = self._cam
        if cam is None:
            cam = self.open()
        frame = cam.take(TAKE_TIMEOUT_S)
        if frame is not None and len(frame):
            self.empty_streak = 0
            return frame
        self.empty_streak += 1
        streak = self.empty_streak
        if streak % EMPTY_STEP_AFTER == 0 and self.quality < QUALITY_CEILING:
            old = self.quality
            self.quality = min(old + QUALITY_STEP, QUALITY_CEILING)
            cam.quality = self.quality
            print(
                "Camera: %d empty frames in a row; JPEG quality number %d -> %d (smaller frames fit the buffer)"
                % (streak, old, self.quality)
            )
        if streak >= REOPEN_AFTER:
            print("Camera: %d empty frames in a row; re-initialising the camera" % streak)
            self.empty_streak = 0
            self.reopens += 1
            self.close()
        raise CameraTimeout("no frame within %.2f s (%d in a row)" % (TAKE_TIMEOUT_S, streak))

    def set_quality(self, quality):
        """JPEG quality number at once: a sensor register, no buffer is touched."""
        if self._cam is not None:
            self._cam.quality = quality
        self.quality = quality

    def resize(self, frame_size):
        """reconfigure() to another frame size: it frees and re-allocates the frame buffers, so call it rarely.

        A reconfigure() that raises may leave the driver half set up: the camera is then closed, and the next
        take() opens it again at the frame size it had.
        """
        cam = self._cam
        if cam is not None:
            try:
                cam.reconfigure(frame_size=self._size_of(frame_size))
            except Exception:
                self.close()
                raise
            self.reconfigures += 1
            cam.quality = self.quality
            self._apply_knobs(cam)
        self.frame_size = frame_size
        self.empty_streak = 0

    def set_knob(self, name, value):
        """A sensor setting (vflip, brightness, ...); the sensor raises ValueError for one it refuses."""
        if self._cam is not None:
            setattr(self._cam, name, value)
        self.knobs[name] = value

    def psram_shortfall(self, frame_size, largest_free_block):
        """Bytes of PSRAM missing for `frame_size`'s buffers once the current ones are freed (0: they fit)."""
        need = self.framebuffers * (framesize.buffer_bytes(frame_size) + DMA_OVERHEAD)
        have = largest_free_block
        if self._cam is not None:
            have += self.framebuffers * (framesize.buffer_bytes(self.frame_size) + DMA_OVERHEAD)
        return need - have if need > have else 0

    def _apply_knobs(self, cam):
        for name in self.knobs:
            setattr(cam, name, self.knobs[name])

    def close(self):
        cam = self._cam
        self._cam = None
        if cam is not None:
            cam.deinit()
