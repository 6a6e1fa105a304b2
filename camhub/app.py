"""The application factory: wires config, registry, fan-out, recorder and routes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from . import api, camera_settings, exports, integrations, memory, metrics, mjpeg, pages, recordings
from .access import Access, access_middleware
from .auth import ApiKeys, load_api_keys
from .config import Config
from .errors import json_errors
from .export.jobs import Exports
from .fanout import TICK_S, Fanout
from .head import discard_head_body, head_without_body
from .keys import (
    ACCESS,
    API_KEYS,
    CLOCK,
    CONFIG,
    EXPORTS,
    FANOUT,
    KEY_SOURCE,
    RECORDER,
    REGISTRY,
    REJECTS,
    STARTED,
    VIEWS,
)
from .ratelimit import FailedAuth
from .recording import Recorder
from .registry import Registry
from .viewcache import ViewCache

# Multipart framing and headers on top of the largest accepted JPEG.
BODY_HEADROOM = 256 * 1024
SWEEP_S = 2.0  # how often silent cameras' frames are let go and freed memory is handed back


def init(config: Config, *, clock: Callable[[], float] = time.time) -> web.Application:
    """The hub as configured; `clock` (unix seconds) is what every part of it reads the time from."""
    memory.configure()
    access = Access(config, FailedAuth(config.auth_failures_per_minute, time.monotonic))
    # head_without_body innermost: it wraps every route's own handler.
    middlewares: list[Middleware] = [json_errors, access_middleware(access), head_without_body]
    app = web.Application(client_max_size=config.max_frame_bytes + BODY_HEADROOM, middlewares=middlewares)
    keys, source = load_api_keys(config.api_keys, config.data_dir)
    app[CONFIG] = config
    app[ACCESS] = access
    app[CLOCK] = clock
    app[API_KEYS] = ApiKeys(keys)
    app[KEY_SOURCE] = source
    app[REGISTRY] = Registry(config.data_dir / "registry.sqlite3", config.heartbeat_interval_s, clock)
    app[FANOUT] = Fanout(
        max_viewers=config.max_viewers,
        max_viewers_per_camera=config.max_viewers_per_camera,
        idle_s=config.frame_idle_s,
        budget_bytes=int(config.live_memory_mb * 2**20),
        stall_s=config.viewer_timeout_s,
    )
    app[RECORDER] = Recorder(
        config.data_dir / "recordings",
        record=config.record,
        retention_s=config.retention_hours * 3600,
        retention_bytes=int(config.retention_gb * 1e9),
        clock=clock,
    )
    app[EXPORTS] = Exports(config.data_dir, clock=clock)
    app[REJECTS] = Counter()
    app[STARTED] = clock()
    app[VIEWS] = ViewCache(config.views_max_age_s)
    app.on_response_prepare.append(_server_header)
    app.on_response_prepare.append(discard_head_body)
    app.on_shutdown.append(_end_streams)
    app.cleanup_ctx.append(_fanout_ctx)
    app.cleanup_ctx.append(_registry_ctx)
    app.cleanup_ctx.append(_recorder_ctx)
    app.cleanup_ctx.append(_exports_ctx)
    api.add_routes(app)
    mjpeg.add_routes(app)
    integrations.add_routes(app)
    metrics.add_routes(app)
    pages.add_routes(app)
    recordings.add_routes(app)
    camera_settings.setup(app)
    exports.add_routes(app)
    return app


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    """Instead of aiohttp's "Python/3.x aiohttp/3.x": versions help only those looking for holes."""
    response.headers["Server"] = "camhub"


async def _end_streams(app: web.Application) -> None:
    app[FANOUT].close()


async def _fanout_ctx(app: web.Application) -> AsyncIterator[None]:
    """The fan-out's tick (silent cameras, stuck viewers); silent cameras' frames are let go, and the memory they
    held is handed back to the system."""
    fanout, clock = app[FANOUT], app[CLOCK]
    loop = asyncio.get_running_loop()

    async def sweep() -> None:
        left, release_at = fanout.viewers_left, loop.time() + SWEEP_S
        while True:
            await asyncio.sleep(TICK_S)
            fanout.tick(loop.time())
            if loop.time() < release_at:
                continue
            release_at = loop.time() + SWEEP_S
            if fanout.release_idle(clock()) or fanout.viewers_left != left:
                left = fanout.viewers_left
                await asyncio.to_thread(memory.trim)

    task = asyncio.create_task(sweep(), name="fanout-sweep")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _registry_ctx(app: web.Application) -> AsyncIterator[None]:
    registry = app[REGISTRY]
    await registry.open()
    flusher = asyncio.create_task(registry.flush_every(app[CONFIG].flush_interval_s), name="registry-flush")
    yield
    flusher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await flusher
    await registry.close()


async def _recorder_ctx(app: web.Application) -> AsyncIterator[None]:
    recorder = app[RECORDER]
    await recorder.start()
    yield
    await recorder.close()


async def _exports_ctx(app: web.Application) -> AsyncIterator[None]:
    await app[EXPORTS].start()
    yield
    await app[EXPORTS].close()
