"""CircuitPython's `time`: monotonic, monotonic_ns, sleep, time, localtime, mktime, and nothing else."""

import time as _mp

_start_ns = _mp.time_ns()
_mp_ticks_ms = _mp.ticks_ms  # for the supervisor shim: a small int, no allocation per call


def monotonic_ns():
    return _mp.time_ns() - _start_ns


def monotonic():
    return monotonic_ns() / 1_000_000_000


sleep = _mp.sleep
time = _mp.time
localtime = _mp.localtime
mktime = _mp.mktime
