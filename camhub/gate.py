"""The connection gate in front of aiohttp's protocol: a cap on open connections and a deadline on request heads.

aiohttp bounds idle keep-alive connections but not a client that opens thousands of them or sends a request
head one byte a minute. Past the cap a new connection gets a 503 at once and is closed, so cameras, viewers and
/healthz keep working for those already in and the process never runs out of file descriptors; a head that is
not complete in time closes its connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from typing import Any

from aiohttp.web_protocol import RequestHandler

from .recording.writer import MAX_OPEN_FILES

log = logging.getLogger(__name__)

_BODY = json.dumps({"error": "the hub is at its connection limit: try again shortly"}).encode()
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY)
)
FD_RESERVE = MAX_OPEN_FILES + 64  # descriptors kept for recording files, SQLite and the process itself
LOG_EVERY_S = 10.0


def raise_fd_limit() -> int:
    """Lift the soft open-file limit to the hard one (often 1024 -> 1M); returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


class Gate:
    """Shared by every connection of one listener."""

    def __init__(self, max_connections: int, header_timeout_s: float) -> None:
        self.max_connections = min(max_connections, raise_fd_limit() - FD_RESERVE)
        self.header_timeout_s = header_timeout_s
        self.open = 0
        self.refused = 0
        self.slow_heads = 0
        self._logged_at = 0.0

    def note_refusal(self) -> None:
        self.refused += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_S:  # one line per burst, not one per connection
            self._logged_at = now
            log.warning(
                "connection limit %d reached: %d connections refused so far", self.max_connections, self.refused
            )


class GuardedConnection(asyncio.Protocol):
    """aiohttp's RequestHandler for one connection, behind the gate."""

    def __init__(self, handler: RequestHandler, gate: Gate) -> None:
        self._handler = handler
        self._gate = gate
        self._admitted = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        gate = self._gate
        if gate.open >= gate.max_connections:
            gate.note_refusal()
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(REFUSAL)
            transport.close()
            return
        gate.open += 1
        self._admitted = True
        self._transport = transport
        self._handler.connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        if self._admitted:
            self._admitted = False
            self._gate.open -= 1
            self._handler.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        if self._head_timer is None and not self._busy():
            self._start_head_timer()  # the first bytes of a next request on a kept-alive connection
        self._handler.data_received(data)
        if self._head_timer is not None and self._busy():
            self._cancel_head_timer()

    def eof_received(self) -> None:
        if self._admitted:
            self._handler.eof_received()
        return None

    def pause_writing(self) -> None:
        if self._admitted:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._admitted:
            self._handler.resume_writing()

    def _busy(self) -> bool:
        """A head was parsed: a request waits or runs (aiohttp's own state for this connection)."""
        handler: Any = self._handler
        return bool(handler._messages) or bool(handler._request_in_progress)

    def _start_head_timer(self) -> None:
        loop = asyncio.get_running_loop()
        self._head_timer = loop.call_later(self._gate.header_timeout_s, self._head_too_slow)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._busy() or self._transport is None:
            return
        self._gate.slow_heads += 1
        self._transport.close()
