"""CircuitPython `watchdog`; the one timer is `microcontroller.watchdog`, checked by hostsim's monitor thread."""

from __future__ import annotations

from typing import ClassVar

from hostsim import world as _world
from hostsim.cpenum import CPEnum


class WatchDogMode(CPEnum):
    RAISE: ClassVar[WatchDogMode]
    RESET: ClassVar[WatchDogMode]


class WatchDogTimeout(Exception):
    """Raised in code.py when the timer expires in RAISE mode."""


class WatchDogTimer:
    """No deinit() on CircuitPython 10: set `mode = None` to stop it."""

    @property
    def timeout(self) -> float:
        return _world.get().watchdog_timeout

    @timeout.setter
    def timeout(self, value: float) -> None:
        value = float(value)
        if value <= 0:
            raise ValueError("timeout must be > 0")
        world = _world.get()
        world.watchdog_timeout = value
        world.feed()

    @property
    def mode(self):  # type: ignore[no-untyped-def]
        name = _world.get().watchdog_mode
        return None if name is None else WatchDogMode.named(name)

    @mode.setter
    def mode(self, value) -> None:  # type: ignore[no-untyped-def]
        world = _world.get()
        if value is None:
            world.watchdog_mode = None
            return
        if not isinstance(value, WatchDogMode):
            raise TypeError("mode must be WatchDogMode or None")
        if world.watchdog_timeout <= 0:
            raise ValueError("watchdog timeout must be set before mode")
        world.feed()
        world.watchdog_mode = value.name

    def feed(self) -> None:
        world = _world.get()
        if world.watchdog_mode is not None:
            world.feed()
