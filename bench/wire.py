"""Just enough HTTP/1.1 and MJPEG to drive a server from asyncio streams.

Hand-written rather than aiohttp's client so the load generator spends its CPU on moving bytes, not on a general
client, and so the same parser reads any server's multipart stream (with or without part Content-Length,
chunked or not), as a browser would.
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class ByteSource(Protocol):
    async def readuntil(self, separator: bytes) -> bytes: ...

    async def readexactly(self, n: int) -> bytes: ...


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Status code and lower-cased headers of a response head (status line .. blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP status line: {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One whole response (head and body) so the next request can reuse the connection."""
    status, headers = parse_head(await reader.readuntil(b"\r\n\r\n"))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return status, headers, await ChunkedBody(reader).read_to_end()
    if "content-length" in headers:
        return status, headers, await reader.readexactly(int(headers["content-length"]))
    return status, headers, await reader.read()  # close-delimited body


def boundary_of(content_type: str) -> bytes:
    """The multipart boundary named in a Content-Type header."""
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    raise ValueError(f"no multipart boundary in Content-Type {content_type!r}")


class ChunkedBody:
    """Undoes Transfer-Encoding: chunked, offering the stream interface the MJPEG reader needs."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buf = bytearray()
        self._done = False

    async def _fill(self) -> bool:
        """Appends the next chunk's data to the buffer; False at the terminating zero-size chunk."""
        if self._done:
            return False
        line = await self._reader.readuntil(b"\r\n")
        size = int(line.split(b";", 1)[0], 16)
        if size == 0:
            self._done = True
            while await self._reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            return False
        self._buf += await self._reader.readexactly(size + 2)
        if not self._buf.endswith(b"\r\n"):
            raise ValueError("chunk not followed by CRLF")
        del self._buf[-2:]
        return True

    async def _more(self) -> None:
        if not await self._fill():
            raise asyncio.IncompleteReadError(bytes(self._buf), None)

    async def read_to_end(self) -> bytes:
        while await self._fill():
            pass
        return bytes(self._buf)

    async def readexactly(self, n: int) -> bytes:
        while len(self._buf) < n:
            await self._more()
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    async def readuntil(self, separator: bytes) -> bytes:
        start = 0
        while (at := self._buf.find(separator, start)) < 0:
            start = max(0, len(self._buf) - len(separator) + 1)
            await self._more()
        end = at + len(separator)
        out = bytes(self._buf[:end])
        del self._buf[:end]
        return out


def _part_length(head: bytes) -> int | None:
    at = head.lower().find(b"content-length:")
    if at < 0:
        return None
    end = head.find(b"\r\n", at)
    return int(head[at + 15 : end if end >= 0 else None])


class MjpegParts:
    """Successive JPEGs of a multipart/x-mixed-replace body."""

    def __init__(self, body: ByteSource, boundary: bytes) -> None:
        self._body = body
        self._delimiter = b"\r\n--" + boundary

    async def next_part(self) -> bytes:
        head = await self._body.readuntil(b"\r\n\r\n")
        length = _part_length(head)
        if length is not None:
            return await self._body.readexactly(length)
        data = await self._body.readuntil(self._delimiter)  # parts without a length end at the next boundary
        return data[: -len(self._delimiter)]
