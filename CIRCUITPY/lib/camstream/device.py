"""The edge: the only module that imports CircuitPython's hardware modules. It wires the firmware.

Everything else in camstream gets its I/O from here, so it runs off the board with fakes.
"""

import gc
import os
import time

import adafruit_connection_manager
import adafruit_requests
import board
import busio
import espcamera
import espidf
import microcontroller
import socketpool
import supervisor
import watchdog
import wifi

from camstream import __version__, settings
from camstream.budget import CONTROL_TIMEOUT_S, REQUEST_TIMEOUT_S
from camstream.camera import Camera
from camstream.control import Control
from camstream.errors import LinkDown
from camstream.streamer import Streamer
from camstream.uplink import FrameUplink
from camstream.wifilink import WifiLink

XCLK_HZ = 20_000_000  # OV5640 runs cooler at 20 MHz than 24 MHz, at the same JPEG rate

# Kept across rebuilds by code.py: one socket pool per radio, one I2C bus per pin pair.
_shared = {}  # type: dict


def _has_psram():
    return espidf.get_total_psram() > 0


def read_settings():
    """settings.toml, validated (raises settings.SettingsError), with the camera pins and CA certificate read."""
    cfg = settings.load(os.getenv, wifi.radio.mac_address)
    cfg.pins = settings.camera_pins(cfg, board.board_id)
    if cfg.ca_file is not None:
        try:
            with open(cfg.ca_file) as f:
                cfg.ca_data = f.read()
        except OSError as exc:
            raise settings.SettingsError(
                "CAMSTREAM_CA_FILE", cfg.ca_file, 'a PEM file on the CIRCUITPY drive, e.g. "hub-cert.pem"', str(exc)
            )
    return cfg


def _pin(ref):
    if isinstance(ref, str):
        return getattr(board, ref)
    return getattr(microcontroller.pin, "GPIO%d" % ref)


def _optional_pin(ref):
    return None if ref is None else _pin(ref)


def _i2c(spec):
    key = ("i2c", spec.i2c)
    if key not in _shared:
        if spec.i2c is None:
            _shared[key] = board.I2C()
        else:
            _shared[key] = busio.I2C(_pin(spec.i2c[0]), _pin(spec.i2c[1]))
    return _shared[key]


def _power_camera(spec, i2c):
    """Turn on camera rails that a power chip supplies (espcamera does not)."""
    if spec.power != "axp313a":
        return
    import AXP313A  # frozen into CircuitPython on the boards that have this chip

    # DFRobot's own camera code powers the rails so before every init: DVDD 1.2 V, AVDD/DOVDD 2.8 V,
    # the voltages of the 24-pin ESP32 camera connector.
    if not AXP313A.enable_camera(AXP313A.AXP313A(i2c), AXP313A.camera_voltages.OV2640):
        raise OSError("the AXP313A power chip does not answer at I2C address 0x36")


def _frame_size(name):
    return getattr(espcamera.FrameSize, name)


def _camera_opener(spec):
    def open_camera(frame_size, jpeg_quality, framebuffer_count, grab_mode):
        data = list(_pin(spec.data)) if isinstance(spec.data, str) else [_pin(n) for n in spec.data]
        i2c = _i2c(spec)
        _power_camera(spec, i2c)
        return espcamera.Camera(
            data_pins=data,
            pixel_clock_pin=_pin(spec.pclk),
            vsync_pin=_pin(spec.vsync),
            href_pin=_pin(spec.href),
            i2c=i2c,
            external_clock_pin=_pin(spec.xclk),
            external_clock_frequency=XCLK_HZ,
            powerdown_pin=_optional_pin(spec.pwdn),
            reset_pin=_optional_pin(spec.reset),
            pixel_format=espcamera.PixelFormat.JPEG,
            frame_size=_frame_size(frame_size),
            jpeg_quality=jpeg_quality,
            framebuffer_count=framebuffer_count,
            grab_mode=getattr(espcamera.GrabMode, grab_mode),
        )

    return open_camera


class System:
    """Facts about the board for heartbeats and the stats block."""

    def free_heap(self):
        return gc.mem_free()

    def free_psram(self):
        return espidf.heap_caps_get_free_size()

    def largest_free_block(self):
        """What one frame buffer may take (PSRAM on camera boards)."""
        return espidf.heap_caps_get_largest_free_block()

    def cpu_mhz(self):
        return microcontroller.cpu.frequency // 1_000_000

    def cpu_temperature(self):
        value = microcontroller.cpu.temperature
        return None if value is None else round(value, 1)

    def reset_reason(self):
        return str(microcontroller.cpu.reset_reason).split(".")[-1]

    def uptime_ms(self):
        return time.monotonic_ns() // 1_000_000

    def collect(self):
        gc.collect()


class Watchdog:
    """microcontroller.watchdog in RESET mode: a hung loop reboots the board."""

    def __init__(self, timeout_s):
        self._timeout_s = timeout_s
        dog = microcontroller.watchdog
        if dog is None:
            raise RuntimeError("this board has no watchdog: set CAMSTREAM_WATCHDOG_S = 0")
        self._dog = dog

    def start(self):
        self._dog.timeout = self._timeout_s
        self._dog.mode = watchdog.WatchDogMode.RESET

    def feed(self):
        self._dog.feed()

    def stop(self):
        self._dog.mode = None  # the watchdog has no deinit()


def _network(cfg):
    if "pool" not in _shared:
        _shared["pool"] = socketpool.SocketPool(wifi.radio)
        _shared["ssl"] = None
        if cfg.server.is_ssl:
            import ssl

            context = ssl.create_default_context()
            if cfg.ca_data is not None:
                context.load_verify_locations(cadata=cfg.ca_data)  # trust the hub's own certificate
            _shared["ssl"] = context
    return _shared["pool"], _shared["ssl"]


def build(cfg):
    """A ready Streamer: WiFi first (brownouts), then the camera. Raises CameraInitError."""
    print(
        "CamStream %s on %s: %s -> %s, %s q%d x%d buffer(s), %d fps target, adapt %s, %s upload"
        % (
            __version__,
            board.board_id,
            cfg.device_id,
            cfg.server,
            cfg.frame_size,
            cfg.jpeg_quality,
            cfg.framebuffers,
            cfg.target_fps,
            cfg.adapt,
            cfg.upload,
        )
    )
    pool, ssl_context = _network(cfg)
    session = adafruit_requests.Session(pool, ssl_context)  # registers the pool with adafruit_connection_manager
    # The frame socket gets a manager of its own: sharing adafruit_requests' one lets a failed connect
    # of either retry after closing the other's socket, doubling the time one request can block.
    uplink = FrameUplink(
        adafruit_connection_manager.ConnectionManager(pool),
        cfg.server,
        cfg.api_key,
        cfg.device_id,
        cfg.upload,
        ssl_context,
        REQUEST_TIMEOUT_S,
        supervisor.ticks_ms,
    )

    def close_control_sockets():
        adafruit_connection_manager.connection_manager_close_all(pool)

    def close_sockets():
        close_control_sockets()
        uplink.close()

    power = getattr(wifi, "PowerManagement", None)  # CircuitPython 10+
    link = WifiLink(wifi.radio, cfg.wifi_ssid, cfg.wifi_password, close_sockets, power and power.NONE)
    try:
        link.ensure()
        link.tune()
    except LinkDown as exc:
        print("WiFi: %s; the loop keeps trying" % exc)
    camera = Camera(
        _camera_opener(cfg.pins),
        cfg.frame_size,
        cfg.jpeg_quality,
        cfg.framebuffers,
        _has_psram(),
        time.sleep,
        gc.collect,
        _frame_size,
    )
    camera.open()
    control = Control(session, cfg.server, cfg.api_key, cfg.device_id, close_control_sockets, CONTROL_TIMEOUT_S)
    dog = Watchdog(cfg.watchdog_s) if cfg.watchdog_s else None
    return Streamer(cfg, camera, uplink, control, link, System(), supervisor.ticks_ms, time.sleep, dog)
