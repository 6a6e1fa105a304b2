"""CircuitPython `supervisor`: the ticks clock that wraps, soft reloads and run-time facts."""

from __future__ import annotations

from typing import ClassVar

from hostsim import world as _world
from hostsim.cpenum import CPEnum


class RunReason(CPEnum):
    STARTUP: ClassVar[RunReason]
    AUTO_RELOAD: ClassVar[RunReason]
    SUPERVISOR_RELOAD: ClassVar[RunReason]
    REPL_RELOAD: ClassVar[RunReason]


class SafeModeReason(CPEnum):
    NONE: ClassVar[SafeModeReason]
    BROWNOUT: ClassVar[SafeModeReason]
    HARD_FAULT: ClassVar[SafeModeReason]
    PROGRAMMATIC: ClassVar[SafeModeReason]
    USER: ClassVar[SafeModeReason]
    WATCHDOG: ClassVar[SafeModeReason]


def ticks_ms() -> int:
    """Milliseconds, wrapping at 2**29; starts 65.5 s before the first wrap, as on the board."""
    return _world.get().ticks_ms()


def reload() -> None:
    """Stop code.py now and run it again from a fresh VM (WiFi stays up)."""
    raise _world.SoftReload()


def get_previous_traceback():  # type: ignore[no-untyped-def]
    return _world.get().previous_traceback


class Runtime:
    autoreload = False
    usb_connected = True
    serial_connected = True
    serial_bytes_available = 0
    safe_mode_reason = SafeModeReason.NONE

    @property
    def run_reason(self) -> RunReason:
        return RunReason.named(_world.get().run_reason)


runtime = Runtime()
