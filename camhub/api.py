"""Device API (register, frames, heartbeat) and the JSON views of the registry."""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from . import __version__
from .errors import ApiError, error
from .fanout import Slot
from .ingest import read_frame
from .keys import API_KEYS, CLOCK, CONFIG, FANOUT, RECORDER, REGISTRY, REJECTS, SETTINGS, STARTED
from .registry import Device, device_id_problem

log = logging.getLogger(__name__)

_JSON_LIMIT = 64 * 1024
_TEXT_LIMIT = 128
_NUMBER = (int, float)
_FRAME_HEADERS = {"Server": "camhub"}  # instead of aiohttp's "Python/3.x aiohttp/3.x"


def _refuse(request: web.Request, status: int, message: str, device_id: str | None = None) -> web.Response:
    request.app[REJECTS][status] += 1
    if device_id is not None:
        request.app[REGISTRY].reject(device_id)
    log.info("refused %s from %s: %d %s", request.path, request.remote, status, message)
    return error(status, message)


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise ApiError(415, f"unsupported content type {request.content_type!r}: send application/json")
    if request.content_length is not None and request.content_length > _JSON_LIMIT:
        raise ApiError(413, f"JSON body of {request.content_length} bytes exceeds the {_JSON_LIMIT}-byte limit")
    raw = await request.read()
    if len(raw) > _JSON_LIMIT:
        raise ApiError(413, f"JSON body exceeds the {_JSON_LIMIT}-byte limit")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"body must be a JSON object, got {type(body).__name__}")
    return body


def _device_id(body: dict[str, Any]) -> str:
    if "deviceId" not in body:
        raise ApiError(400, "field 'deviceId' is required")
    problem = device_id_problem(body["deviceId"])
    if problem:
        raise ApiError(400, f"field 'deviceId' {problem}")
    return str(body["deviceId"])


def _text(body: dict[str, Any], name: str, default: str) -> str:
    value = body.get(name, default)
    if not isinstance(value, str):
        raise ApiError(400, f"field '{name}' must be a string, got {type(value).__name__}")
    if len(value) > _TEXT_LIMIT:
        raise ApiError(400, f"field '{name}' is longer than {_TEXT_LIMIT} characters")
    return value


def _number(body: dict[str, Any], name: str, minimum: float | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        raise ApiError(400, f"field '{name}' must be a number, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ApiError(400, f"field '{name}' must be >= {minimum}, got {value}")
    return round(value)


def _capabilities(body: dict[str, Any]) -> list[str]:
    value = body.get("capabilities", [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ApiError(400, "field 'capabilities' must be a list of strings")
    if len(value) > 32 or any(len(item) > _TEXT_LIMIT for item in value):
        raise ApiError(400, f"field 'capabilities' allows 32 entries of up to {_TEXT_LIMIT} characters")
    return value


DeviceHandler = Callable[[web.Request], Awaitable[web.Response]]


def device_endpoint(handler: DeviceHandler) -> DeviceHandler:
    """API key first, then the handler; an ApiError becomes a counted JSON error and stores nothing."""

    async def checked(request: web.Request) -> web.Response:
        problem = request.app[API_KEYS].check(request)
        if problem:
            return _refuse(request, 401, problem)
        try:
            return await handler(request)
        except ApiError as exc:
            return _refuse(request, exc.status, exc.message, exc.device_id)

    return checked


@device_endpoint
async def register(request: web.Request) -> web.Response:
    body = await _json_body(request)
    device_id = _device_id(body)
    name = _text(body, "deviceName", device_id).strip() or device_id
    device_type = _text(body, "deviceType", "camera")
    ip_address = _text(body, "ipAddress", "")
    capabilities = _capabilities(body)
    registry = request.app[REGISTRY]
    created = await registry.register(device_id, name, device_type, ip_address, capabilities)
    log.info("%s device %s (%s) at %s", "registered" if created else "re-registered", device_id, name, ip_address)
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
async def heartbeat(request: web.Request) -> web.Response:
    body = await _json_body(request)
    device_id = _device_id(body)
    uptime = _number(body, "uptime", 0)
    free_heap = _number(body, "freeHeap", 0)
    rssi = _number(body, "wifiRssi")
    status = _text(body, "status", "online")
    extra = {k: v for k, v in body.items() if k not in ("deviceId", "uptime", "freeHeap", "wifiRssi", "status")}
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
async def post_frame(request: web.Request) -> web.Response:
    frame = await read_frame(request, request.app[CONFIG].max_frame_bytes, request.app[CLOCK]())
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
        except OSError as exc:
            log.error("recording a frame of %s failed: %s", frame.device_id, exc)
            status = 507 if exc.errno in (errno.ENOSPC, errno.EDQUOT) else 500
            return error(status, f"frame shown live but not recorded: {exc.strerror or exc}")
        except Exception as exc:
            log.exception("recording a frame of %s failed", frame.device_id)
            return error(500, f"frame shown live but not recorded: {exc}")
    return frame_accepted(frame.seq, len(frame.jpeg))


def frame_accepted(seq: int | None, size: int) -> web.Response:
    """The answer to every stored frame crosses the camera's radio: compact JSON, no charset, a short Server."""
    body = json.dumps({"ok": True, "seq": seq, "bytes": size}, separators=(",", ":")).encode()
    return web.Response(body=body, content_type="application/json", headers=_FRAME_HEADERS)


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
    now = request.app[CLOCK]()
    devices = [device_json(request, device, now) for device in request.app[REGISTRY].devices()]
    return web.json_response({"serverTime": now, "version": __version__, "devices": devices})


async def get_device(request: web.Request) -> web.Response:
    device = request.app[REGISTRY].get(request.match_info["device_id"])
    if device is None:
        return error(404, f"unknown device {request.match_info['device_id']!r}")
    return web.json_response(device_json(request, device, request.app[CLOCK]()))


async def healthz(request: web.Request) -> web.Response:
    registry = request.app[REGISTRY]
    now = request.app[CLOCK]()
    devices = registry.devices()
    return web.json_response(
        {
            "status": "ok",
            "version": __version__,
            "uptimeS": round(now - request.app[STARTED], 1),
            "devices": len(devices),
            "online": sum(registry.is_online(d, now) for d in devices),
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/devices/register", register)
    app.router.add_post("/api/v1/stream/stream", post_frame)
    app.router.add_post("/api/v1/devices/heartbeat", heartbeat)
    app.router.add_get("/api/v1/devices", list_devices)
    app.router.add_get("/api/v1/devices/{device_id}", get_device)
    app.router.add_get("/healthz", healthz)
