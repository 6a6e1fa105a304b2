"""Strict multipart/form-data (RFC 7578 over RFC 2046) parsing of a body that is already in memory.

A frame upload is small and bounded, so finding the boundaries in the whole body with `bytes.find` is several
times cheaper than a streaming parser; the parts come back as memoryviews into that body, not copies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BOUNDARY = 70  # RFC 2046 section 5.1.1
MAX_PARTS = 32
MAX_HEADER_BLOCK = 8 * 1024
_BCHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'()+_,-./:=? ")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_IDENTITY_ENCODINGS = ("binary", "8bit", "7bit")


class MultipartError(ValueError):
    """The Content-Type or the body breaks multipart/form-data; the message says where and how."""


@dataclass(frozen=True, eq=False)
class Part:
    name: str
    filename: str | None
    content_type: str | None  # media type, lowercased, without parameters; None if the part has none
    data: memoryview  # the part's content inside the parsed body


def parameters(value: str, what: str) -> tuple[str, dict[str, str]]:
    """`kind; key=token; key="quoted \\"string\\""` -> ("kind", {key: value}), keys lowercased."""
    kind, _, rest = value.partition(";")
    kind = kind.strip()
    if not kind:
        raise MultipartError(f"{what} {value[:80]!r} has no value before its parameters")
    params: dict[str, str] = {}
    pos, end = 0, len(rest)
    while pos < end:
        if rest[pos] in " \t;":
            pos += 1
            continue
        equals = rest.find("=", pos)
        semicolon = rest.find(";", pos)
        if equals < 0 or 0 <= semicolon < equals:
            raise MultipartError(
                f"{what} parameter {rest[pos : semicolon if semicolon >= 0 else end].strip()!r} has no '=value'"
            )
        key = rest[pos:equals].strip().lower()
        if _TOKEN.fullmatch(key) is None:
            raise MultipartError(f"{what} has a malformed parameter name {rest[pos:equals][:40]!r}")
        pos = equals + 1
        while pos < end and rest[pos] in " \t":
            pos += 1
        if pos < end and rest[pos] == '"':
            text, pos = _quoted(rest, pos + 1, what, key)
        else:
            stop = rest.find(";", pos)
            stop = end if stop < 0 else stop
            text, pos = rest[pos:stop].strip(), stop
            if '"' in text or " " in text:
                raise MultipartError(f"{what} parameter {key!r} has a malformed value {text[:40]!r}")
        if key in params:
            raise MultipartError(f"{what} has the parameter {key!r} twice")
        params[key] = text
    return kind, params


def _quoted(text: str, pos: int, what: str, key: str) -> tuple[str, int]:
    """A quoted-string from just after its opening quote; returns the unescaped value and the position after it."""
    out: list[str] = []
    end = len(text)
    while pos < end:
        ch = text[pos]
        if ch == '"':
            after = pos + 1
            while after < end and text[after] in " \t":
                after += 1
            if after < end and text[after] != ";":
                raise MultipartError(f"{what} parameter {key!r} has text after its closing quote")
            return "".join(out), after
        if ch == "\\" and pos + 1 < end:
            pos += 1
            ch = text[pos]
        out.append(ch)
        pos += 1
    raise MultipartError(f"{what} parameter {key!r} has no closing quote")


def boundary(content_type: str) -> bytes:
    """The boundary of a `multipart/form-data; boundary=...` Content-Type, checked against RFC 2046."""
    kind, params = parameters(content_type, "Content-Type")
    if kind.lower() != "multipart/form-data":
        raise MultipartError(f"Content-Type is {kind!r}, not multipart/form-data")
    value = params.get("boundary")
    if value is None:
        raise MultipartError("Content-Type multipart/form-data has no boundary parameter")
    if not 1 <= len(value) <= MAX_BOUNDARY:
        raise MultipartError(f"boundary must be 1 to {MAX_BOUNDARY} characters long, got {len(value)}")
    if value.endswith(" ") or not _BCHARS.issuperset(value):
        raise MultipartError(f"boundary {value[:80]!r} has characters RFC 2046 does not allow")
    return value.encode("ascii")


def parse(body: bytes, boundary: bytes) -> list[Part]:
    """Every part of a complete multipart/form-data body; the preamble and the epilogue are ignored."""
    dash = b"--" + boundary
    delimiter = b"\r\n" + dash
    if body.startswith(dash):
        pos = len(dash)
    else:
        first = body.find(delimiter)
        if first < 0:
            raise MultipartError(f"no boundary line {dash.decode()!r} in the body")
        pos = first + len(delimiter)
    if body.startswith(b"--", pos):
        raise MultipartError("the body has no parts, only a closing boundary")
    view = memoryview(body)
    parts: list[Part] = []
    while not body.startswith(b"--", pos):
        number = len(parts) + 1
        pos = _line_end(body, pos, dash)
        if number > MAX_PARTS:
            raise MultipartError(f"more than {MAX_PARTS} parts")
        end = body.find(delimiter, pos)
        if end < 0:
            raise MultipartError(
                f"part {number} is not followed by a boundary: the body is truncated or "
                f"its closing {dash.decode()}-- is missing"
            )
        if body.startswith(b"\r\n", pos) and pos + 2 <= end:
            head_end, start = pos, pos + 2
        else:
            blank = body.find(b"\r\n\r\n", pos, end)
            if blank < 0:
                raise MultipartError(f"part {number}: its header block does not end with a blank line (CRLF CRLF)")
            head_end, start = blank, blank + 4
        if head_end - pos > MAX_HEADER_BLOCK:
            raise MultipartError(f"part {number}: headers longer than {MAX_HEADER_BLOCK} bytes")
        parts.append(_part(number, body[pos:head_end], view[start:end]))
        pos = end + len(delimiter)
    return parts


def _line_end(body: bytes, pos: int, dash: bytes) -> int:
    """Skips the transport padding and CRLF that end a boundary line; returns where the part begins."""
    while body[pos : pos + 1] in (b" ", b"\t"):
        pos += 1
    if pos < len(body) and not body.startswith(b"\r\n", pos):
        raise MultipartError(
            f"boundary line {dash.decode()} is followed by {body[pos : pos + 20]!r}, not a line break (CRLF)"
        )
    if pos + 2 >= len(body):
        raise MultipartError(f"the body ends without its closing boundary {dash.decode()}--")
    return pos + 2


def _part(number: int, head: bytes, data: memoryview) -> Part:
    headers = _headers(number, head)
    disposition = headers.get("content-disposition")
    if disposition is None:
        raise MultipartError(f"part {number} has no Content-Disposition header")
    kind, params = parameters(disposition, f"part {number}: Content-Disposition")
    if kind.lower() != "form-data":
        raise MultipartError(f"part {number}: Content-Disposition is {kind!r}, not form-data")
    name = params.get("name")
    if name is None:
        raise MultipartError(f"part {number}: Content-Disposition has no name parameter")
    label = f"part {number} ({name!r})"
    encoding = headers.get("content-transfer-encoding")
    if encoding is not None and encoding.lower() not in _IDENTITY_ENCODINGS:
        raise MultipartError(f"{label}: Content-Transfer-Encoding {encoding!r} is not supported; send binary")
    content_type = None
    if "content-type" in headers:
        content_type = parameters(headers["content-type"], f"{label}: Content-Type")[0].lower()
        if content_type.count("/") != 1:
            raise MultipartError(f"{label}: Content-Type {content_type!r} is not a media type (type/subtype)")
    return Part(name, params.get("filename"), content_type, data)


def _headers(number: int, head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    if not head:
        return headers
    for line in head.split(b"\r\n"):
        raw_name, colon, value = line.partition(b":")
        name = raw_name.decode("latin-1")
        if not colon or _TOKEN.fullmatch(name) is None or b"\r" in value or b"\n" in value:
            problem = "folded header line" if line[:1] in (b" ", b"\t") else "malformed header line"
            raise MultipartError(f"part {number}: {problem} {line[:60]!r}")
        key = name.lower()
        if key in headers:
            raise MultipartError(f"part {number} has the header {name!r} twice")
        try:
            headers[key] = value.strip(b" \t").decode("utf-8")
        except UnicodeDecodeError:
            raise MultipartError(f"part {number}: header {name!r} is not UTF-8") from None
    return headers
