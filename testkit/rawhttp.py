"""HTTP/1.1 written byte by byte, for requests no well-behaved client library would send (bad bytes in headers,
odd Host values, truncated bodies) and for reading the hub's exact answer."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def request_bytes(method: str, path: str, headers: Mapping[str, str | bytes], body: bytes = b"") -> bytes:
    """A request head (values may be raw bytes) plus body; Content-Length is added when there is a body."""
    lines = [f"{method} {path} HTTP/1.1".encode()]
    if body and not any(name.lower() == "content-length" for name in headers):
        headers = {**headers, "Content-Length": str(len(body))}
    for name, value in headers.items():
        lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else value.encode("latin-1")))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def read_answer(reader: asyncio.StreamReader, head_only: bool = False) -> Answer:
    """One answer; `head_only` for the answer to a HEAD request (its Content-Length describes no body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = 0 if head_only else int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return Answer(int(status_line.split()[1]), headers, body)


async def exchange(url: str, raw: bytes, timeout_s: float = 10.0) -> Answer:
    """Sends `raw` on a new connection to the hub at `url` and reads one answer."""
    parts = urlsplit(url)
    async with asyncio.timeout(timeout_s):
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            writer.write(raw)
            await writer.drain()
            return await read_answer(reader)
        finally:
            writer.close()


async def send(
    url: str, method: str, path: str, headers: Mapping[str, str | bytes], body: bytes = b"", timeout_s: float = 10.0
) -> Answer:
    host = urlsplit(url).netloc
    return await exchange(url, request_bytes(method, path, {"Host": host, **headers}, body), timeout_s)
