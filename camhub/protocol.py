"""aiohttp's per-connection protocol with the hub's manners for requests too broken to reach a handler.

A malformed request line or header (control bytes in a value, a bad length) is answered like every other error,
`{"error": "..."}` with a 400, and logged as one line per burst instead of a traceback per request: a client
that sends garbage in a loop must not be able to fill the disk with the hub's log.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

log = logging.getLogger(__name__)
LOG_EVERY_S = 10.0


class QuietLog:
    """At most one line per `every_s`, saying how many like it were left out."""

    def __init__(self, every_s: float = LOG_EVERY_S) -> None:
        self.every_s = every_s
        self._logged_at = -every_s
        self.suppressed = 0
        self.count = 0

    def warn(self, message: str) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self._logged_at < self.every_s:
            self.suppressed += 1
            return
        more = f" (and {self.suppressed} more since the last such line)" if self.suppressed else ""
        log.warning("%s%s", message, more)
        self._logged_at, self.suppressed = now, 0


class Protocol(RequestHandler):
    def __init__(self, manager: web.Server, *, quiet: QuietLog, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._quiet = quiet

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if status == 500:  # a handler's own failure: the full traceback is wanted
            return super().handle_error(request, status, exc, message)
        reason = " ".join(str(getattr(exc, "message", None) or message or exc or status).split())[:200]
        self._quiet.warn(f"malformed request from {request.remote}: {status} {reason}")
        if request.writer.output_size > 0:
            raise ConnectionError("a response was already sent: cannot send the error")
        response = web.json_response({"error": f"malformed request: {reason}"}, status=status)
        response.force_close()
        return response
