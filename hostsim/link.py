"""The radio link model: one lwIP send buffer that drains at the link rate, plus a round-trip delay."""

from __future__ import annotations

import threading
from collections.abc import Callable

# lwIP on the ESP32-S3 accepts at most one TCP send buffer (4 x 1436-byte segments) per send() call.
SEND_BUFFER = 5744


class Link:
    """Shared by every socket of the board, like the one WiFi radio.

    `kbps` is in KB/s with 1 KB = 1000 bytes (None: unlimited). Accepted bytes queue in a send buffer of
    SEND_BUFFER bytes that the radio empties at `rate`, oldest first. An idle radio earns nothing: an empty
    buffer takes the next SEND_BUFFER bytes at once, but they still need SEND_BUFFER / rate seconds on the
    air, and a reply cannot start before they are through. `accept()` never blocks: a full buffer means
    EAGAIN, as lwIP does.
    """

    def __init__(self, kbps: float | None, rtt_ms: float, clock: Callable[[], float]) -> None:
        self.rate = None if kbps is None else kbps * 1000.0
        self.rtt = rtt_ms / 1000.0
        self._clock = clock
        self._drained_at = clock()  # when the last accepted byte has left the buffer
        self._lock = threading.Lock()

    def describe(self) -> str:
        rate = "unlimited" if self.rate is None else f"{self.rate / 1000:g} KB/s"
        return f"{rate}, rtt {self.rtt * 1000:g} ms"

    def queued(self) -> float:
        """Bytes in the send buffer now (not yet on the air)."""
        if self.rate is None:
            return 0.0
        with self._lock:
            return max(0.0, self._drained_at - self._clock()) * self.rate

    def accept(self, wanted: int) -> tuple[int, float]:
        """Take up to `wanted` bytes into the buffer: (count accepted, time their last byte has left it)."""
        now = self._clock()
        if self.rate is None:
            return wanted, now
        with self._lock:
            start = max(now, self._drained_at)
            free = SEND_BUFFER - (start - now) * self.rate
            count = min(wanted, int(free + 1e-6))
            if count <= 0:
                return 0, start
            self._drained_at = start + count / self.rate
            return count, self._drained_at
