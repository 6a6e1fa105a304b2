"""Load generator: N cameras posting stamped JPEGs as fast as a server accepts them, M MJPEG viewers.

Runs in its own process (the benchmark's server is another) and measures one window after a warm-up: frames
ingested, frames viewers saw, capture-to-viewer latency from the stamp inside each JPEG, and CPU seconds of the
server and of itself over the window. Prints one JSON object.

    python -m bench.loadgen --target hub --port 8080 --cameras 10 --viewers 20 --seconds 8 --server-pid 1234
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol

from bench import loopback, procstat, stamped_jpeg
from bench.wire import ChunkedBody, MjpegParts, boundary_of, parse_head, read_response

STREAM_LIMIT = 1 << 22  # lets readuntil() find a boundary past a whole JPEG
RETRY_S = 0.05
READY_TIMEOUT_S = 20.0


class Tally:
    """Counters shared by every camera and viewer task of the run (one event loop, so no locking)."""

    def __init__(self) -> None:
        self.ingested = 0
        self.seen = 0
        self.seen_bytes = 0
        self.duplicates = 0
        self.errors: Counter[str] = Counter()
        self.latencies_ns: list[int] = []
        self.recording = False
        self.cameras_up: set[str] = set()
        self.viewers_up: set[int] = set()

    def frame_seen(self, viewer: int, data: bytes, last: int | None) -> int | None:
        """Counts one received part; returns the stamp to compare the viewer's next part with."""
        now = time.monotonic_ns()
        sent = stamped_jpeg.read_stamp(data)
        if sent is None:
            self.errors["viewer part without a bench stamp"] += 1
            return last
        if sent == last:
            self.duplicates += 1  # the server sent the same frame again
            return last
        self.seen += 1
        self.seen_bytes += len(data)
        self.viewers_up.add(viewer)
        if self.recording:
            self.latencies_ns.append(now - sent)
        return sent


class Target(Protocol):
    async def camera(self, camera: str, frame: bytearray, offset: int, tally: Tally) -> None: ...

    async def viewer(self, camera: str, viewer: int, tally: Tally) -> None: ...


async def _watch(next_part: Callable[[], Awaitable[bytes]], viewer: int, tally: Tally) -> None:
    last = None
    while True:
        last = tally.frame_seen(viewer, await next_part(), last)


class HttpTarget:
    """A server speaking HTTP: the hub's device API and viewer stream, or the Flask baseline's."""

    def __init__(
        self, port: int, post_head: Callable[[str, int, int, int], bytes], stream_path: str, extra_headers: str = ""
    ) -> None:
        self._port = port
        self._post_head = post_head
        self._stream_path = stream_path
        self._extra = extra_headers

    async def camera(self, camera: str, frame: bytearray, offset: int, tally: Tally) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self._port, limit=STREAM_LIMIT)
        try:
            seq = 0
            while True:
                sent = time.monotonic_ns()
                stamped_jpeg.stamp(frame, offset, sent)
                writer.write(self._post_head(camera, seq, sent, len(frame)) + frame)
                status, headers, body = await read_response(reader)
                seq += 1
                if status == 200:
                    tally.ingested += 1
                    tally.cameras_up.add(camera)
                else:
                    tally.errors[f"POST {status} {body[:80]!r}"] += 1
                    await asyncio.sleep(RETRY_S)
                if headers.get("connection", "").lower() == "close":
                    return
        finally:
            writer.close()

    async def viewer(self, camera: str, viewer: int, tally: Tally) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self._port, limit=STREAM_LIMIT)
        try:
            path = self._stream_path.format(camera=camera)
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self._port}\r\n"
                f"Accept: multipart/x-mixed-replace,image/jpeg\r\n{self._extra}\r\n".encode()
            )
            status, headers = parse_head(await reader.readuntil(b"\r\n\r\n"))
            if status != 200:
                tally.errors[f"GET {path} {status}"] += 1
                await asyncio.sleep(RETRY_S)
                return
            chunked = headers.get("transfer-encoding", "").lower() == "chunked"
            parts = MjpegParts(ChunkedBody(reader) if chunked else reader, boundary_of(headers.get("content-type", "")))
            await _watch(parts.next_part, viewer, tally)
        finally:
            writer.close()


def hub_target(port: int, api_key: str) -> HttpTarget:
    def post_head(camera: str, seq: int, sent_ns: int, length: int) -> bytes:
        return (
            f"POST /api/v1/stream/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: image/jpeg\r\nContent-Length: {length}\r\nX-API-Key: {api_key}\r\n"
            f"X-Device-Id: {camera}\r\nX-Frame-Seq: {seq}\r\nX-Capture-Ms: {sent_ns // 1_000_000}\r\n\r\n"
        ).encode()

    return HttpTarget(port, post_head, "/devices/{camera}/stream.mjpg", f"X-API-Key: {api_key}\r\n")


def flask_target(port: int) -> HttpTarget:
    def post_head(camera: str, seq: int, sent_ns: int, length: int) -> bytes:
        return (
            f"POST /upload/{camera} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: image/jpeg\r\nContent-Length: {length}\r\n\r\n"
        ).encode()

    return HttpTarget(port, post_head, "/stream/{camera}")


class LoopbackTarget:
    """The raw relay of bench.loopback: the same frames and the same one-in-flight pattern, no HTTP."""

    def __init__(self, port: int) -> None:
        self._port = port

    async def camera(self, camera: str, frame: bytearray, offset: int, tally: Tally) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self._port, limit=STREAM_LIMIT)
        try:
            writer.write(b"C " + camera.encode() + b"\n")
            head = loopback.LENGTH.pack(len(frame))
            while True:
                stamped_jpeg.stamp(frame, offset, time.monotonic_ns())
                writer.write(head + frame)
                await reader.readexactly(len(loopback.ACK))
                tally.ingested += 1
                tally.cameras_up.add(camera)
        finally:
            writer.close()

    async def viewer(self, camera: str, viewer: int, tally: Tally) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self._port, limit=STREAM_LIMIT)
        try:
            writer.write(b"V " + camera.encode() + b"\n")

            async def next_part() -> bytes:
                head = await reader.readexactly(loopback.LENGTH.size)
                return await reader.readexactly(loopback.LENGTH.unpack(head)[0])

            await _watch(next_part, viewer, tally)
        finally:
            writer.close()


async def _forever(step: Callable[[], Awaitable[None]], tally: Tally) -> None:
    """Reconnects after every failure, counting it, as a real camera or browser would."""
    while True:
        try:
            await step()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            tally.errors[f"{type(exc).__name__}: {exc}"[:120]] += 1
            await asyncio.sleep(RETRY_S)


async def _until(ready: Callable[[], bool], what: str, tally: Tally) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {READY_TIMEOUT_S:.0f} s; errors: {dict(tally.errors)}")
        await asyncio.sleep(0.02)


def percentile(sorted_values: list[int], q: float) -> int:
    """Nearest-rank percentile of an already sorted list."""
    return sorted_values[max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))]


class Snapshot:
    def __init__(self, tally: Tally, server_pid: int) -> None:
        self.wall = time.monotonic()
        self.ingested = tally.ingested
        self.seen = tally.seen
        self.seen_bytes = tally.seen_bytes
        self.duplicates = tally.duplicates
        self.errors = sum(tally.errors.values())
        self.server_cpu = procstat.cpu_seconds(server_pid)
        self.client_cpu = procstat.cpu_seconds(os.getpid())
        self.machine = procstat.machine_ticks()


def summarize(a: Snapshot, b: Snapshot, tally: Tally, frame_bytes: int) -> dict:
    wall = b.wall - a.wall
    ingested = b.ingested - a.ingested
    server_cpu = b.server_cpu - a.server_cpu
    busy, total = (b.machine[0] - a.machine[0]), (b.machine[1] - a.machine[1])
    lat = sorted(tally.latencies_ns)
    return {
        "window_s": round(wall, 3),
        "ingested_frames": ingested,
        "ingest_fps": round(ingested / wall, 1),
        "ingest_mb_s": round(ingested * frame_bytes / wall / 1e6, 1),
        "view_fps": round((b.seen - a.seen) / wall, 1),
        "view_mb_s": round((b.seen_bytes - a.seen_bytes) / wall / 1e6, 1),
        "duplicate_fps": round((b.duplicates - a.duplicates) / wall, 1),
        "errors": b.errors - a.errors,
        "server_cpu_s": round(server_cpu, 3),
        "server_cpu_util": round(server_cpu / wall, 3),
        "cpu_ms_per_frame": round(server_cpu * 1000 / ingested, 3) if ingested else None,
        "client_cpu_util": round((b.client_cpu - a.client_cpu) / wall, 3),
        "machine_busy": round(busy / total, 3) if total else None,
        "latency_samples": len(lat),
        "latency_p50_ms": round(percentile(lat, 0.50) / 1e6, 2) if lat else None,
        "latency_p99_ms": round(percentile(lat, 0.99) / 1e6, 2) if lat else None,
    }


async def drive(
    target: Target, cameras: int, viewers: int, seconds: float, warmup: float, frame_bytes: int, server_pid: int
) -> dict:
    """Ramps up cameras then viewers, warms up, and measures one window of `seconds`."""
    frame = stamped_jpeg.build(frame_bytes)
    offset = stamped_jpeg.stamp_offset(frame)
    tally = Tally()
    names = [f"bench-cam-{i:02d}" for i in range(cameras)]
    tasks = [asyncio.create_task(_forever(partial(target.camera, n, frame, offset, tally), tally)) for n in names]
    try:
        await _until(lambda: len(tally.cameras_up) == cameras, "not every camera got a 200", tally)
        tasks += [
            asyncio.create_task(_forever(partial(target.viewer, names[v % cameras], v, tally), tally))
            for v in range(viewers)
        ]
        await _until(lambda: len(tally.viewers_up) == viewers, "not every viewer saw a frame", tally)
        await asyncio.sleep(warmup)
        start = Snapshot(tally, server_pid)
        tally.recording = True
        await asyncio.sleep(seconds)
        tally.recording = False
        end = Snapshot(tally, server_pid)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    result = summarize(start, end, tally, frame_bytes)
    result["error_kinds"] = dict(tally.errors.most_common(5))
    return result


def make_target(kind: str, port: int, api_key: str) -> Target:
    if kind == "hub":
        return hub_target(port, api_key)
    if kind == "flask":
        return flask_target(port)
    if kind == "loopback":
        return LoopbackTarget(port)
    raise ValueError(f"unknown target {kind!r} (hub, flask or loopback)")


def main() -> None:
    parser = argparse.ArgumentParser(description="camera/viewer load generator for the hub benchmark")
    parser.add_argument("--target", required=True, choices=("hub", "flask", "loopback"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server-pid", type=int, required=True, help="process whose CPU the window measures")
    parser.add_argument("--cameras", type=int, default=1)
    parser.add_argument("--viewers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--frame-bytes", type=int, default=40_000)
    parser.add_argument("--api-key", default="benchkey")
    args = parser.parse_args()
    if args.cameras < 1 or args.viewers < 0:
        parser.error("need at least one camera and no negative viewer count")
    target = make_target(args.target, args.port, args.api_key)
    try:
        result = asyncio.run(
            drive(target, args.cameras, args.viewers, args.seconds, args.warmup, args.frame_bytes, args.server_pid)
        )
    except TimeoutError as exc:
        result = {"error": str(exc)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
