"""HTTP routes over the recorder: list and toggle recording, the timeline of spans and gaps, paced MJPEG playback
from any second, MJPEG download of a range."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Mapping
from itertools import pairwise

from aiohttp import web

from . import validate
from .errors import error
from .framing import CLOSE, CONTENT_TYPE, recorded_part_header
from .keys import RECORDER
from .recording import Frame
from .recording.layout import device_dirname, range_file_name
from .recording.reader import GAP_S
from .recording.timing import iso, parse_time, recorded_step

MAX_SPEED = 1000.0
MIN_SPEED = 0.01  # slower holds a connection for days per recorded second; 0 still means "as fast as possible"
BEHIND_S = 1.0  # a viewer this far behind the schedule is re-anchored instead of sent a burst
MAX_GAP_S = 2.0  # playback compresses gaps (camera offline) to this much recorded time
MAX_TIMELINE_S = 31 * 86400.0


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/devices/{device_id}/recordings", list_recordings)
    app.router.add_post("/api/v1/devices/{device_id}/recording", set_recording)
    app.router.add_get("/api/v1/devices/{device_id}/timeline", timeline)
    app.router.add_get("/devices/{device_id}/playback.mjpg", playback)
    app.router.add_get("/devices/{device_id}/recording.mjpg", download)


def frame_delay(prev: Frame, cur: Frame) -> float:
    """Recorded time between two frames for paced playback, gaps (camera offline) compressed to ``MAX_GAP_S``."""
    step = recorded_step(prev.time, prev.capture_ms, cur.time, cur.capture_ms)
    return min(max(step, 0.0), MAX_GAP_S)


def parse_range(query: Mapping[str, str], *, open_end: bool = False, longest: float = math.inf) -> tuple[float, float]:
    """start and end from a query; with ``open_end`` a missing end means "to the end of what is recorded"."""
    start = parse_time("start", query.get("start"))
    end = math.inf if open_end and not query.get("end", "").strip() else parse_time("end", query.get("end"))
    if end < start:
        raise ValueError(f"end ({query['end']}) is before start ({query['start']})")
    if end - start > longest:
        raise ValueError(f"the range is at most {longest / 3600:g} hours, got {(end - start) / 3600:.1f}")
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


def device_param(request: web.Request) -> str:
    """The path's device id; ValueError for one that cannot have recordings."""
    device = request.match_info["device_id"]
    device_dirname(device)
    return device


async def list_recordings(request: web.Request) -> web.Response:
    """Whether a device records, and what each hourly file holds."""
    recorder = request.app[RECORDER]
    try:
        device = device_param(request)
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
        device = device_param(request)
    except ValueError as exc:
        return error(400, str(exc))
    body = await validate.json_object(request)
    if not isinstance(body.get("enabled"), bool):
        return error(400, '"enabled" must be true or false, e.g. {"enabled": true}')
    recorder.set_recording(device, body["enabled"])
    return web.json_response({"deviceId": device, "recording": recorder.wants(device)})


async def timeline(request: web.Request) -> web.Response:
    """Spans of continuous recording in [start, end] (cut to it) and the gaps between them."""
    try:
        device = device_param(request)
        start, end = parse_range(request.query, longest=MAX_TIMELINE_S)
    except ValueError as exc:
        return error(400, str(exc))
    segments = await request.app[RECORDER].timeline(device, start, end)
    return web.json_response(
        {
            "deviceId": device,
            "start": start,
            "end": end,
            "gapS": GAP_S,
            "segments": [
                {
                    "start": seg.start,
                    "end": seg.end,
                    "startIso": iso(seg.start),
                    "endIso": iso(seg.end),
                    "frames": seg.frames,
                }
                for seg in segments
            ],
            "gaps": [
                {"start": a.end, "end": b.start, "seconds": round(b.start - a.end, 3)} for a, b in pairwise(segments)
            ],
        }
    )


async def playback(request: web.Request) -> web.StreamResponse:
    """Recorded frames from ``start`` (any second: a gap starts at the next frame) to ``end`` (or the end of what
    is recorded) as live MJPEG, paced by their timestamps x ``speed``; each part carries its X-Timestamp."""
    try:
        device = device_param(request)
        start, end = parse_range(request.query, open_end=True)
        speed = parse_speed(request.query.get("speed"))
    except ValueError as exc:
        return error(400, str(exc))
    return await _stream(request, device, start, end, speed, {"Cache-Control": "no-store"})


async def download(request: web.Request) -> web.StreamResponse:
    """Recorded frames in [start, end] as one MJPEG file, streamed as it is read."""
    try:
        device = device_param(request)
        start, end = parse_range(request.query)
    except ValueError as exc:
        return error(400, str(exc))
    name = range_file_name(device, start, end, ".mjpg")
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return await _stream(request, device, start, end, 0.0, headers)


async def _stream(
    request: web.Request, device: str, start: float, end: float, speed: float, headers: dict[str, str]
) -> web.StreamResponse:
    frames = request.app[RECORDER].frames(device, start, end)
    try:
        first = await anext(frames, None)
        if first is None:
            until = "now" if math.isinf(end) else iso(end)
            return error(404, f"nothing recorded for device {device!r} between {iso(start)} and {until}")
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
