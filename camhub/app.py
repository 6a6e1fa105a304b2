"""The application factory: wires config, registry, fan-out, recorder and routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Middleware

from . import api, metrics, mjpeg, pages, recordings
from .auth import ApiKeys, load_api_keys, viewer_password_middleware
from .config import Config
from .fanout import Fanout
from .recorder import RECORDER, Recorder
from .registry import Registry

log = logging.getLogger(__name__)

# Multipart framing and headers on top of the largest accepted JPEG.
BODY_HEADROOM = 256 * 1024
KEY_SOURCE = web.AppKey("key_source", str)  # "configured", "stored" or "generated"


def init(config: Config) -> web.Application:
    middlewares: list[Middleware] = [api.json_errors]
    if config.view_password:
        middlewares.append(viewer_password_middleware(config.view_password))
    app = web.Application(client_max_size=config.max_frame_bytes + BODY_HEADROOM, middlewares=middlewares)
    keys, source = load_api_keys(config.api_keys, config.data_dir)
    app[api.CONFIG] = config
    app[api.API_KEYS] = ApiKeys(keys)
    app[KEY_SOURCE] = source
    app[api.REGISTRY] = Registry(config.data_dir / "registry.sqlite3", config.heartbeat_interval_s)
    app[api.FANOUT] = Fanout()
    app[api.REJECTS] = Counter()
    app[api.STARTED] = time.time()
    app.on_shutdown.append(_end_streams)
    app.cleanup_ctx.append(_registry_ctx)
    app.cleanup_ctx.append(_recorder_ctx)
    api.add_routes(app)
    mjpeg.add_routes(app)
    metrics.add_routes(app)
    pages.add_routes(app)
    recordings.add_routes(app)
    return app


async def _end_streams(app: web.Application) -> None:
    app[api.FANOUT].close()


async def _registry_ctx(app: web.Application) -> AsyncIterator[None]:
    registry = app[api.REGISTRY]
    await registry.open()
    flusher = asyncio.create_task(registry.flush_every(app[api.CONFIG].flush_interval_s), name="registry-flush")
    yield
    flusher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await flusher
    await registry.close()


async def _recorder_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[api.CONFIG]
    rec = Recorder(
        config.data_dir / "recordings",
        record=config.record,
        retention_s=config.retention_hours * 3600,
        retention_bytes=int(config.retention_gb * 1e9),
    )
    await rec.start()
    app[RECORDER] = rec
    yield
    await rec.close()
