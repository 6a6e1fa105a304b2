"""Everything a client sends, bounded at the edge: a value that passes here fits storage, arithmetic and JSON.

A value that does not is refused with a 400 naming the field, before anything is stored. Numbers must be finite
and inside their field's range (SQLite holds signed 64-bit integers; JSON readers lose integers past 2**53),
text is bounded and free of control characters, and free-form heartbeat fields are capped in count, depth and size.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from aiohttp import web

from .errors import ApiError
from .keys import CONFIG
from .registry import device_id_problem

JSON_LIMIT = 64 * 1024
TEXT_LIMIT = 128
MAX_INT = 2**53 - 1  # exact in every JSON reader, far inside SQLite's 64-bit integers
EXTRA_FIELDS = 32
EXTRA_BYTES = 4096
EXTRA_DEPTH = 3


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (the JSON standard has no NaN or Infinity)")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def loads(raw: bytes | str) -> Any:
    """json.loads without NaN/Infinity (written or overflowed), and a nesting bomb refused, not a RecursionError."""
    try:
        return json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


async def read_body(request: web.Request, limit: int, what: str = "body") -> bytes:
    """The whole body, refused with 413 past `limit` (declared or streamed) and 408 if it stalls."""
    timeout_s = request.app[CONFIG].body_timeout_s
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"{what} of {request.content_length} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while chunk := await request.content.readany():
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, f"{what} exceeds the {limit}-byte limit")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, f"the request body did not arrive within {timeout_s:g} s") from None
    return b"".join(chunks)


async def json_object(request: web.Request, limit: int = JSON_LIMIT) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise ApiError(415, f"unsupported content type {request.content_type!r}: send application/json")
    raw = await read_body(request, limit)
    try:
        body = loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"body must be a JSON object, got {type(body).__name__}")
    return body


def device_id(body: dict[str, Any]) -> str:
    if "deviceId" not in body:
        raise ApiError(400, "field 'deviceId' is required")
    problem = device_id_problem(body["deviceId"])
    if problem:
        raise ApiError(400, f"field 'deviceId' {problem}")
    return str(body["deviceId"])


def _printable(value: str) -> bool:
    return all(ch >= " " and ch != "\x7f" for ch in value)


def text(body: dict[str, Any], name: str, default: str, limit: int = TEXT_LIMIT) -> str:
    """A bounded string without control characters (they would forge log lines and break pages)."""
    value = body.get(name, default)
    if not isinstance(value, str):
        raise ApiError(400, f"field '{name}' must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise ApiError(400, f"field '{name}' is longer than {limit} characters")
    if not _printable(value):
        raise ApiError(400, f"field '{name}' contains control characters")
    return value


def number(body: dict[str, Any], name: str, minimum: int, maximum: int) -> int | None:
    """An optional finite number in [minimum, maximum], rounded to an integer."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ApiError(400, f"field '{name}' must be a number, got {type(value).__name__}")
    if not (math.isfinite(value) and minimum <= value <= maximum):
        raise ApiError(400, f"field '{name}' must be a number from {minimum} to {maximum}, got {value!r}")
    return round(value)


def capabilities(body: dict[str, Any]) -> list[str]:
    value = body.get("capabilities", [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ApiError(400, "field 'capabilities' must be a list of strings")
    if len(value) > 32 or any(len(item) > TEXT_LIMIT or not _printable(item) for item in value):
        raise ApiError(400, f"field 'capabilities' allows 32 printable entries of up to {TEXT_LIMIT} characters")
    return value


def _extra_value(name: str, value: Any, depth: int) -> None:
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, (int, float)):
        if not (math.isfinite(value) and -MAX_INT <= value <= MAX_INT):
            raise ApiError(400, f"field {name!r} must be a finite number within +/-{MAX_INT}")
        return
    if depth >= EXTRA_DEPTH:
        raise ApiError(400, f"field {name!r} is nested deeper than {EXTRA_DEPTH} levels")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else None
    if items is None:
        raise ApiError(400, f"field {name!r} has a value JSON does not have")
    for key, item in items:
        _extra_value(f"{name}.{key}", item, depth + 1)


def extra_fields(body: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """Heartbeat fields beyond the known ones, kept as reported: bounded in number, depth and size."""
    extra = {key: value for key, value in body.items() if key not in known}
    if len(extra) > EXTRA_FIELDS:
        raise ApiError(400, f"at most {EXTRA_FIELDS} extra heartbeat fields, got {len(extra)}")
    for key, value in extra.items():
        if len(key) > 64 or not _printable(key):
            raise ApiError(400, f"extra heartbeat field name {key[:64]!r} must be up to 64 printable characters")
        _extra_value(key, value, 0)
    size = len(json.dumps(extra, allow_nan=False))
    if size > EXTRA_BYTES:
        raise ApiError(400, f"extra heartbeat fields take {size} bytes of JSON; at most {EXTRA_BYTES}")
    return extra


def header_int(request: web.Request, name: str) -> int | None:
    """An optional non-negative integer header (X-Frame-Seq, X-Capture-Ms) up to MAX_INT."""
    raw = request.headers.get(name)
    if raw is None:
        return None
    stripped = raw.strip()
    if not (stripped.isascii() and stripped.isdigit()) or len(stripped) > 16 or int(stripped) > MAX_INT:
        raise ApiError(400, f"header {name} must be an integer from 0 to {MAX_INT}, got {raw[:40]!r}")
    return int(stripped)
