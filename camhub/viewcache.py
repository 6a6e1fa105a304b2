"""Views over every device (/api/v1/devices, /metrics), rendered at most once per `max_age_s` whoever asks.

Their cost grows with the number of devices and runs on the event loop that also takes the cameras' frames; a
second-old answer costs a dashboard or Prometheus nothing, and then polling clients cannot starve the cameras.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class ViewCache:
    def __init__(self, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self._clock = clock
        self._views: dict[str, tuple[float, bytes]] = {}
        self.renders = 0

    def get(self, name: str, render: Callable[[], bytes]) -> bytes:
        now = self._clock()
        cached = self._views.get(name)
        if cached is not None and now - cached[0] < self.max_age_s:
            return cached[1]
        body = render()
        self.renders += 1
        self._views[name] = (now, body)
        return body
