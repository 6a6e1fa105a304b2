"""The connection gate in front of aiohttp's protocol: a cap on open connections and a deadline on request heads.

aiohttp bounds idle keep-alive connections but not a client that opens thousands of them or sends a request
head one byte a minute. At the cap a newcomer takes the place of an idle connection (no request in progress:
kept alive between requests, or a head still arriving) of the address holding the most, the one idle longest,
so a client hoarding connections cannot lock cameras, viewers or /healthz out; only when every connection is
busy does a newcomer get a 503 at once.
The process never runs out of file descriptors, and a head that is not complete in time closes its connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from collections import Counter, OrderedDict
from typing import Any

from aiohttp.web_protocol import RequestHandler

from .protocol import QuietLog
from .recording.writer import MAX_OPEN_FILES

log = logging.getLogger(__name__)

_BODY = json.dumps({"error": "the hub is at its connection limit: try again shortly"}).encode()
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY)
)
# asyncio accepts up to the listen backlog in one turn of the loop; the listener's backlog is kept to this.
ACCEPT_BATCH = 128
# An accepted socket reaches the gate two turns after accept() (the accepting task starts, then connection_made
# runs), and the idle connection it evicts gives its descriptor back one turn later: while a flood keeps the
# backlog full, three batches are accepted before the first batch's evictions close.
ACCEPT_PIPELINE = 3
# Descriptors kept free of connections: the accept pipeline, the recording files, SQLite and the process itself.
FD_RESERVE = ACCEPT_PIPELINE * ACCEPT_BATCH + MAX_OPEN_FILES + 64
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
        self.connections: OrderedDict[GuardedConnection, None] = OrderedDict()  # least recently active first
        self.per_address: Counter[str] = Counter()
        self.refused = 0
        self.evicted = 0
        self.slow_heads = 0
        self.malformed = QuietLog()  # requests too broken for a handler (protocol.Protocol counts them)
        self._logged_at = 0.0

    @property
    def open(self) -> int:
        return len(self.connections)

    def admit(self, connection: GuardedConnection) -> bool:
        """Makes room by closing the longest-idle connection when at the cap; False when all are busy."""
        if len(self.connections) >= self.max_connections:
            idle = self._most_hoarded_idle()
            if idle is None:
                self.note_refusal()
                return False
            self.evicted += 1
            self.leave(idle)
            idle.close()
        self.connections[connection] = None
        self.per_address[connection.address] += 1
        return True

    def _most_hoarded_idle(self) -> GuardedConnection | None:
        idle = [c for c in self.connections if not c.busy()]  # least recently active first
        if not idle:
            return None
        most = max({c.address for c in idle}, key=self.per_address.__getitem__)
        return next(c for c in idle if c.address == most)

    def leave(self, connection: GuardedConnection) -> None:
        if self.connections.pop(connection, 0) is None:
            self.per_address[connection.address] -= 1
            if not self.per_address[connection.address]:
                del self.per_address[connection.address]

    def active(self, connection: GuardedConnection) -> None:
        if connection in self.connections:
            self.connections.move_to_end(connection)

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
        self.address = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if not self._gate.admit(self):
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(REFUSAL)
            transport.close()
            return
        self._admitted = True
        self._handler.connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        if self._admitted:
            self._admitted = False
            self._gate.leave(self)
            self._handler.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        self._gate.active(self)
        if self._head_timer is None and not self.busy():
            self._start_head_timer()  # the first bytes of a next request on a kept-alive connection
        self._handler.data_received(data)
        if self._head_timer is not None and self.busy():
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

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def busy(self) -> bool:
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
        if self.busy() or self._transport is None:
            return
        self._gate.slow_heads += 1
        self._transport.close()
