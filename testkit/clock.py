"""A unix-seconds clock that moves only when a test sets `now` (injected wherever the hub reads the time)."""

from __future__ import annotations


class ManualClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
