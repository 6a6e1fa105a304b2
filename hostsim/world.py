"""The virtual board's one shared state: clock, faults, link, radio, watchdog, resets and run statistics.

Every fake CircuitPython module reaches it through `world.get()`; the runner creates it with `install()`.
"""

from __future__ import annotations

import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostsim.boards import BOARDS, BoardDef
from hostsim.faults import Fault, FaultSchedule
from hostsim.link import Link
from hostsim.settings import Settings

TICKS_PERIOD = 1 << 29
AXP313A_ADDRESS = 0x36
TICKS_AT_BOOT = 0x1FFF0000  # CircuitPython's offset: ticks_ms() first wraps 65.5 s after boot
MAX_SOCKETS = 8  # lwIP sockets available to CircuitPython on the ESP32-S3


class SoftReload(BaseException):
    """supervisor.reload(): stop code.py and run it again in a fresh VM."""


class BoardReset(BaseException):
    """A hard reset (microcontroller.reset() or the watchdog): everything restarts, WiFi included."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Config:
    circuitpy: Path
    board: str = "adafruit_esp32s3_camera"
    seconds: float | None = None
    sensor_fps: float = 30.0
    frames: Path | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    link_kbps: float | tuple[tuple[float, float], ...] | None = None  # a rate, or (seconds, KB/s) steps
    rtt_ms: float = 0.0
    psram: bool = True
    circuitpython: tuple[int, int] = (10, 2)  # whose os.getenv to follow (10.0/10.1 parse bare values)
    seed: int = 0
    mac: bytes = b"\x7c\xdf\xa1\x00\x00\x01"


@dataclass
class Stats:
    boots: list[str] = field(default_factory=list)
    reloads: int = 0
    frames: int = 0
    fb_overflows: int = 0
    reconfigures: int = 0
    camera_timeouts: int = 0
    bytes_sent: int = 0
    sockets_opened: int = 0


class World:
    def __init__(self, config: Config, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.started = clock()
        self.board: BoardDef = BOARDS[config.board]
        self.faults = FaultSchedule(config.faults)
        self.link = Link(config.link_kbps, config.rtt_ms, clock, self.started)
        self.settings = Settings(config.circuitpy / "settings.toml", config.overrides, config.circuitpython)
        self.rng = random.Random(config.seed)
        self.stats = Stats()
        self.lock = threading.RLock()
        self.nvm = bytearray(8192)  # survives resets, like flash
        # per boot
        self.boot_time = self.started
        self.reset_reason = "POWER_ON"
        self.run_reason = "STARTUP"
        self.previous_traceback: str | None = None
        # hardware that a reload or reset releases
        self.claimed: dict[int, str] = {}
        self.uncollected: list[list[int]] = []  # pins of half-built objects that only gc.collect() frees
        self.i2c_registers: dict[tuple[int, int], int] = {}  # (device address, register) -> last value written
        self.open_sockets: set[Any] = set()
        self.camera: Any = None
        self.board_i2c: Any = None
        self.watchdog_timeout = 0.0
        self.watchdog_mode: str | None = None  # "RESET" / "RAISE"
        self.watchdog_fed = self.started
        # radio
        self.wifi_enabled = True
        self.wifi_joined = False  # joined an AP this boot; CircuitPython rejoins by itself after outages
        self.wifi_ssid: str | None = None
        self.tx_power = 20.0
        self.power_management = "MIN"
        # interrupts of the main thread (see runner)
        self._pending: BaseException | None = None
        self._blocks_at_boot = sys.getallocatedblocks()
        self.ending = False

    # time
    def now(self) -> float:
        """Seconds since hostsim started: the time base of --fault and --seconds."""
        return self.clock() - self.started

    def uptime(self) -> float:
        return self.clock() - self.boot_time

    def ticks_ms(self) -> int:
        return (int(self.uptime() * 1000) + TICKS_AT_BOOT) % TICKS_PERIOD

    # faults and radio
    def fault(self, kind: str) -> Fault | None:
        return self.faults.active(kind, self.now())

    def access_point(self) -> tuple[str, str] | None:
        """The virtual AP's (ssid, password): CIRCUITPY_WIFI_* from settings; None accepts any network."""
        try:
            ssid = self.settings.getenv("CIRCUITPY_WIFI_SSID")
            password = self.settings.getenv("CIRCUITPY_WIFI_PASSWORD", "")
        except ValueError:
            return None  # CircuitPython 10.0/10.1 cannot read them either, and join nothing
        if not ssid:
            return None
        return str(ssid), str(password)

    def wifi_up(self) -> bool:
        return self.wifi_enabled and self.wifi_joined and self.fault("wifi") is None

    def rssi(self) -> int:
        """Around -55 dBm at full power, worse as tx_power drops (RSSI at the AP mirrors ours)."""
        loss = max(0.0, 20.0 - self.tx_power) * 1.5
        return int(round(-55 - loss + self.rng.uniform(-3, 3)))

    def heap(self) -> tuple[int, int]:
        """(mem_alloc, mem_free) of the CircuitPython heap, estimated from live CPython allocations."""
        total = 2_000_000 if self.config.psram else 160_000
        alloc = 24_000 + max(0, sys.getallocatedblocks() - self._blocks_at_boot) * 16
        alloc = min(alloc, total - 2_000)
        if self.fault("memory"):
            alloc = total - 1_500
        return alloc, total - alloc

    # pins
    def claim(self, gpio: int, role: str) -> None:
        with self.lock:
            if gpio in self.claimed:
                raise ValueError(f"{role} in use")
            self.claimed[gpio] = role

    def check_free(self, gpio: int, role: str) -> None:
        with self.lock:
            if gpio in self.claimed:
                raise ValueError(f"{role} in use")

    def release(self, gpio: int) -> None:
        with self.lock:
            self.claimed.pop(gpio, None)

    def leave_to_collector(self, gpios: list[int]) -> None:
        """A constructor failed after claiming `gpios`: they stay claimed until collect()."""
        with self.lock:
            self.uncollected.append(list(gpios))

    def collect(self) -> None:
        """gc.collect(): the finalisers of half-built objects release what they claimed."""
        with self.lock:
            for gpios in self.uncollected:
                for gpio in gpios:
                    self.claimed.pop(gpio, None)
            self.uncollected.clear()

    def camera_powered(self) -> bool:
        """Boards whose camera rails come from an AXP313A: on once its LDOs are enabled (register 0x10)."""
        if not self.board.axp313a:
            return True
        regs = self.i2c_registers
        enabled = regs.get((AXP313A_ADDRESS, 0x10), 0) & 0x18 == 0x18  # ALDO and DLDO on
        # The sensor answers with DVDD 1.1-1.6 V and AVDD/DOVDD 2.5-3.3 V (register value = (V - 0.5) * 10).
        dvdd, avdd = regs.get((AXP313A_ADDRESS, 0x16), 0), regs.get((AXP313A_ADDRESS, 0x17), 0)
        return enabled and 6 <= dvdd <= 11 and 20 <= avdd <= 28

    # watchdog
    def feed(self) -> None:
        self.watchdog_fed = self.clock()

    def watchdog_overdue(self) -> float | None:
        """Seconds since the last feed when the armed watchdog has expired, else None."""
        if self.watchdog_mode is None or self.watchdog_timeout <= 0:
            return None
        idle = self.clock() - self.watchdog_fed
        return idle if idle >= self.watchdog_timeout else None

    # interrupting code.py (main thread only runs Python signal handlers)
    def interrupt(self, exc: BaseException | None) -> None:
        """Raise `exc` in code.py's thread at once (None: KeyboardInterrupt), even inside sleep or recv."""
        self._pending = exc
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    def pop_interrupt(self) -> BaseException | None:
        exc, self._pending = self._pending, None
        return exc

    # resets
    def release_hardware(self) -> None:
        """What every reload or reset does: close sockets, free the camera and pins, stop the watchdog."""
        for sock in list(self.open_sockets):
            sock.close()
        if self.camera is not None:
            self.camera.deinit()
        if self.board_i2c is not None:
            self.board_i2c.deinit()
        self.board_i2c = None
        self.claimed.clear()
        self.uncollected.clear()
        self.watchdog_mode = None
        self.watchdog_timeout = 0.0

    def boot(self, reason: str) -> None:
        """A power-on or hard reset: new clock, WiFi rejoined from settings like CircuitPython does."""
        self.boot_time = self.clock()
        self.reset_reason = reason
        self.run_reason = "STARTUP"
        self.stats.boots.append(reason)
        self.wifi_enabled = True
        self.wifi_joined = False
        self.wifi_ssid = None
        self.tx_power = 20.0
        self.power_management = "MIN"
        self._blocks_at_boot = sys.getallocatedblocks()
        ap = self.access_point()
        if ap is not None and self.fault("wifi") is None and joinable(*ap):
            self.wifi_joined, self.wifi_ssid = True, ap[0]

    def summary(self, state: str) -> str:
        s = self.stats
        elapsed = self.now()
        rate = s.bytes_sent / elapsed / 1e6 if elapsed > 0 else 0.0
        resets = ", ".join(f"{r}" for r in s.boots[1:]) or "none"
        return (
            f"[hostsim] end after {elapsed:.1f} s: boots={len(s.boots)} (resets: {resets}) reloads={s.reloads}"
            f" frames={s.frames} fb_overflows={s.fb_overflows} reconfigures={s.reconfigures}"
            f" camera_timeouts={s.camera_timeouts}"
            f" sockets={s.sockets_opened} sent={s.bytes_sent / 1e6:.2f}MB ({rate:.3f} MB/s) code.py={state}"
        )


def joinable(ssid: str, password: str) -> bool:
    """Credentials CircuitPython's join at boot can use: SSID 1..32 bytes, no password or 8..64 bytes."""
    return 1 <= len(ssid.encode()) <= 32 and (not password or 8 <= len(password.encode()) <= 64)


_world: World | None = None


def install(world: World | None) -> None:
    global _world
    _world = world


def get() -> World:
    if _world is None:
        raise RuntimeError("hostsim's world is not set up: run code.py with `python -m hostsim`")
    return _world


def sleep_until(deadline: float) -> None:
    """Sleep in the world's clock until `deadline` (interruptible: resets and Ctrl-C land here)."""
    world = get()
    while True:
        left = deadline - world.clock()
        if left <= 0:
            return
        time.sleep(min(left, 0.05))
