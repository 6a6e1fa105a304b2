"""HTML viewers: the dashboard and a device's live view (static files; the data comes from the JSON API)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from .errors import error
from .keys import REGISTRY

STATIC = Path(__file__).resolve().parent / "static"
_NO_CACHE = {"Cache-Control": "no-cache"}


async def dashboard(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers=_NO_CACHE)


async def live_view(request: web.Request) -> web.StreamResponse:
    device_id = request.match_info["device_id"]
    if request.app[REGISTRY].get(device_id) is None:
        return error(404, f"unknown device {device_id!r}")
    return web.FileResponse(STATIC / "device.html", headers=_NO_CACHE)


async def favicon(request: web.Request) -> web.StreamResponse:
    """Browsers ask for /favicon.ico on every page whatever the page links."""
    return web.FileResponse(STATIC / "favicon.ico", headers={"Cache-Control": "max-age=86400"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", dashboard)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/devices/{device_id}", live_view)
    app.router.add_static("/static", STATIC)
