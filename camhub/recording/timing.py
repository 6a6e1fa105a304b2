"""Time in recordings: the times people give (unix seconds or ISO 8601), and the recorded time between two frames,
which playback paces by and exports stamp frames with."""

from __future__ import annotations

import math
from datetime import UTC, datetime

TICKS_PERIOD = 2**29  # supervisor.ticks_ms() wraps here; X-Capture-Ms is the board's ticks
AGREE_S = 1.0  # the capture clock is trusted while it agrees with the hub's arrival times this closely
LATEST_TIME = 253_402_214_400.0  # 9999-12-31T00:00:00Z: later cannot be written as an ISO 8601 date


def recorded_step(prev_time: float, prev_capture: int | None, cur_time: float, cur_capture: int | None) -> float:
    """Seconds between two frames as the camera captured them.

    The board's capture clock is free of network jitter, so it is used when it agrees with the hub's arrival
    times to within ``AGREE_S`` (it wraps, and restarts with the board); otherwise the hub's arrival times.
    Gaps (camera offline) come back whole, and a hub clock that stepped back gives a negative step.
    """
    step = cur_time - prev_time
    if prev_capture is not None and cur_capture is not None:
        captured = ((cur_capture - prev_capture) % TICKS_PERIOD) / 1000
        if abs(captured - step) < AGREE_S:
            return captured
    return step


def parse_time(name: str, raw: str | None) -> float:
    """Unix seconds or ISO 8601 (no zone = UTC) -> unix seconds; ValueError naming ``name`` otherwise."""
    if raw is None or not raw.strip():
        raise ValueError(f"missing {name!r}: give unix seconds or ISO 8601, e.g. 2024-05-01T12:00:00Z")
    text = raw.strip()
    try:
        value = float(text)
    except ValueError:
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            try:  # an unencoded '+' in a query string arrives as a space: ...T12:00:00 02:00
                stamp = datetime.fromisoformat(text.replace(" ", "+"))
            except ValueError:
                raise ValueError(f"{name}={raw!r} is neither unix seconds nor ISO 8601") from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        try:
            value = stamp.timestamp()
        except (OverflowError, ValueError, OSError):
            value = math.inf
    if not (math.isfinite(value) and 0 <= value <= LATEST_TIME):
        raise ValueError(f"{name}={raw!r} must be a time between 1970 and the year 9999")
    return value


def iso(at: float) -> str:
    """UTC ISO 8601 with milliseconds and a Z."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def compact(at: float) -> str:
    """UTC time for file names: 20240501T120000Z."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y%m%dT%H%M%SZ")
