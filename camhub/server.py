"""Runs an application on a real socket with the settings live video needs (used by the CLI, demo and tests).

The listener is the hub's own (not aiohttp's TCPSite) so that every connection passes the gate (gate.py) and,
with a certificate configured, TLS.
"""

from __future__ import annotations

import asyncio
import ssl
from types import TracebackType

from aiohttp import web

from .gate import ACCEPT_BATCH, Gate, GuardedConnection
from .keys import CONFIG, GATE
from .protocol import Protocol

# Grace for requests in flight at shutdown (streams end at once: the fan-out closes first).
SHUTDOWN_S = 5.0
# After a body is refused (413, 408) the rest is read and dropped this long, so the client can read the answer
# instead of a reset, then the connection closes (aiohttp's 10 s default would hold a stalled client longer).
LINGER_S = 2.0


class CertificateError(Exception):
    """The TLS certificate or key cannot be used (the message says which and why)."""


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise CertificateError(f"cannot use TLS certificate {cert!r} with key {key!r}: {exc}") from None
    return context


class Server:
    """`async with Server(app, host, port) as server:` serves until the block ends; `server.url` has the real port."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        config = app[CONFIG]
        # handler_cancellation ends a viewer's endless stream as soon as its connection goes away.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=SHUTDOWN_S)
        self._idle_timeout_s = config.idle_timeout_s
        self.gate = app[GATE] = Gate(config.max_connections, config.header_timeout_s)
        self._tls = tls_context(config.tls_cert, config.tls_key) if config.tls_cert else None
        self._host, self._port = host, port
        self._listener: asyncio.Server | None = None
        self.port = port

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}"

    async def start(self) -> None:
        await self._runner.setup()
        manager = self._runner.server
        assert manager is not None
        loop = asyncio.get_running_loop()
        try:
            self._listener = await loop.create_server(
                lambda: GuardedConnection(self._protocol(manager, loop), self.gate),
                self._host or None,
                self._port,
                ssl=self._tls,
                ssl_handshake_timeout=self.gate.header_timeout_s if self._tls else None,
                reuse_address=True,
                backlog=ACCEPT_BATCH,
            )
        except BaseException:
            await self._runner.cleanup()
            raise
        self.port = self._listener.sockets[0].getsockname()[1]

    def _protocol(self, manager: web.Server, loop: asyncio.AbstractEventLoop) -> Protocol:
        """What aiohttp's Server would make for a connection, with the hub's Protocol and settings."""
        return Protocol(
            manager,
            loop=loop,
            quiet=self.gate.malformed,
            keepalive_timeout=self._idle_timeout_s,
            lingering_time=LINGER_S,
            access_log=None,
        )

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        await self._runner.cleanup()

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
