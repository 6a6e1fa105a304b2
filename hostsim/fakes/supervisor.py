"""CircuitPython `supervisor`: the ticks clock that wraps, soft reloads and run-time facts."""

from hostsim import world as _world
from hostsim.cpenum import CPEnum


class RunReason(CPEnum):
    pass


RunReason.define(("STARTUP", "AUTO_RELOAD", "SUPERVISOR_RELOAD", "REPL_RELOAD"))


class SafeModeReason(CPEnum):
    pass


SafeModeReason.define(("NONE", "BROWNOUT", "HARD_FAULT", "PROGRAMMATIC", "USER", "WATCHDOG"))


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
        return getattr(RunReason, _world.get().run_reason)


runtime = Runtime()
