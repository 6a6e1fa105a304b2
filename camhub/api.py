"""Device API (register, frames, heartbeat) and the JSON views of the registry."""

from __future__ import annotations

import errno
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from . import __version__, validate
from .auth import Grant
from .errors import ApiError, error
from .fanout import Slot
from .ingest import read_frame
from .keys import ACCESS, API_KEYS, CLOCK, CONFIG, FANOUT, RECORDER, REGISTRY, REJECTS, SETTINGS, STARTED, VIEWS
from .registry import Device

log = logging.getLogger(__name__)

_HEARTBEAT_FIELDS = frozenset({"deviceId", "uptime", "freeHeap", "wifiRssi", "status"})
_UPTIME_MAX_MS = 100 * 365 * 86_400_000  # a century
DEVICES_PAGE = 200  # devices per page of /api/v1/devices unless ?limit= says otherwise
DEVICES_PAGE_MAX = 1000


def _refuse(request: web.Request, status: int, message: str, device_id: str | None = None) -> web.Response:
    request.app[REJECTS][status] += 1
    if device_id is not None:
        request.app[REGISTRY].reject(device_id)
    log.info("refused %s from %s: %d %s", request.path, request.remote, status, message)
    return error(status, message)


DeviceHandler = Callable[[web.Request, Grant], Awaitable[web.Response]]


def device_endpoint(handler: DeviceHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """API key first, then the handler; an ApiError becomes a counted JSON error and stores nothing."""

    async def checked(request: web.Request) -> web.Response:
        failures = request.app[ACCESS].failures
        address = request.remote or "?"
        wait = failures.retry_after(address)
        if wait:
            request.app[REJECTS][429] += 1
            return error(
                429, f"too many wrong API keys from {address}: retry in {wait} s", **{"Retry-After": str(wait)}
            )
        grant = request.app[API_KEYS].check(request)
        if isinstance(grant, str):
            if request.headers.get("X-API-Key"):
                failures.failed(address)
            return _refuse(request, 401, grant)
        try:
            return await handler(request, grant)
        except ApiError as exc:
            return _refuse(request, exc.status, exc.message, exc.device_id)

    return checked


@device_endpoint
async def register(request: web.Request, grant: Grant) -> web.Response:
    body = await validate.json_object(request)
    device_id = validate.device_id(body)
    grant.claim(device_id)
    name = validate.text(body, "deviceName", device_id).strip() or device_id
    device_type = validate.text(body, "deviceType", "camera")
    ip_address = validate.text(body, "ipAddress", "")
    registry = request.app[REGISTRY]
    created = await registry.register(device_id, name, device_type, ip_address, validate.capabilities(body))
    log.info("%s device %s (%r) at %r", "registered" if created else "re-registered", device_id, name, ip_address)
    return web.json_response(
        {
            "ok": True,
            "deviceId": device_id,
            "created": created,
            "heartbeatIntervalS": request.app[CONFIG].heartbeat_interval_s,
            "maxFrameBytes": request.app[CONFIG].max_frame_bytes,
        }
    )


@device_endpoint
async def heartbeat(request: web.Request, grant: Grant) -> web.Response:
    body = await validate.json_object(request)
    device_id = validate.device_id(body)
    grant.claim(device_id)
    uptime = validate.number(body, "uptime", 0, _UPTIME_MAX_MS)
    free_heap = validate.number(body, "freeHeap", 0, 2**40)
    rssi = validate.number(body, "wifiRssi", -127, 0)
    status = validate.text(body, "status", "online")
    extra = validate.extra_fields(body, _HEARTBEAT_FIELDS)
    device = request.app[REGISTRY].heartbeat(device_id, uptime, free_heap, rssi, status, extra)
    if device is None:
        raise ApiError(404, f"unknown device {device_id!r}: register it first")
    answer = {
        "ok": True,
        "deviceId": device_id,
        **request.app[SETTINGS].for_heartbeat(device_id, extra.get("settings")),
    }
    return web.json_response(answer)


@device_endpoint
async def post_frame(request: web.Request, grant: Grant) -> web.Response:
    frame = await read_frame(request, request.app[CONFIG].max_frame_bytes, request.app[CLOCK]())
    grant.claim(frame.device_id)
    request.app[REGISTRY].frame(
        frame.device_id,
        frame.seq,
        frame.capture_ms,
        len(frame.jpeg),
        frame.info.width,
        frame.info.height,
        frame.received_at,
    )
    request.app[FANOUT].publish(frame.device_id, frame.jpeg, frame.received_at)
    rec = request.app[RECORDER]
    if rec.wants(frame.device_id):
        try:
            await rec.record(frame.device_id, frame.seq, frame.capture_ms, frame.received_at, frame.jpeg)
        except Exception as exc:  # the writer logged it and keeps files and index agreeing
            status = 507 if _disk_full(exc) else 500
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return error(status, f"frame shown live but not recorded: {reason}")
    return frame_accepted(frame.seq, len(frame.jpeg))


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


def frame_accepted(seq: int | None, size: int) -> web.Response:
    """The answer to every stored frame crosses the camera's radio: compact JSON, no charset."""
    body = json.dumps({"ok": True, "seq": seq, "bytes": size}, separators=(",", ":")).encode()
    return web.Response(body=body, content_type="application/json")


def device_json(request: web.Request, device: Device, now: float) -> dict[str, Any]:
    registry = request.app[REGISTRY]
    slot: Slot | None = request.app[FANOUT].peek(device.device_id)
    base = f"/devices/{device.device_id}"
    online = registry.is_online(device, now)
    return {
        "deviceId": device.device_id,
        "name": device.name,
        "deviceType": device.device_type,
        "ipAddress": device.ip_address,
        "capabilities": device.capabilities,
        "implicit": device.implicit,
        "online": online,
        "status": "online" if online else "offline",
        "firstSeen": device.first_seen,
        "lastSeen": device.last_seen,
        "lastHeartbeat": device.last_heartbeat,
        "heartbeatIntervalS": round(registry.heartbeat_interval(device), 2),
        "uptimeMs": device.uptime_ms,
        "freeHeap": device.free_heap,
        "wifiRssi": device.wifi_rssi,
        "reportedStatus": device.reported_status,
        "heartbeatExtra": device.heartbeat_extra,
        "fps": round(device.fps(now), 2),
        "frames": device.frames,
        "bytes": device.bytes,
        "drops": device.drops,
        "rejects": device.rejects,
        "lastFrameSeq": device.last_seq,
        "lastFrameAt": device.last_frame_at,
        "frameBytes": device.frame_bytes,
        "width": device.width,
        "height": device.height,
        "latencyMs": None if device.latency_ms is None else round(device.latency_ms, 1),
        "viewers": len(slot.viewers) if slot else 0,
        "links": {"live": base, "stream": f"{base}/stream.mjpg", "snapshot": f"{base}/snapshot.jpg"},
    }


async def list_devices(request: web.Request) -> web.Response:
    """One page of the registry (`?offset=&limit=`, `next` links the following one), each page rendered at most once
    a second for every client (viewcache.py)."""
    offset = validate.query_int(request, "offset", 0, 0, validate.MAX_INT)
    limit = validate.query_int(request, "limit", DEVICES_PAGE, 1, DEVICES_PAGE_MAX)

    def render() -> bytes:
        now = request.app[CLOCK]()
        devices = request.app[REGISTRY].devices()
        end = offset + limit
        page = {
            "serverTime": now,
            "version": __version__,
            "total": len(devices),
            "offset": offset,
            "limit": limit,
            "next": f"/api/v1/devices?offset={end}&limit={limit}" if end < len(devices) else None,
            "devices": [device_json(request, device, now) for device in devices[offset:end]],
        }
        return json.dumps(page).encode()

    return request.app[VIEWS].response(request, f"devices {offset} {limit}", render, "application/json")


async def get_device(request: web.Request) -> web.Response:
    device = request.app[REGISTRY].get(request.match_info["device_id"])
    if device is None:
        return error(404, f"unknown device {request.match_info['device_id']!r}")
    return web.json_response(device_json(request, device, request.app[CLOCK]()))


async def healthz(request: web.Request) -> web.Response:
    """503 with the reasons while storage fails (the hub still shows live video then, but loses records)."""
    registry = request.app[REGISTRY]
    now = request.app[CLOCK]()

    def counts() -> tuple[int, int]:
        devices = registry.devices()
        return len(devices), sum(registry.is_online(d, now) for d in devices)

    total, online = request.app[VIEWS].value("health counts", counts)  # O(devices): at most once a second
    problems = [
        f"{what}: {reason}"
        for what, reason in (("registry", registry.save_error), ("recording", request.app[RECORDER].problem))
        if reason is not None
    ]
    return web.json_response(
        {
            "status": "degraded" if problems else "ok",
            "problems": problems,
            "version": __version__,
            "uptimeS": round(now - request.app[STARTED], 1),
            "devices": total,
            "online": online,
        },
        status=503 if problems else 200,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/devices/register", register)
    app.router.add_post("/api/v1/stream/stream", post_frame)
    app.router.add_post("/api/v1/devices/heartbeat", heartbeat)
    app.router.add_get("/api/v1/devices", list_devices)
    app.router.add_get("/api/v1/devices/{device_id}", get_device)
    app.router.add_get("/healthz", healthz)
