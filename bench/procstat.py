"""CPU time and peak memory of one process, and how busy the whole machine is, read from Linux /proc."""

from __future__ import annotations

import os

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of `pid` so far."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15 of stat)


def _status_bytes(pid: int, field: bytes) -> int:
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(field + b":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/{pid}/status has no {field.decode()}")


def peak_rss_bytes(pid: int) -> int:
    """VmHWM: the most resident memory `pid` has had at any moment."""
    return _status_bytes(pid, b"VmHWM")


def rss_bytes(pid: int) -> int:
    """VmRSS: the resident memory of `pid` now."""
    return _status_bytes(pid, b"VmRSS")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of all cores since boot; diff two readings for the busy share of a window."""
    with open("/proc/stat", "rb") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user
    return total - idle, total
