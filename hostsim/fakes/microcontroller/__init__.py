"""CircuitPython `microcontroller` of an ESP32-S3 at 240 MHz."""

from __future__ import annotations

import time as _time
from typing import ClassVar

from watchdog import WatchDogTimer as _WatchDogTimer

from hostsim import world as _world
from hostsim.cpenum import CPEnum


class Pin:
    """A GPIO; the only instances are those in `microcontroller.pin` (and their `board` names)."""

    def __init__(self, gpio: int) -> None:
        self._gpio = gpio

    def __repr__(self) -> str:
        for name, gpio in _world.get().board.pins.items():
            if gpio == self._gpio:
                return f"board.{name}"
        return f"microcontroller.pin.GPIO{self._gpio}"


class ResetReason(CPEnum):
    POWER_ON: ClassVar[ResetReason]
    BROWNOUT: ClassVar[ResetReason]
    SOFTWARE: ClassVar[ResetReason]
    DEEP_SLEEP_ALARM: ClassVar[ResetReason]
    RESET_PIN: ClassVar[ResetReason]
    WATCHDOG: ClassVar[ResetReason]
    UNKNOWN: ClassVar[ResetReason]
    RESCUE_DEBUG: ClassVar[ResetReason]


class RunMode(CPEnum):
    NORMAL: ClassVar[RunMode]
    SAFE_MODE: ClassVar[RunMode]
    UF2: ClassVar[RunMode]
    BOOTLOADER: ClassVar[RunMode]


class Processor:
    @property
    def frequency(self) -> int:
        return 240_000_000

    @property
    def temperature(self) -> float:
        """The die warms up over the first minutes after boot."""
        world = _world.get()
        return round(38.0 + 8.0 * min(1.0, world.uptime() / 300.0) + world.rng.uniform(-0.5, 0.5), 1)

    @property
    def voltage(self) -> None:
        return None

    @property
    def reset_reason(self) -> ResetReason:
        return ResetReason.named(_world.get().reset_reason)

    @property
    def uid(self) -> bytearray:
        return bytearray(_world.get().config.mac)


cpu = Processor()
watchdog = _WatchDogTimer()
nvm = _world.get().nvm


def reset() -> None:
    """Hard reset: code.py stops at once and the board boots again (reset_reason SOFTWARE)."""
    raise _world.BoardReset("SOFTWARE")


def on_next_reset(run_mode: RunMode) -> None:
    if not isinstance(run_mode, RunMode):
        raise TypeError("run_mode must be RunMode")


def delay_us(delay: int) -> None:
    _time.sleep(delay / 1_000_000)


def disable_interrupts() -> None:
    pass


def enable_interrupts() -> None:
    pass


from microcontroller import pin as pin  # noqa: E402  (needs Pin defined above)
