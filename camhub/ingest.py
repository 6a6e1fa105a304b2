"""Turns a frame upload (multipart or raw image/jpeg) into a validated `Frame`, or a `FrameError` saying why not."""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import hdrs, web

from . import multipart
from .jpeg import JpegError, JpegInfo, inspect
from .registry import device_id_problem

_FIELD_LIMIT = 256
_MULTIPART_HEADROOM = 64 * 1024  # boundaries, part headers and small fields around the JPEG


class FrameError(Exception):
    """A rejected upload: HTTP status, readable message, and the device id when it was already known."""

    def __init__(self, status: int, message: str, device_id: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.device_id = device_id


@dataclass(frozen=True)
class Frame:
    device_id: str
    seq: int | None
    capture_ms: int | None
    jpeg: bytes
    info: JpegInfo
    received_at: float


def _int_header(request: web.Request, name: str) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise FrameError(400, f"header {name} must be a non-negative integer, got {raw[:40]!r}")
    return value


async def _read_raw(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise FrameError(413, f"frame of {request.content_length} bytes exceeds the {limit}-byte limit")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise FrameError(413, f"frame exceeds the {limit}-byte limit") from None
    if len(body) > limit:
        raise FrameError(413, f"frame of {len(body)} bytes exceeds the {limit}-byte limit")
    return body


async def _read_body(request: web.Request, cap: int, limit: int) -> bytes:
    """The whole upload, refused with 413 as soon as it grows past `cap`, whatever the framing."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > cap:
            raise FrameError(413, f"upload exceeds the {limit}-byte frame limit plus {cap - limit} bytes of framing")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_multipart(request: web.Request, limit: int) -> tuple[str | None, bytes]:
    cap = limit + _MULTIPART_HEADROOM
    if request.content_length is not None and request.content_length > cap:
        raise FrameError(413, f"upload of {request.content_length} bytes exceeds the {limit}-byte frame limit")
    try:
        boundary = multipart.boundary(request.headers.get(hdrs.CONTENT_TYPE, ""))
        parts = multipart.parse(await _read_body(request, cap, limit), boundary)
    except multipart.MultipartError as exc:
        raise FrameError(400, f"malformed multipart body: {exc}") from None
    device_id: str | None = None
    image: memoryview | None = None
    for part in parts:
        if part.name == "image":
            if image is not None:
                raise FrameError(400, "multipart body has more than one 'image' part: send one frame per request")
            kind = part.content_type or "image/jpeg"
            if kind not in ("image/jpeg", "application/octet-stream"):
                raise FrameError(415, f"multipart part 'image' must be image/jpeg, got {kind!r}")
            if len(part.data) > limit:
                raise FrameError(413, f"frame of {len(part.data)} bytes exceeds the {limit}-byte limit")
            image = part.data
        elif part.name == "deviceId":
            if device_id is not None:
                raise FrameError(400, "multipart body has more than one 'deviceId' field")
            if len(part.data) > _FIELD_LIMIT:
                raise FrameError(413, f"multipart field 'deviceId' exceeds the {_FIELD_LIMIT}-byte limit")
            device_id = str(part.data, "utf-8", "replace").strip()
    if image is None:
        raise FrameError(400, "multipart body has no 'image' part")
    return device_id, bytes(image)


async def read_frame(request: web.Request, limit: int) -> Frame:
    """Reads and checks everything; nothing is stored by the caller unless this returns."""
    received_at = time.time()
    header_id = request.headers.get("X-Device-Id", "").strip() or None
    try:
        return await _read_frame(request, limit, header_id, received_at)
    except FrameError as exc:
        if exc.device_id is None and header_id is not None and device_id_problem(header_id) is None:
            exc.device_id = header_id
        raise


async def _read_frame(request: web.Request, limit: int, header_id: str | None, received_at: float) -> Frame:
    kind = request.content_type
    if kind == "image/jpeg":
        field_id, body = None, await _read_raw(request, limit)
    elif kind == "multipart/form-data":
        field_id, body = await _read_multipart(request, limit)
    else:
        raise FrameError(415, f"unsupported content type {kind!r}: send multipart/form-data or image/jpeg")
    if field_id and header_id and field_id != header_id:
        raise FrameError(400, f"deviceId field {field_id!r} does not match header X-Device-Id {header_id!r}")
    device_id = field_id or header_id
    if device_id is None:
        raise FrameError(400, "missing device id: send the deviceId field or the X-Device-Id header")
    problem = device_id_problem(device_id)
    if problem:
        raise FrameError(400, f"deviceId {problem}")
    try:
        seq = _int_header(request, "X-Frame-Seq")
        capture_ms = _int_header(request, "X-Capture-Ms")
        info = inspect(body)
    except JpegError as exc:
        raise FrameError(400, str(exc), device_id) from None
    except FrameError as exc:
        exc.device_id = device_id
        raise
    return Frame(device_id, seq, capture_ms, body, info, received_at)
