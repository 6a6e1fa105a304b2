"""HTTP routes for exports: the size estimate of a range, export jobs with progress, their files (with byte ranges,
so a <video> element seeks in them), and a one-request download for scripts."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from . import validate
from .errors import error
from .export import FORMATS, MAX_RANGE_S, Estimate, Format, NothingRecorded, formats, plan
from .export.jobs import ExportJob, ExportRefused
from .keys import EXPORTS, RECORDER
from .recording.layout import range_file_name
from .recording.timing import iso, parse_time
from .recordings import device_param, parse_range


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/devices/{device_id}/export", estimate)
    app.router.add_get("/api/v1/devices/{device_id}/exports", list_exports)
    app.router.add_post("/api/v1/devices/{device_id}/exports", create_export)
    app.router.add_get("/api/v1/exports/{job_id}", get_export)
    app.router.add_delete("/api/v1/exports/{job_id}", delete_export)
    app.router.add_get("/exports/{job_id}/{name}", export_file)
    app.router.add_get("/devices/{device_id}/export.{ext:mp4|mkv|avi}", export_now)


def estimate_json(device: str, start: float, end: float, planned: Estimate) -> dict[str, Any]:
    return {
        "deviceId": device,
        "format": planned.format.name,
        "reencode": planned.format.reencode,
        "start": start,
        "end": end,
        "frames": planned.frames,
        "firstTime": planned.first_time,
        "lastTime": planned.last_time,
        "firstIso": iso(planned.first_time),
        "lastIso": iso(planned.last_time),
        "sourceBytes": planned.source_bytes,
        "estimatedBytes": planned.bytes,
    }


async def _plan(request: web.Request, device: str, start: float, end: float, name: str) -> Estimate:
    """The estimate of a range; ValueError for a bad format or range, NothingRecorded for an empty one."""
    fmt = formats.get(name)
    extent = await request.app[RECORDER].extent(device, start, end)
    return plan(extent, device, start, end, fmt)


async def estimate(request: web.Request) -> web.Response:
    """``?start=&end=&format=``: what an export of the range will hold and about how big it will be."""
    try:
        device = device_param(request)
        start, end = parse_range(request.query, longest=MAX_RANGE_S)
        planned = await _plan(request, device, start, end, request.query.get("format", "mp4"))
    except NothingRecorded as exc:
        return error(404, str(exc))
    except ValueError as exc:
        return error(400, str(exc))
    return web.json_response(estimate_json(device, start, end, planned))


async def list_exports(request: web.Request) -> web.Response:
    try:
        device = device_param(request)
    except ValueError as exc:
        return error(400, str(exc))
    jobs = request.app[EXPORTS].of_device(device)
    return web.json_response({"deviceId": device, "exports": [job.to_json() for job in jobs]})


async def create_export(request: web.Request) -> web.Response:
    """``{"start", "end", "format"}`` (times as unix seconds or ISO 8601): 202 and the job, whose progress
    ``GET /api/v1/exports/{id}`` reports; its ``url`` is the file once ``state`` is ``done``."""
    try:
        device = device_param(request)
    except ValueError as exc:
        return error(400, str(exc))
    body = await validate.json_object(request)
    fmt = body.get("format", "mp4")
    if not isinstance(fmt, str):
        return error(400, f'"format" must be one of {", ".join(FORMATS)}')
    try:
        start = parse_time("start", _text(body.get("start")))
        end = parse_time("end", _text(body.get("end")))
        planned = await _plan(request, device, start, end, fmt)
        job = request.app[EXPORTS].submit(device, start, end, planned)
    except NothingRecorded as exc:
        return error(404, str(exc))
    except ValueError as exc:
        return error(400, str(exc))
    except ExportRefused as exc:
        return error(exc.status, exc.message, **({"Retry-After": "60"} if exc.status == 503 else {}))
    return web.json_response(job.to_json(), status=202, headers={"Location": f"/api/v1/exports/{job.id}"})


async def get_export(request: web.Request) -> web.Response:
    job = _job(request)
    if job is None:
        return error(404, f"no export {request.match_info['job_id']!r} (finished exports are kept for an hour)")
    return web.json_response(job.to_json())


async def delete_export(request: web.Request) -> web.Response:
    """Cancel an export that waits or runs, or delete a finished one's file."""
    job = _job(request)
    if job is None:
        return error(404, f"no export {request.match_info['job_id']!r}")
    await request.app[EXPORTS].remove(job)
    return web.json_response({"id": job.id, "deleted": True})


async def export_file(request: web.Request) -> web.StreamResponse:
    job = _job(request)
    if job is None or request.match_info["name"] != job.path.name:
        return error(404, "no such export (finished exports are kept for an hour)")
    if job.state != "done":
        return error(409, f"export {job.id} is {job.state}" + (f": {job.error}" if job.error else ""))
    return _file(job)


async def export_now(request: web.Request) -> web.StreamResponse:
    """``/devices/{id}/export.mp4?start=&end=``: export and answer with the file when it is done, for scripts
    (``curl -OJ``); the export is cancelled if the client goes away, and deleted once sent. HEAD answers at once,
    without exporting: the headers GET will send, but no length (it is known only once the file is made)."""
    exports = request.app[EXPORTS]
    try:
        device = device_param(request)
        start, end = parse_range(request.query, longest=MAX_RANGE_S)
        planned = await _plan(request, device, start, end, request.match_info["ext"])
        if request.method == "HEAD":
            return web.Response(
                headers=_file_headers(planned.format, range_file_name(device, start, end, planned.format.extension))
            )
        job = exports.submit(device, start, end, planned)
    except NothingRecorded as exc:
        return error(404, str(exc))
    except ValueError as exc:
        return error(400, str(exc))
    except ExportRefused as exc:
        return error(exc.status, exc.message)
    try:
        await job.ended.wait()
        if job.state != "done":
            return error(500, f"export failed: {job.error}")
        response = _file(job)
        await response.prepare(request)
        await response.write_eof()
        return response
    finally:
        await asyncio.shield(exports.remove(job))


def _file(job: ExportJob) -> web.FileResponse:
    return web.FileResponse(job.path, headers=_file_headers(job.format, job.path.name))


def _file_headers(fmt: Format, name: str) -> dict[str, str]:
    return {
        "Content-Type": fmt.mime,
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, max-age=3600",
    }


def _job(request: web.Request) -> ExportJob | None:
    return request.app[EXPORTS].get(request.match_info["job_id"])


def _text(value: object) -> str | None:
    """A JSON time as text for parse_time: numbers and strings; anything else is missing."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    return str(value)
