"""One way to run the real hub for a test or a benchmark: in this event loop, in a thread of its own, or as a
`camhub` subprocess; and the device-API requests tests make of it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from camhub.app import init
from camhub.config import Config
from camhub.server import Server
from testkit.boards import Process
from testkit.jpegs import make_jpeg

KEY = "test-key"
JPEG = make_jpeg("api")
REGISTER = {
    "deviceId": "cam1",
    "deviceName": "Front door",
    "deviceType": "camera",
    "ipAddress": "192.168.1.20",
    "capabilities": ["jpeg", "heartbeat"],
}
HEARTBEAT = {
    "deviceId": "cam1",
    "uptime": 123456,
    "freeHeap": 2_000_000,
    "wifiRssi": -58,
    "status": "online",
    "fps": 14.5,
}


def hub_config(data_dir: Path, **overrides: Any) -> Config:
    """A hub on an ephemeral 127.0.0.1 port with the test key, as configured otherwise.

    Views are rendered for every request, so a test sees its own changes at once (viewcache has its own tests).
    """
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "data_dir": data_dir,
        "api_keys": (KEY,),
        "views_max_age_s": 0.0,
        **overrides,
    }
    return Config(**settings)


@dataclass
class RunningHub:
    app: web.Application
    url: str
    server: Server


@contextlib.asynccontextmanager
async def running_hub(config: Config, *, clock: Callable[[], float] = time.time) -> AsyncIterator[RunningHub]:
    """The hub of `config` serving in the current event loop until the block ends."""
    app = init(config, clock=clock)
    async with Server(app, config.host, config.port) as server:
        yield RunningHub(app, server.url, server)


class ThreadedHub:
    """The hub in a thread and event loop of its own, for synchronous tests: `with ThreadedHub(config) as hub`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._loop = asyncio.new_event_loop()
        self.app = init(config)
        self._server = Server(self.app, config.host, config.port)
        self._thread = threading.Thread(target=self._loop.run_forever, name="camhub", daemon=True)

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    def __enter__(self) -> ThreadedHub:
        self._loop.run_until_complete(self._server.start())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.run_until_complete(self._server.stop())
        self._loop.close()


class HubProcess(Process):
    """`python -m camhub` on an ephemeral 127.0.0.1 port; `url` is known once its banner says where it listens."""

    def __init__(
        self,
        data_dir: Path,
        *args: str,
        env: dict[str, str] | None = None,
        ready_s: float = 20,
        fd_limit: int | None = None,
    ) -> None:
        limit = ["prlimit", f"--nofile={fd_limit}:{fd_limit}", "--"] if fd_limit else []
        super().__init__(
            [
                *limit,
                sys.executable,
                "-u",
                "-m",
                "camhub",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--data-dir",
                str(data_dir),
                *args,
            ],
            {**os.environ, **(env or {})},
        )
        _, line = self.wait_line("CamStream hub listening on 127.0.0.1:", ready_s)
        https = "--tls-cert" in args or "CAMHUB_TLS_CERT" in (env or {})
        self.url = f"{'https' if https else 'http'}://127.0.0.1:{int(line.rsplit(':', 1)[1])}"


async def post_frame(
    client: aiohttp.ClientSession,
    url: str,
    jpeg: bytes = JPEG,
    device: str | None = "cam1",
    seq: int | None = None,
    key: str | None = KEY,
    multipart: bool = False,
    **headers: str,
) -> tuple[int, Any]:
    """One frame upload, raw or multipart: (status, JSON answer)."""
    headers = {"X-API-Key": key, **headers} if key is not None else dict(headers)
    if seq is not None:
        headers["X-Frame-Seq"] = str(seq)
    data: Any
    if multipart:
        form = aiohttp.FormData()
        form.add_field("deviceId", device or "")
        form.add_field("image", jpeg, content_type="image/jpeg", filename="frame.jpg")
        data = form
    else:
        headers.setdefault("Content-Type", "image/jpeg")
        if device is not None:
            headers["X-Device-Id"] = device
        data = jpeg
    async with client.post(f"{url}/api/v1/stream/stream", data=data, headers=headers) as response:
        return response.status, await response.json()


async def post_json(
    client: aiohttp.ClientSession, url: str, path: str, body: Any, key: str | None = KEY
) -> tuple[int, Any]:
    headers = {"X-API-Key": key} if key is not None else {}
    async with client.post(f"{url}{path}", json=body, headers=headers) as response:
        return response.status, await response.json()


async def get_json(client: aiohttp.ClientSession, url: str, path: str) -> tuple[int, Any]:
    async with client.get(f"{url}{path}") as response:
        return response.status, await response.json()


async def devices(client: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    """The registry's devices, as /api/v1/devices lists them."""
    return (await get_json(client, url, "/api/v1/devices"))[1]["devices"]  # type: ignore[no-any-return]
