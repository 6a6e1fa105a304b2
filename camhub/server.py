"""Runs an application on a real socket with the settings live video needs (used by the CLI, demo and tests)."""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

# How long a keep-alive connection may idle between requests; cameras post every few hundred ms at worst.
KEEPALIVE_S = 75.0
# Grace for requests in flight at shutdown (streams end at once: the fan-out closes first).
SHUTDOWN_S = 5.0


class Server:
    """`async with Server(app, host, port) as server:` serves until the block ends; `server.url` has the real port."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        # handler_cancellation ends a viewer's endless stream as soon as its connection goes away.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, keepalive_timeout=KEEPALIVE_S, shutdown_timeout=SHUTDOWN_S, access_log=None
        )
        self._host, self._port = host, port
        self.port = port

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await self._runner.cleanup()
            raise
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
