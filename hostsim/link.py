"""The radio link model: one lwIP send buffer that drains at the link rate, plus a round-trip delay.

The rate may follow a schedule (`--link-kbps 1000@0,250@20,1000@40`): a WiFi link's upload rate changes by the
minute with RSSI and neighbours, and the firmware's rate control must follow it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from itertools import pairwise

# lwIP on the ESP32-S3 accepts at most one TCP send buffer (4 x 1436-byte segments) per send() call.
SEND_BUFFER = 5744

Schedule = tuple[tuple[float, float], ...]  # (seconds since the start, KB/s), by start time


class LinkSpecError(ValueError):
    """A --link-kbps value that is neither a rate nor a schedule of rates."""


def parse_schedule(text: str) -> Schedule:
    """`400` (a steady rate) or `1000@0,250@20,1000@40` (KB/s from each time on, seconds since the start)."""
    steps = []
    for item in text.split(","):
        rate, sep, start = item.strip().partition("@")
        try:
            kbps, at = float(rate), float(start) if sep else 0.0
        except ValueError:
            raise LinkSpecError(
                f"--link-kbps {text!r}: {item.strip()!r} is not KBPS or KBPS@SECONDS (e.g. 400 or 1000@0,250@20)"
            ) from None
        if not (kbps > 0 and math.isfinite(kbps)) or not (at >= 0 and math.isfinite(at)):
            raise LinkSpecError(f"--link-kbps {text!r}: rates must be > 0 and times >= 0 (in {item.strip()!r})")
        steps.append((at, kbps))
    times = [at for at, _ in steps]
    if times != sorted(times) or len(set(times)) != len(times):
        raise LinkSpecError(f"--link-kbps {text!r}: the times must increase from one rate to the next")
    return tuple(steps)


class Link:
    """Shared by every socket of the board, like the one WiFi radio.

    `kbps` is in KB/s with 1 KB = 1000 bytes: one rate, a schedule of (seconds since `epoch`, rate) steps (the
    link is unlimited before the first step), or None/empty: unlimited. Accepted bytes queue in a send buffer of
    SEND_BUFFER bytes that the radio empties at the rate of the moment, oldest first. An idle radio earns
    nothing: an empty buffer takes the next SEND_BUFFER bytes at once, but they still need their air time, and
    a reply cannot start before they are through. `accept()` never blocks: a full buffer means EAGAIN, as lwIP
    does.
    """

    def __init__(
        self,
        kbps: float | Sequence[tuple[float, float]] | None,
        rtt_ms: float,
        clock: Callable[[], float],
        epoch: float | None = None,
    ) -> None:
        if kbps is None:
            steps: Schedule = ()
        elif isinstance(kbps, (int, float)):
            steps = ((0.0, float(kbps)),)
        else:
            steps = tuple((float(at), float(rate)) for at, rate in kbps)
        self.schedule = steps
        self.rtt = rtt_ms / 1000.0
        self._clock = clock
        self._epoch = clock() if epoch is None else epoch
        self._queued = 0.0  # bytes in the send buffer at time self._at
        self._at = self._epoch
        self._lock = threading.Lock()

    @property
    def shaped(self) -> bool:
        return bool(self.schedule) or self.rtt > 0

    def rate_at(self, t: float) -> float | None:
        """Bytes per second at absolute time `t` (None: unlimited)."""
        rate = None
        for at, kbps in self.schedule:
            if self._epoch + at <= t:
                rate = kbps * 1000.0
        return rate

    def _segments(self, t0: float, t1: float) -> list[tuple[float, float, float | None]]:
        """(start, end, bytes per second) pieces of constant rate covering [t0, t1)."""
        cuts = sorted({t0, t1, *(self._epoch + at for at, _ in self.schedule if t0 < self._epoch + at < t1)})
        return [(a, b, self.rate_at(a)) for a, b in pairwise(cuts)]

    def _drain(self, now: float) -> None:
        if now <= self._at:
            return
        for a, b, rate in self._segments(self._at, now):
            self._queued = 0.0 if rate is None else max(0.0, self._queued - (b - a) * rate)
        self._at = now

    def _empty_at(self, now: float) -> float:
        """When the bytes queued now have all left the buffer, following the schedule."""
        left, t = self._queued, now
        while left > 1e-9:
            rate = self.rate_at(t)
            if rate is None:
                return t
            following = [self._epoch + at for at, _ in self.schedule if self._epoch + at > t]
            span = left / rate
            if following and t + span > following[0]:
                left -= (following[0] - t) * rate
                t = following[0]
                continue
            return t + span
        return t

    def describe(self) -> str:
        if not self.schedule:
            rate = "unlimited"
        elif len(self.schedule) == 1 and self.schedule[0][0] == 0:
            rate = f"{self.schedule[0][1]:g} KB/s"
        else:
            rate = ", ".join(f"{kbps:g} KB/s from {at:g} s" for at, kbps in self.schedule)
        return f"{rate}, rtt {self.rtt * 1000:g} ms"

    def changes(self, t0: float, t1: float) -> list[tuple[float, float]]:
        """Schedule steps in (t0, t1] (seconds since the epoch) as (time, KB/s), for the console log."""
        return [(at, kbps) for at, kbps in self.schedule if t0 < at <= t1]

    def queued(self) -> float:
        """Bytes in the send buffer now (not yet on the air)."""
        with self._lock:
            self._drain(self._clock())
            return self._queued

    def accept(self, wanted: int) -> tuple[int, float]:
        """Take up to `wanted` bytes into the buffer: (count accepted, time their last byte has left it)."""
        now = self._clock()
        with self._lock:
            self._drain(now)
            if self.rate_at(now) is None:
                return wanted, now
            count = min(wanted, int(SEND_BUFFER - self._queued + 1e-6))
            if count > 0:
                self._queued += count
            return max(0, count), self._empty_at(now)
