"""Views over every device (/api/v1/devices pages, /metrics), rendered at most once per `max_age_s` whoever asks,
and gzipped once for the clients that accept it.

Their cost grows with the number of devices and runs on the event loop that also takes the cameras' frames; a
second-old answer costs a dashboard or Prometheus nothing, so polling clients cannot starve the cameras. The
bytes matter as much as the rendering: 10,000 devices make a 9 MB list, ten times less gzipped.
"""

from __future__ import annotations

import gzip
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar, cast

from aiohttp import web

T = TypeVar("T")
MAX_VIEWS = 256  # distinct pages kept; a client cycling through offsets cannot grow the cache
GZIP_LEVEL = 1  # most of the saving at a fraction of the CPU of the default 9


class View:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self._gzipped: bytes | None = None

    def gzipped(self) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, GZIP_LEVEL, mtime=0)
        return self._gzipped


class ViewCache:
    def __init__(self, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self._clock = clock
        self._views: OrderedDict[str, tuple[float, object]] = OrderedDict()
        self.renders = 0

    def value(self, name: str, compute: Callable[[], T]) -> T:
        """`compute()`'s result, reused for `max_age_s`."""
        now = self._clock()
        cached = self._views.get(name)
        if cached is None or now - cached[0] >= self.max_age_s:
            cached = (now, compute())
            self.renders += 1
            self._views[name] = cached
            while len(self._views) > MAX_VIEWS:
                self._views.popitem(last=False)
        self._views.move_to_end(name)
        return cast(T, cached[1])

    def get(self, name: str, render: Callable[[], bytes]) -> View:
        return self.value(name, lambda: View(render()))

    def response(self, request: web.Request, name: str, render: Callable[[], bytes], content_type: str) -> web.Response:
        view = self.get(name, render)
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response = web.Response(body=view.gzipped(), content_type=content_type)
            response.headers["Content-Encoding"] = "gzip"
        else:
            response = web.Response(body=view.body, content_type=content_type)
        response.headers["Vary"] = "Accept-Encoding"
        return response
