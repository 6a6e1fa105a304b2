"""Millisecond tick arithmetic that survives supervisor.ticks_ms() wrapping at 2**29.

Any clock whose wrap period is a multiple of 2**29 (or that never wraps) works with these
helpers, as long as the intervals compared stay under 2**28 ms (about three days).
"""

PERIOD = 1 << 29
_MASK = PERIOD - 1
_HALF = PERIOD >> 1


def add(ticks, delta):
    """The tick value `delta` ms after `ticks`."""
    return (ticks + delta) & _MASK


def diff(end, start):
    """Signed ms from `start` to `end`, correct across a wrap."""
    return ((end - start + _HALF) & _MASK) - _HALF


def default_clock():
    """The best millisecond clock on this runtime: supervisor.ticks_ms on CircuitPython."""
    try:
        from supervisor import ticks_ms

        return ticks_ms
    except ImportError:
        pass
    import time

    if hasattr(time, "monotonic_ns"):

        def monotonic_ms():
            return time.monotonic_ns() // 1000000

        return monotonic_ms
    return getattr(time, "ticks_ms")  # noqa: B009  (MicroPython has it; CircuitPython's stubs rightly do not)
