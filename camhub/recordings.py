"""HTTP routes over the recorder: list and toggle recording, paced MJPEG playback, MJPEG download."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime

from aiohttp import web

from . import validate
from .errors import error
from .framing import CLOSE, CONTENT_TYPE, recorded_part_header
from .keys import RECORDER
from .recording import Frame
from .recording.layout import device_dirname

MAX_SPEED = 1000.0
MIN_SPEED = 0.01  # slower holds a connection for days per recorded second; 0 still means "as fast as possible"
LATEST_TIME = 253_402_214_400.0  # 9999-12-31T00:00:00Z: later cannot be written as an ISO 8601 date
BEHIND_S = 1.0  # a viewer this far behind the schedule is re-anchored instead of sent a burst
TICKS_PERIOD = 2**29  # supervisor.ticks_ms() wraps here; X-Capture-Ms is the board's ticks
MAX_GAP_S = 2.0  # playback compresses gaps (camera offline) to this much recorded time


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/devices/{device_id}/recordings", list_recordings)
    app.router.add_post("/api/v1/devices/{device_id}/recording", set_recording)
    app.router.add_get("/devices/{device_id}/playback.mjpg", playback)
    app.router.add_get("/devices/{device_id}/recording.mjpg", download)


def frame_delay(prev: Frame, cur: Frame) -> float:
    """Recorded time between two frames, for paced playback.

    The board's capture clock is free of network jitter, so it is used when it agrees with the hub's arrival
    times to within a second (it wraps and restarts with the board); gaps are compressed to ``MAX_GAP_S``.
    """
    delay = cur.time - prev.time
    if prev.capture_ms is not None and cur.capture_ms is not None:
        captured = ((cur.capture_ms - prev.capture_ms) % TICKS_PERIOD) / 1000
        if abs(captured - delay) < 1.0:
            delay = captured
    return min(max(delay, 0.0), MAX_GAP_S)


def parse_time(name: str, raw: str | None) -> float:
    """Unix seconds or ISO 8601 (no zone = UTC) -> unix seconds."""
    if raw is None or not raw.strip():
        raise ValueError(f"missing {name!r}: give unix seconds or ISO 8601, e.g. 2024-05-01T12:00:00Z")
    text = raw.strip()
    try:
        value = float(text)
    except ValueError:
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            try:  # an unencoded '+' in a query string arrives as a space: ...T12:00:00 02:00
                stamp = datetime.fromisoformat(text.replace(" ", "+"))
            except ValueError:
                raise ValueError(f"{name}={raw!r} is neither unix seconds nor ISO 8601") from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        try:
            value = stamp.timestamp()
        except (OverflowError, ValueError, OSError):
            value = math.inf
    if not (math.isfinite(value) and 0 <= value <= LATEST_TIME):
        raise ValueError(f"{name}={raw!r} must be a time between 1970 and the year 9999")
    return value


def parse_range(query: Mapping[str, str]) -> tuple[float, float]:
    start = parse_time("start", query.get("start"))
    end = parse_time("end", query.get("end"))
    if end < start:
        raise ValueError(f"end ({query['end']}) is before start ({query['start']})")
    return start, end


def parse_speed(raw: str | None) -> float:
    """Playback speed: 1 = as recorded, 2 = twice as fast, 0 = as fast as the connection allows."""
    if raw is None:
        return 1.0
    try:
        speed = float(raw)
    except ValueError:
        raise ValueError(f"speed={raw!r} is not a number") from None
    if not (speed == 0.0 or MIN_SPEED <= speed <= MAX_SPEED):
        raise ValueError(f"speed={raw!r} must be 0 (as fast as possible) or between {MIN_SPEED:g} and {MAX_SPEED:g}")
    return speed


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _device(request: web.Request) -> str:
    device = request.match_info["device_id"]
    device_dirname(device)
    return device


async def list_recordings(request: web.Request) -> web.Response:
    """Whether a device records, and what each hourly file holds."""
    recorder = request.app[RECORDER]
    try:
        device = _device(request)
    except ValueError as exc:
        return error(400, str(exc))
    spans = await recorder.spans(device)
    return web.json_response(
        {
            "deviceId": device,
            "recording": recorder.wants(device),
            "frames": sum(span.frames for span in spans),
            "bytes": sum(span.bytes for span in spans),
            "spans": [
                {
                    "file": span.path,
                    "start": span.first_time,
                    "end": span.last_time,
                    "startIso": iso(span.first_time),
                    "endIso": iso(span.last_time),
                    "frames": span.frames,
                    "bytes": span.bytes,
                }
                for span in spans
            ],
        }
    )


async def set_recording(request: web.Request) -> web.Response:
    """``{"enabled": true|false}`` turns recording on or off for one device, persistently."""
    recorder = request.app[RECORDER]
    try:
        device = _device(request)
    except ValueError as exc:
        return error(400, str(exc))
    body = await validate.json_object(request)
    if not isinstance(body.get("enabled"), bool):
        return error(400, '"enabled" must be true or false, e.g. {"enabled": true}')
    recorder.set_recording(device, body["enabled"])
    return web.json_response({"deviceId": device, "recording": recorder.wants(device)})


async def playback(request: web.Request) -> web.StreamResponse:
    """Recorded frames in [start, end] as live MJPEG, paced by their timestamps x ``speed``."""
    try:
        device = _device(request)
        start, end = parse_range(request.query)
        speed = parse_speed(request.query.get("speed"))
    except ValueError as exc:
        return error(400, str(exc))
    return await _stream(request, device, start, end, speed, {"Cache-Control": "no-store"})


async def download(request: web.Request) -> web.StreamResponse:
    """Recorded frames in [start, end] as one MJPEG file, streamed as it is read."""
    try:
        device = _device(request)
        start, end = parse_range(request.query)
    except ValueError as exc:
        return error(400, str(exc))

    def compact(at: float) -> str:
        return datetime.fromtimestamp(at, UTC).strftime("%Y%m%dT%H%M%SZ")

    name = f"{device_dirname(device)}_{compact(start)}_{compact(end)}.mjpg"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return await _stream(request, device, start, end, 0.0, headers)


async def _stream(
    request: web.Request, device: str, start: float, end: float, speed: float, headers: dict[str, str]
) -> web.StreamResponse:
    frames = request.app[RECORDER].frames(device, start, end)
    try:
        first = await anext(frames, None)
        if first is None:
            return error(404, f"nothing recorded for device {device!r} between {iso(start)} and {iso(end)}")
        response = web.StreamResponse(headers={"Content-Type": CONTENT_TYPE, **headers})
        await response.prepare(request)
        try:
            await _send(response, _chain(first, frames), speed)
        except ConnectionResetError:  # the viewer left
            return response
        await response.write_eof()
        return response
    finally:
        await frames.aclose()


async def _chain(first: Frame, rest: AsyncIterator[Frame]) -> AsyncIterator[Frame]:
    yield first
    async for frame in rest:
        yield frame


async def _send(response: web.StreamResponse, frames: AsyncIterator[Frame], speed: float) -> None:
    loop = asyncio.get_running_loop()
    anchor = loop.time()
    elapsed = 0.0  # recorded seconds since the first frame
    previous: Frame | None = None
    async for frame in frames:
        if speed > 0 and previous is not None:
            elapsed += frame_delay(previous, frame)
            due = anchor + elapsed / speed
            now = loop.time()
            if now > due + BEHIND_S:
                anchor = now - elapsed / speed
            elif due > now:
                await asyncio.sleep(due - now)
        await response.write(recorded_part_header(len(frame.jpeg), frame.seq, frame.time, previous is None))
        await response.write(frame.jpeg)
        previous = frame
    await response.write(CLOSE)
