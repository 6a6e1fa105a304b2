"""Failed authentication per client address: past the limit an address is refused (429) until its minute is over.

Guessing a key or password then takes years instead of hours, and the table of addresses is bounded so that a
client cycling through addresses cannot grow it.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

WINDOW_S = 60.0
MAX_ADDRESSES = 10_000


class FailedAuth:
    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()  # address -> (window start, failures)
        self.refused = 0

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again (0: it may now)."""
        entry = self._windows.get(address)
        if entry is None:
            return 0
        started, failures = entry
        left = started + WINDOW_S - self._clock()
        if left <= 0:
            del self._windows[address]
            return 0
        if failures < self.per_minute:
            return 0
        self.refused += 1
        return max(1, math.ceil(left))

    def failed(self, address: str) -> None:
        now = self._clock()
        started, failures = self._windows.pop(address, (now, 0))
        if now - started >= WINDOW_S:
            started, failures = now, 0
        self._windows[address] = (started, failures + 1)
        while len(self._windows) > MAX_ADDRESSES:
            self._windows.popitem(last=False)
