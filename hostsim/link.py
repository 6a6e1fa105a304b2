"""The radio link model: a token bucket on sent bytes plus a round-trip delay per turnaround."""

from __future__ import annotations

import threading
from typing import Callable

# lwIP on the ESP32-S3 accepts at most one TCP send buffer (4 x 1436-byte segments) per send() call.
SEND_BUFFER = 5744


class Link:
    """Shared by every socket of the board, like the one WiFi radio.

    `kbps` is in KB/s with 1 KB = 1000 bytes (None: unlimited). The bucket holds at most one send buffer, so
    a sender that stalls cannot save up a burst; `grant()` never blocks: no tokens means EAGAIN, as lwIP does
    when its send buffer is full.
    """

    def __init__(self, kbps: float | None, rtt_ms: float, clock: Callable[[], float]) -> None:
        self.rate = None if kbps is None else kbps * 1000.0
        self.rtt = rtt_ms / 1000.0
        self._clock = clock
        self._tokens = float(SEND_BUFFER)
        self._stamp = clock()
        self._lock = threading.Lock()

    def describe(self) -> str:
        rate = "unlimited" if self.rate is None else f"{self.rate / 1000:g} KB/s"
        return f"{rate}, rtt {self.rtt * 1000:g} ms"

    def grant(self, wanted: int) -> int:
        """How many of `wanted` bytes may leave now (0..wanted); the caller sends exactly that many."""
        if self.rate is None:
            return wanted
        with self._lock:
            now = self._clock()
            self._tokens = min(float(SEND_BUFFER), self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            granted = min(wanted, int(self._tokens))
            self._tokens -= granted
            return granted

    def refund(self, count: int) -> None:
        """Give back tokens for bytes the OS refused after all."""
        if self.rate is not None and count > 0:
            with self._lock:
                self._tokens = min(float(SEND_BUFFER), self._tokens + count)
