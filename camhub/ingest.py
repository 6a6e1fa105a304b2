"""Turns a frame upload (multipart or raw image/jpeg) into a validated `Upload`, or an `ApiError` saying why not."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import hdrs, web

from . import multipart, validate
from .errors import ApiError
from .jpeg import JpegError, JpegInfo, inspect
from .registry import device_id_problem

_FIELD_LIMIT = 256
_MULTIPART_HEADROOM = 64 * 1024  # boundaries, part headers and small fields around the JPEG


@dataclass(frozen=True)
class Upload:
    """An accepted frame upload, checked from its headers to its JPEG markers."""

    device_id: str
    seq: int | None
    capture_ms: int | None
    jpeg: bytes
    info: JpegInfo
    received_at: float


async def _read_multipart(request: web.Request, limit: int) -> tuple[str | None, bytes]:
    cap = limit + _MULTIPART_HEADROOM
    if request.content_length is not None and request.content_length > cap:
        raise ApiError(413, f"upload of {request.content_length} bytes exceeds the {limit}-byte frame limit")
    try:
        boundary = multipart.boundary(request.headers.get(hdrs.CONTENT_TYPE, ""))
        body = await validate.read_body(request, cap, what=f"upload (the {limit}-byte frame limit plus framing)")
        parts = multipart.parse(body, boundary)
    except multipart.MultipartError as exc:
        raise ApiError(400, f"malformed multipart body: {exc}") from None
    device_id: str | None = None
    image: memoryview | None = None
    for part in parts:
        if part.name == "image":
            if image is not None:
                raise ApiError(400, "multipart body has more than one 'image' part: send one frame per request")
            kind = part.content_type or "image/jpeg"
            if kind not in ("image/jpeg", "application/octet-stream"):
                raise ApiError(415, f"multipart part 'image' must be image/jpeg, got {kind!r}")
            if len(part.data) > limit:
                raise ApiError(413, f"frame of {len(part.data)} bytes exceeds the {limit}-byte limit")
            image = part.data
        elif part.name == "deviceId":
            if device_id is not None:
                raise ApiError(400, "multipart body has more than one 'deviceId' field")
            if len(part.data) > _FIELD_LIMIT:
                raise ApiError(413, f"multipart field 'deviceId' exceeds the {_FIELD_LIMIT}-byte limit")
            device_id = str(part.data, "utf-8", "replace").strip()
    if image is None:
        raise ApiError(400, "multipart body has no 'image' part")
    return device_id, bytes(image)


async def read_frame(request: web.Request, limit: int, received_at: float) -> Upload:
    """Reads and checks everything; nothing is stored by the caller unless this returns."""
    header_id = request.headers.get("X-Device-Id", "").strip() or None
    try:
        return await _read_frame(request, limit, header_id, received_at)
    except ApiError as exc:
        if exc.device_id is None and header_id is not None and device_id_problem(header_id) is None:
            exc.device_id = header_id
        raise


async def _read_frame(request: web.Request, limit: int, header_id: str | None, received_at: float) -> Upload:
    kind = request.content_type
    if kind == "image/jpeg":
        field_id, body = None, await validate.read_body(request, limit, what="frame")
    elif kind == "multipart/form-data":
        field_id, body = await _read_multipart(request, limit)
    else:
        raise ApiError(415, f"unsupported content type {kind!r}: send multipart/form-data or image/jpeg")
    if field_id and header_id and field_id != header_id:
        raise ApiError(400, f"deviceId field {field_id!r} does not match header X-Device-Id {header_id!r}")
    device_id = field_id or header_id
    if device_id is None:
        raise ApiError(400, "missing device id: send the deviceId field or the X-Device-Id header")
    problem = device_id_problem(device_id)
    if problem:
        raise ApiError(400, f"deviceId {problem}")
    try:
        seq = validate.header_int(request, "X-Frame-Seq")
        capture_ms = validate.header_int(request, "X-Capture-Ms")
        info = inspect(body)
    except JpegError as exc:
        raise ApiError(400, str(exc), device_id) from None
    except ApiError as exc:
        exc.device_id = device_id
        raise
    return Upload(device_id, seq, capture_ms, body, info, received_at)
