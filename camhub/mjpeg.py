"""Live video out: endless MJPEG streams fed from the fan-out slot, and single snapshots."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from .errors import error
from .fanout import CONTENT_TYPE, PREAMBLE, Viewer
from .keys import CONFIG, FANOUT, REGISTRY

log = logging.getLogger(__name__)

_NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate", "Pragma": "no-cache"}


def _known(request: web.Request) -> str | None:
    device_id = request.match_info["device_id"]
    return device_id if request.app[REGISTRY].get(device_id) is not None else None


async def stream(request: web.Request) -> web.StreamResponse:
    device_id = _known(request)
    if device_id is None:
        return error(404, f"unknown device {request.match_info['device_id']!r}")
    slot = request.app[FANOUT].slot(device_id)
    timeout = request.app[CONFIG].viewer_timeout_s
    response = web.StreamResponse(headers={"Content-Type": CONTENT_TYPE, "X-Accel-Buffering": "no", **_NO_CACHE})
    await response.prepare(request)
    viewer = Viewer(request.transport)
    slot.viewers.add(viewer)
    seen = 0
    try:
        await response.write(PREAMBLE)
        while (latest := await slot.next_after(seen)) is not None:
            seen, part = latest
            await asyncio.wait_for(response.write(part), timeout)
    except TimeoutError:
        slot.viewers_dropped += 1
        log.warning("dropped viewer %s of %s: its write stalled for %.1f s", request.remote, device_id, timeout)
        if request.transport is not None:
            request.transport.abort()  # frees whatever is still buffered for it at once
    except ConnectionError:
        log.debug("viewer %s of %s went away", request.remote, device_id)
    finally:
        slot.viewers.discard(viewer)
    return response


async def snapshot(request: web.Request) -> web.StreamResponse:
    """Latest frame; the ETag is the frame number so a polling page pays only for new frames."""
    device_id = _known(request)
    if device_id is None:
        return error(404, f"unknown device {request.match_info['device_id']!r}")
    slot = request.app[FANOUT].peek(device_id)
    if slot is None or not slot.seq:
        return error(404, f"no frame received yet from {device_id!r}")
    etag = f'"{slot.seq}"'
    headers = {"ETag": etag, "X-Frame-Seq": str(slot.seq), "X-Timestamp": f"{slot.received_at:.3f}", **_NO_CACHE}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=slot.jpeg, content_type="image/jpeg", headers=headers)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/devices/{device_id}/stream.mjpg", stream)
    app.router.add_get("/devices/{device_id}/snapshot.jpg", snapshot)
