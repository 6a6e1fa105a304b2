"""CircuitPython `espcamera` driving a virtual OV5640 (JPEG only).

take() hands out a read-only 'b' memoryview into the frame buffer itself; the buffer is given back to the
"DMA" by the next take(), reconfigure() or deinit(), which overwrite it. Like common-hal/espcamera/Camera.c,
a Camera() that fails after claiming its pins keeps them until the half-built object is collected
(gc.collect()), so a retry before that fails with "... in use". CircuitPython builds espcamera only for
boards with PSRAM: with --no-psram this module does not exist.
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterable
from typing import Any, ClassVar

import busio as _busio
import espidf as _espidf
from microcontroller import Pin as _Pin

from hostsim import world as _world
from hostsim.cpenum import CPEnum
from hostsim.frames import JpegFolder as _JpegFolder
from hostsim.frames import Look as _Look
from hostsim.frames import TestPattern as _TestPattern
from hostsim.sensor import Sensor as _Sensor

if not _world.get().config.psram:
    raise ImportError("no module named 'espcamera'")


class GrabMode(CPEnum):
    WHEN_EMPTY: ClassVar[GrabMode]
    LATEST: ClassVar[GrabMode]


class PixelFormat(CPEnum):
    RGB565: ClassVar[PixelFormat]
    GRAYSCALE: ClassVar[PixelFormat]
    JPEG: ClassVar[PixelFormat]


class GainCeiling(CPEnum):
    GAIN_2X: ClassVar[GainCeiling]
    GAIN_4X: ClassVar[GainCeiling]
    GAIN_8X: ClassVar[GainCeiling]
    GAIN_16X: ClassVar[GainCeiling]
    GAIN_32X: ClassVar[GainCeiling]
    GAIN_64X: ClassVar[GainCeiling]
    GAIN_128X: ClassVar[GainCeiling]


class FrameSize(CPEnum):
    _values: ClassVar[dict[str, Any]] = {
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
    R96X96: ClassVar[FrameSize]
    QQVGA: ClassVar[FrameSize]
    QCIF: ClassVar[FrameSize]
    HQVGA: ClassVar[FrameSize]
    R240X240: ClassVar[FrameSize]
    QVGA: ClassVar[FrameSize]
    CIF: ClassVar[FrameSize]
    HVGA: ClassVar[FrameSize]
    VGA: ClassVar[FrameSize]
    SVGA: ClassVar[FrameSize]
    XGA: ClassVar[FrameSize]
    HD: ClassVar[FrameSize]
    SXGA: ClassVar[FrameSize]
    UXGA: ClassVar[FrameSize]
    FHD: ClassVar[FrameSize]
    P_HD: ClassVar[FrameSize]
    P_3MP: ClassVar[FrameSize]
    QXGA: ClassVar[FrameSize]
    QHD: ClassVar[FrameSize]
    WQXGA: ClassVar[FrameSize]
    P_FHD: ClassVar[FrameSize]
    QSXGA: ClassVar[FrameSize]

    @property
    def size(self) -> tuple[int, int]:
        width, height = self.value
        return int(width), int(height)


_NOT_FOUND = "Requested resource not found"  # ESP_ERR_NOT_FOUND: the sensor did not answer the probe


class _Setting:
    """A sensor register exposed as a property with the OV5640 driver's range (esp32-camera sensors/ov5640.c).

    Like common-hal/espcamera/Camera.c, a value the sensor's setter refuses raises ValueError("invalid setting");
    `low`/`high` None: the setter takes any value (OV5640 brightness writes 0 for levels outside -3..3).
    Knobs that change the picture re-configure the virtual sensor.
    """

    def __init__(self, low: int | None, high: int | None, default: int | bool, look: bool = False) -> None:
        self.low, self.high, self.default, self.look = low, high, default, look

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, camera, owner=None):  # type: ignore[no-untyped-def]
        if camera is None:
            return self
        camera._check()
        return camera._settings.get(self.name, self.default)

    def __set__(self, camera, value) -> None:  # type: ignore[no-untyped-def]
        camera._check()
        if isinstance(self.default, bool):
            value = bool(value)
        else:
            value = int(value)
            if self.low is not None and self.high is not None and not (self.low <= value <= self.high):
                raise ValueError("invalid setting")
        camera._settings[self.name] = value
        if self.look:
            camera._configure_sensor()


def _flag(default: bool = False, look: bool = False) -> _Setting:
    return _Setting(0, 1, default, look)


class Camera:
    def __init__(
        self,
        *,
        data_pins: Iterable[_Pin],
        pixel_clock_pin: _Pin,
        vsync_pin: _Pin,
        href_pin: _Pin,
        i2c: _busio.I2C,
        external_clock_pin: _Pin | None = None,
        external_clock_frequency: int = 20_000_000,
        powerdown_pin: _Pin | None = None,
        reset_pin: _Pin | None = None,
        pixel_format: PixelFormat = PixelFormat.RGB565,
        frame_size: FrameSize = FrameSize.QQVGA,
        jpeg_quality: int = 15,
        framebuffer_count: int = 1,
        grab_mode: GrabMode = GrabMode.WHEN_EMPTY,
    ) -> None:
        world = _world.get()
        data_pins = tuple(data_pins)
        if len(data_pins) != 8:
            raise ValueError("data_pins length must be 8")
        named = [("pixel_clock_pin", pixel_clock_pin), ("vsync_pin", vsync_pin), ("href_pin", href_pin)]
        named += [(f"data_pins[{i}]", p) for i, p in enumerate(data_pins)]
        named += [
            (n, p)
            for n, p in (
                ("external_clock_pin", external_clock_pin),
                ("powerdown_pin", powerdown_pin),
                ("reset_pin", reset_pin),
            )
            if p is not None
        ]
        for name, pin in named:
            if not isinstance(pin, _Pin):
                raise TypeError(f"{name} must be of type Pin, not {type(pin).__name__}")
        if not isinstance(i2c, _busio.I2C):
            raise TypeError(f"i2c must be of type I2C, not {type(i2c).__name__}")
        _check_type("pixel_format", pixel_format, PixelFormat)
        _check_type("frame_size", frame_size, FrameSize)
        _check_type("grab_mode", grab_mode, GrabMode)
        if not 2 <= jpeg_quality <= 55:
            raise ValueError("jpeg_quality must be 2-55")
        if not 1 <= framebuffer_count <= 2:
            raise ValueError("framebuffer_count must be 1-2")
        if pixel_format is not PixelFormat.JPEG:
            raise NotImplementedError(
                "hostsim's camera produces JPEG only: pass pixel_format=espcamera.PixelFormat.JPEG"
            )
        for name, pin in named:
            world.check_free(pin._gpio, name)  # shared-bindings validates every pin before construct claims any
        claimed = [pin._gpio for _, pin in named]
        for gpio, (name, _) in zip(claimed, named, strict=True):
            world.claim(gpio, name)
        try:
            if world.camera is not None:
                raise _espidf.IDFError("Invalid state")  # esp_camera_init() twice
            board = world.board
            wiring = (
                tuple(p._gpio for p in data_pins),
                pixel_clock_pin._gpio,
                vsync_pin._gpio,
                href_pin._gpio,
                None if external_clock_pin is None else external_clock_pin._gpio,
                i2c.sda_gpio,
                i2c.scl_gpio,
            )
            if (
                wiring
                != (board.data, board.pclk, board.vsync, board.href, board.xclk, board.camera_sda, board.camera_scl)
                or not world.camera_powered()
            ):
                raise _espidf.IDFError(_NOT_FOUND)
            self._pins = claimed
            self._settings: dict[str, int | bool] = {"quality": jpeg_quality}
            self._deinited = False
            self._allocate(frame_size, framebuffer_count)
        except BaseException:
            world.leave_to_collector(claimed)  # only the finaliser of the half-built object frees them
            raise
        self._frame_size: FrameSize = frame_size
        self._grab_mode: GrabMode = grab_mode
        source: _JpegFolder | _TestPattern
        if world.config.frames is not None:
            source = _JpegFolder(world.config.frames)
        else:
            source = _TestPattern(world.config.board)
        self._sensor = _Sensor(source, world.config.sensor_fps, world.clock)
        self._configure_sensor()
        self._sensor.start()
        world.camera = self

    # buffers
    def _allocate(self, frame_size: FrameSize, count: int) -> None:
        width, height = frame_size.size
        size = width * height // 5
        if not _world.get().config.psram and count > 1:
            raise _espidf.MemoryError("Out of memory: more than one frame buffer needs PSRAM")
        free = _espidf.heap_caps_get_largest_free_block()  # the buffers being replaced are free already
        if count * size > free:
            raise _espidf.MemoryError(
                f"Out of memory: {frame_size!r} needs {count} x {size} byte frame buffers, {free} bytes free"
            )
        self._buffers = [bytearray(size) for _ in range(count)]
        self._used = [0] * count
        now = _world.get().clock()
        self._freed_at = [now] * count
        self._held: int | None = None
        self._last_index = -1

    def allocated_bytes(self) -> int:
        return 0 if self._deinited or not hasattr(self, "_buffers") else sum(len(b) for b in self._buffers)

    def _give_back(self) -> None:
        """The held buffer returns to the driver, which starts overwriting it with the next frame."""
        if self._held is None:
            return
        slot = self._held
        self._buffers[slot][: self._used[slot]] = bytes(self._used[slot])
        self._used[slot] = 0
        self._freed_at[slot] = _world.get().clock()
        self._held = None

    def _configure_sensor(self) -> None:
        width, height = self._frame_size.size
        get = self._settings.get
        look = _Look(
            vflip=bool(get("vflip", False)),
            hmirror=bool(get("hmirror", False)),
            brightness=int(get("brightness", 0)),
            contrast=int(get("contrast", 0)),
            saturation=int(get("saturation", 0)),
            ae_level=int(get("ae_level", 0)),
            special_effect=int(get("special_effect", 0)),
        )
        self._sensor.configure(width, height, int(self._settings["quality"]), look)

    def _check(self) -> None:
        if self._deinited:
            raise ValueError("Object has been deinitialized and can no longer be used. Create a new object.")

    # frames
    def _next_frame(self, now: float) -> tuple[int, int]:
        """(slot, frame index) the next take() returns, from the buffer model.

        LATEST with two buffers: the sensor kept overwriting the buffer code.py was not holding, so it holds
        the newest complete frame. Otherwise a buffer receives the first frame that starts after it came back.
        """
        free = [s for s in range(len(self._buffers)) if s != self._held]
        slot = min(free, key=lambda s: self._freed_at[s])
        if self._grab_mode is GrabMode.LATEST and len(self._buffers) > 1:
            return slot, max(self._sensor.index_at(now) - 1, self._last_index + 1)
        return slot, max(self._sensor.first_starting_at(self._freed_at[slot]), self._last_index + 1)

    def take(self, timeout=0.25):  # type: ignore[no-untyped-def]
        """A read-only memoryview('b') of the next JPEG, or None on timeout / frame-buffer overflow."""
        self._check()
        timeout = 0.25 if timeout is None else float(timeout)
        if timeout < 0:
            raise ValueError("timeout must be >= 0")
        world = _world.get()
        self._sensor.note_demand()
        hang = world.faults.take_hang(world.now())
        if hang is not None:
            print(f"[hostsim] fault {hang}: camera.take() frozen; only the watchdog can recover", flush=True)
            while True:
                _time.sleep(0.05)
        self._give_back()
        deadline = world.clock() + timeout
        if world.fault("camera") is not None:
            _world.sleep_until(deadline)
            world.stats.camera_timeouts += 1
            return None
        slot, index = self._next_frame(world.clock())
        while True:
            if self._sensor.ready_at(index) > deadline:
                _world.sleep_until(deadline)
                world.stats.camera_timeouts += 1
                return None
            _world.sleep_until(self._sensor.ready_at(index))
            jpeg = self._sensor.jpeg(index)
            if len(jpeg) <= len(self._buffers[slot]):
                break
            world.stats.fb_overflows += 1  # FB-OVF: the driver drops it and waits for the next frame
            index += 1
        buffer = self._buffers[slot]
        buffer[: len(jpeg)] = jpeg
        self._used[slot] = len(jpeg)
        self._held, self._last_index = slot, index
        world.stats.frames += 1
        return memoryview(buffer)[: len(jpeg)].toreadonly().cast("b")

    @property
    def frame_available(self) -> bool:
        self._check()
        world = _world.get()
        _, index = self._next_frame(world.clock())
        return self._sensor.ready_at(index) <= world.clock()

    def reconfigure(self, frame_size=None, pixel_format=None, grab_mode=None, framebuffer_count=None) -> None:  # type: ignore[no-untyped-def]
        self._check()
        frame_size = self._frame_size if frame_size is None else frame_size
        grab_mode = self._grab_mode if grab_mode is None else grab_mode
        count = len(self._buffers) if framebuffer_count is None else framebuffer_count
        _check_type("frame_size", frame_size, FrameSize)
        _check_type("grab_mode", grab_mode, GrabMode)
        if pixel_format is not None:
            _check_type("pixel_format", pixel_format, PixelFormat)
            if pixel_format is not PixelFormat.JPEG:
                raise NotImplementedError("hostsim's camera produces JPEG only")
        if not 1 <= count <= 2:
            raise ValueError("framebuffer_count must be 1-2")
        self._give_back()
        world = _world.get()
        world.stats.reconfigures += 1
        held = self._buffers
        self._buffers = []
        try:
            # On a board, cam_config() fails here, frees the driver and CircuitPython ignores the error (the
            # next take() then uses the freed driver): the firmware must check PSRAM before it asks.
            self._allocate(frame_size, count)
        except BaseException:
            self._buffers = held
            raise
        self._frame_size, self._grab_mode = frame_size, grab_mode
        self._configure_sensor()
        _time.sleep(0.05)  # the driver re-initialises the sensor

    def deinit(self) -> None:
        if self._deinited:
            return
        self._give_back()
        self._sensor.stop()
        world = _world.get()
        for gpio in self._pins:
            world.release(gpio)
        self._deinited = True
        self._buffers = []
        if world.camera is self:
            world.camera = None

    def __enter__(self) -> Camera:
        return self

    def __exit__(self, *args: object) -> None:
        self.deinit()

    # properties
    @property
    def quality(self) -> int:
        self._check()
        return int(self._settings["quality"])

    @quality.setter
    def quality(self, value: int) -> None:
        """No range check at run time (only the constructor checks 2-55): the OV5640 writes `value & 0x3F`."""
        self._check()
        self._settings["quality"] = int(value)
        self._configure_sensor()

    @property
    def frame_size(self) -> FrameSize:
        self._check()
        return self._frame_size

    @property
    def pixel_format(self) -> PixelFormat:
        self._check()
        return PixelFormat.JPEG

    @property
    def grab_mode(self) -> GrabMode:
        self._check()
        return self._grab_mode

    @property
    def framebuffer_count(self) -> int:
        self._check()
        return len(self._buffers)

    @property
    def width(self) -> int:
        self._check()
        return self._frame_size.size[0]

    @property
    def height(self) -> int:
        self._check()
        return self._frame_size.size[1]

    @property
    def max_frame_size(self) -> FrameSize:
        return FrameSize.QSXGA

    sensor_name = "OV5640"
    supports_jpeg = True
    address = 0x3C

    contrast = _Setting(-3, 3, 0, look=True)
    brightness = _Setting(None, None, 0, look=True)
    saturation = _Setting(-4, 4, 0, look=True)
    sharpness = _Setting(-3, 3, 0)
    denoise = _Setting(0, 8, 0)
    ae_level = _Setting(-5, 5, 0, look=True)
    agc_gain = _Setting(0, 30, 0)
    aec_value = _Setting(0, 1200, 300)
    special_effect = _Setting(0, 6, 0, look=True)
    wb_mode = _Setting(0, 4, 0)
    colorbar = _flag()
    whitebal = _flag(True)
    gain_ctrl = _flag(True)
    exposure_ctrl = _flag(True)
    hmirror = _flag(look=True)
    vflip = _flag(look=True)
    aec2 = _flag()
    awb_gain = _flag(True)
    dcw = _flag(True)
    bpc = _flag()
    wpc = _flag(True)
    raw_gma = _flag(True)
    lenc = _flag(True)


def _check_type(name: str, value: object, kind: type) -> None:
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be of type {kind.__name__}, not {type(value).__name__}")
