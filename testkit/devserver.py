"""A scriptable device-API server for end-to-end tests: real HTTP/1.1 keep-alive on 127.0.0.1.

It implements register, frame upload (multipart or raw JPEG) and heartbeat like the hub's contract
(docs/architecture.md), records every request with the connection it came on, and misbehaves on cue:
`script()` arms a rule (answer a status, reset mid-body, hang up instead of answering, stall the response)
for a time window or a number of requests; `close_listener()`/`open_listener()` take the port away and give it
back; `stop_accepting()` leaves it open with a full accept queue, so new connects time out while open
connections go on, as with a hub whose process hangs. With `tls=(certfile, keyfile)` it speaks HTTPS.
It runs its own event loop in a background thread, so tests drive it with plain calls.
"""

from __future__ import annotations

import asyncio
import http
import itertools
import json
import math
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ENDPOINTS = {
    "/api/v1/devices/register": "register",
    "/api/v1/stream/stream": "frame",
    "/api/v1/devices/heartbeat": "heartbeat",
}


@dataclass
class Request:
    at: float  # time.monotonic() when the request was complete (for a reset: when it was cut)
    conn: int
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int | None  # None: not answered (reset or stalled)
    outcome: str  # "answered", "reset", "hung up" or "stalled"
    jpeg: bytes | None = None  # the frame of an accepted upload
    ended_at: float | None = None  # a stall: when the client gave up (or the stall expired)

    @property
    def endpoint(self) -> str:
        return ENDPOINTS.get(self.path, "other")

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Rule:
    endpoint: str  # "register", "frame", "heartbeat" or "any"
    status: int | None = None
    reset: bool = False
    hangup: str | None = None  # after reading the whole request: "rst" (abortive close) or "fin" (plain close)
    stall_s: float = 0.0
    content_type: str | None = None  # only requests whose Content-Type starts with this
    start: float = field(default_factory=time.monotonic)
    end: float = math.inf
    times: int | None = None
    hits: int = 0

    def applies(self, endpoint: str, content_type: str, now: float) -> bool:
        return (
            self.endpoint in ("any", endpoint)
            and self.start <= now < self.end
            and (self.times is None or self.hits < self.times)
            and (self.content_type is None or content_type.startswith(self.content_type))
        )


def header_param(value: str, name: str) -> str | None:
    """`name` from a header like `form-data; name="image"; filename="x.jpg"`."""
    match = re.search(rf'(?:^|;)\s*{name}="?([^";]*)"?', value)
    return match.group(1) if match else None


def parse_multipart(body: bytes, content_type: str) -> dict[str, tuple[dict[str, str], bytes]]:
    """Parts of a multipart/form-data body by field name; ValueError says what is malformed."""
    boundary = header_param(content_type, "boundary")
    if not boundary:
        raise ValueError("multipart Content-Type without a boundary")
    delimiter = b"--" + boundary.encode()
    if not body.startswith(delimiter + b"\r\n"):
        raise ValueError("body does not start with the boundary")
    closing = body.rfind(b"\r\n" + delimiter + b"--")
    if closing < 0 or body[closing + len(delimiter) + 4 :] not in (b"", b"\r\n"):
        raise ValueError("no closing boundary at the end of the body")
    parts = {}
    for chunk in body[len(delimiter) + 2 : closing].split(b"\r\n" + delimiter + b"\r\n"):
        head, blank, data = chunk.partition(b"\r\n\r\n")
        if not blank:
            raise ValueError("part without a blank line after its headers")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, colon, value = line.partition(":")
            if not colon:
                raise ValueError(f"malformed part header {line!r}")
            headers[name.strip().lower()] = value.strip()
        field_name = header_param(headers.get("content-disposition", ""), "name")
        if not field_name:
            raise ValueError("part without a Content-Disposition name")
        parts[field_name] = (headers, data)
    return parts


def frame_of(headers: dict[str, str], body: bytes) -> bytes:
    """The JPEG of an upload; ValueError (400) or LookupError (415) with a readable reason."""
    content_type = headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        parts = parse_multipart(body, content_type)
        if "image" not in parts or "deviceId" not in parts:
            raise ValueError(f"multipart needs the fields image and deviceId, got {sorted(parts)}")
        if parts["deviceId"][1].decode() != headers.get("x-device-id"):
            raise ValueError("deviceId field differs from X-Device-Id")
        image_headers, jpeg = parts["image"]
        if image_headers.get("content-type") != "image/jpeg":
            raise ValueError("image part is not image/jpeg")
    elif content_type == "image/jpeg":
        jpeg = body
    else:
        raise LookupError(f"unsupported content type {content_type!r}")
    if not (jpeg.startswith(b"\xff\xd8") and jpeg.endswith(b"\xff\xd9")):
        raise ValueError("not a complete JPEG")
    return jpeg


class DevServer:
    """`with DevServer() as server:`; `server.url` is what the firmware's CAMSTREAM_SERVER_URL points at."""

    def __init__(self, api_key: str = "test-key", tls: tuple[str, str] | None = None) -> None:
        self.api_key = api_key
        self._tls: ssl.SSLContext | None = None
        if tls is not None:
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(*tls)
        self.port = 0
        self.registered: set[str] = set()
        self._requests: list[Request] = []
        self._rules: list[Rule] = []
        self._cond = threading.Condition()
        self._conn_ids = itertools.count(1)
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._frozen: list[socket.socket] = []  # a listener nobody accepts on, and the connection filling its queue
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="devserver", daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    # lifecycle
    def __enter__(self) -> DevServer:
        self._thread.start()
        self.open_listener()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_listener()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=5)

    def open_listener(self) -> None:
        """Listen (again, on the same port after close_listener())."""
        self._call(self._listen())

    def close_listener(self) -> None:
        """Stop listening and cut every connection: connects are refused until open_listener()."""
        self._call(self._unlisten())
        for sock in self._frozen:
            sock.close()
        self._frozen = []

    def stop_accepting(self) -> None:
        """Keep the port open but accept nothing: with its accept queue full the kernel drops every SYN, so
        connects time out; connections already open are served as before."""
        self._call(self._unlisten(keep_connections=True))
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(0)
        self._frozen = [listener, socket.create_connection(("127.0.0.1", self.port), timeout=2)]

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True, ssl=self._tls
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _unlisten(self, keep_connections: bool = False) -> None:
        if self._server is None:
            return
        self._server.close()
        if not keep_connections:
            for writer in list(self._writers):
                writer.transport.abort()
            await self._server.wait_closed()
        self._server = None

    # scripting and inspection (any thread)
    def script(
        self,
        endpoint: str,
        *,
        status: int | None = None,
        reset: bool = False,
        hangup: str | None = None,
        stall_s: float = 0.0,
        for_s: float = math.inf,
        times: int | None = None,
        content_type: str | None = None,
    ) -> Rule:
        """From now on, for `for_s` seconds or `times` requests, misbehave on `endpoint`."""
        now = time.monotonic()
        rule = Rule(endpoint, status, reset, hangup, stall_s, content_type, now, now + for_s, times)
        with self._cond:
            self._rules.append(rule)
        return rule

    def forget(self, device_id: str) -> None:
        """Like a hub that lost its registry: heartbeats of this device get 404 until it registers again."""
        with self._cond:
            self.registered.discard(device_id)

    def requests(self, endpoint: str | None = None) -> list[Request]:
        with self._cond:
            return [r for r in self._requests if endpoint is None or r.endpoint == endpoint]

    def frames(self) -> list[Request]:
        """Accepted frame uploads, in arrival order."""
        return [r for r in self.requests("frame") if r.accepted]

    def wait_for(self, predicate: Callable[[DevServer], bool], timeout: float, what: str = "condition") -> None:
        """Block until predicate(server) holds, re-checked on every request; AssertionError after `timeout`."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout):
                raise AssertionError(f"devserver: timed out after {timeout} s waiting for {what}")

    def _record(self, request: Request) -> None:
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()

    def _rule_for(self, endpoint: str, content_type: str) -> Rule | None:
        now = time.monotonic()
        with self._cond:
            for rule in self._rules:
                if rule.applies(endpoint, content_type, now):
                    rule.hits += 1
                    return rule
        return None

    # HTTP
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = next(self._conn_ids)
        self._writers.add(writer)
        try:
            while await self._one(conn, reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _one(self, conn: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; returns whether the connection stays open."""
        line = await reader.readline()
        if not line:
            return False
        method, path, _version = line.decode("latin-1").split()
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        endpoint = ENDPOINTS.get(path, "other")
        rule = self._rule_for(endpoint, headers.get("content-type", ""))
        if rule is not None and rule.reset:
            body = await reader.readexactly(length // 2)
            self._record(Request(time.monotonic(), conn, method, path, headers, body, None, "reset"))
            return False
        body = await reader.readexactly(length)
        if rule is not None and rule.hangup:
            self._record(Request(time.monotonic(), conn, method, path, headers, body, None, "hung up"))
            sock = writer.get_extra_info("socket")
            if rule.hangup == "rst" and sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if rule is not None and rule.stall_s:
            arrived = time.monotonic()
            try:
                async with asyncio.timeout(rule.stall_s):
                    # A hung server takes in what follows (a pipelined request) and answers nothing.
                    while await reader.read(65536):
                        pass
            except TimeoutError:
                pass  # else b"": the client gave up
            self._record(
                Request(arrived, conn, method, path, headers, body, None, "stalled", ended_at=time.monotonic())
            )
            return False
        jpeg = None
        if rule is not None and rule.status is not None:
            status, reply = rule.status, {"error": f"scripted HTTP {rule.status}"}
        else:
            status, reply, jpeg = self._handle(endpoint, headers, body)
        self._record(Request(time.monotonic(), conn, method, path, headers, body, status, "answered", jpeg))
        data = json.dumps(reply).encode()
        writer.write(
            f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        await writer.drain()
        return headers.get("connection", "").lower() != "close"

    def _handle(self, endpoint: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes | None]:
        if headers.get("x-api-key") != self.api_key:
            return 401, {"error": "invalid API key"}, None
        if endpoint == "frame":
            try:
                jpeg = frame_of(headers, body)
            except LookupError as exc:
                return 415, {"error": str(exc)}, None
            except ValueError as exc:
                return 400, {"error": str(exc)}, None
            return 200, {"ok": True, "bytes": len(jpeg)}, jpeg
        if endpoint not in ("register", "heartbeat"):
            return 404, {"error": "no such endpoint"}, None
        try:
            doc = json.loads(body)
            device_id = doc["deviceId"]
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "a JSON object with deviceId is required"}, None
        with self._cond:
            if endpoint == "register":
                self.registered.add(device_id)
            elif device_id not in self.registered:
                return 404, {"error": f"unknown device {device_id!r}"}, None
        return 200, {"ok": True, "deviceId": device_id}, None
