"""CircuitPython's `supervisor.ticks_ms()`: milliseconds that wrap at 2**29, as on the board.

Built on MicroPython's ticks_ms (wraps at 2**30), so like the board's it returns a small int and
allocates nothing: the frame path calls it per send and is measured with gc.mem_alloc().
"""

from cptime import _mp_ticks_ms

_MASK = (1 << 29) - 1


def ticks_ms():
    return _mp_ticks_ms() & _MASK
