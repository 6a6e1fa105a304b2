"""A protocol fuzzer for the hub: valid requests of every kind, mutated at the byte level (cut short, bytes
flipped or inserted, headers doubled or swollen, lengths that lie, chunked bodies gone wrong, pipelines,
non-HTTP noise), each on its own connection, while a well-behaved camera streams beside them.

What must hold, whatever is sent: no answer is a 5xx, no connection outlives the hub's deadlines, and every
frame of the camera that was answered 200 is in its recording. Cases come from a seeded random.Random, so a
failure names the seed and the case's bytes to replay.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from testkit.jpegs import make_jpeg
from testkit.rawhttp import read_answer, request_bytes

CAMERA = "fuzz-real-cam"
_JPEG = make_jpeg("fuzz", size=(160, 120))
_TOKENS = [b"\x00", b"\xff", b"\r\n", b"\n", b":", b" ", b"%", b"%00", b"..", b"\xc3\x28", b"NaN", b"-1", b"9" * 30]


@dataclass
class Report:
    seed: int
    cases: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # "why: case bytes (cut)"
    slowest_s: float = 0.0
    camera_acked: int = 0
    camera_recorded: int = 0
    camera_errors: Counter[str] = field(default_factory=Counter)

    def fail(self, why: str, case: bytes) -> None:
        if len(self.failures) < 20:
            self.failures.append(f"{why}: {case[:300]!r}")


def _templates(key: str, host: str) -> list[bytes]:
    json_headers = {"Host": host, "X-API-Key": key, "Content-Type": "application/json"}
    frame_headers = {
        "Host": host,
        "X-API-Key": key,
        "Content-Type": "image/jpeg",
        "X-Device-Id": "fuzzcam",
        "X-Frame-Seq": "7",
        "X-Capture-Ms": "1234",
    }
    boundary = "fuzzb0undary"
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="deviceId"\r\n\r\nfuzzcam\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="f.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + _JPEG
        + f"\r\n--{boundary}--\r\n".encode()
    )
    register = {"deviceId": "fuzzcam", "deviceName": "Fuzz", "deviceType": "camera", "capabilities": ["jpeg"]}
    heartbeat = {"deviceId": "fuzzcam", "uptime": 5, "freeHeap": 1000, "wifiRssi": -50, "status": "online"}
    view = {"Host": host}
    return [
        request_bytes("POST", "/api/v1/devices/register", json_headers, json.dumps(register).encode()),
        request_bytes("POST", "/api/v1/devices/heartbeat", json_headers, json.dumps(heartbeat).encode()),
        request_bytes("POST", "/api/v1/stream/stream", frame_headers, _JPEG),
        request_bytes(
            "POST",
            "/api/v1/stream/stream",
            {"Host": host, "X-API-Key": key, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            multipart,
        ),
        request_bytes(
            "POST",
            "/api/v1/devices/fuzzcam/recording",
            {"Host": host, "Content-Type": "application/json"},
            b'{"enabled": true}',
        ),
        request_bytes("GET", "/api/v1/devices", view),
        request_bytes("GET", "/api/v1/devices/fuzzcam", view),
        request_bytes("GET", "/metrics", view),
        request_bytes("GET", "/healthz", view),
        request_bytes("GET", "/devices/fuzzcam/snapshot.jpg", view),
        request_bytes("GET", "/devices/fuzzcam/recording.mjpg?start=0&end=2000000000", view),
        request_bytes("GET", "/devices/fuzzcam/playback.mjpg?start=0&end=2000000000&speed=0", view),
        request_bytes("HEAD", "/devices/fuzzcam", view),
        request_bytes("GET", "/api/v1/devices/fuzzcam/settings", view),
        request_bytes(
            "PUT",
            "/api/v1/devices/fuzzcam/settings",
            {"Host": host, "Content-Type": "application/json"},
            b'{"frameSize": "VGA", "quality": 12, "vflip": true}',
        ),
        request_bytes("GET", "/api/v1/devices/fuzzcam/timeline?start=1700000000&end=1700086400", view),
        request_bytes("GET", "/api/v1/devices/fuzzcam/export?start=1700000000&end=1700000060&format=mkv", view),
        request_bytes("DELETE", "/api/v1/exports/0123abcd", {"Host": host, "Content-Type": "application/json"}),
        request_bytes("GET", "/", view),
    ]


def mutate(rng: random.Random, case: bytes) -> bytes:
    """One to three byte-level mutations of a valid request."""
    for _ in range(rng.randint(1, 3)):
        head, _, body = case.partition(b"\r\n\r\n")
        kind = rng.randrange(12)
        if kind == 0 and len(case) > 1:  # cut short
            case = case[: rng.randrange(1, len(case))]
        elif kind == 1 and case:  # flip bytes
            data = bytearray(case)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            case = bytes(data)
        elif kind == 2:  # insert a nasty token
            at = rng.randrange(len(case) + 1)
            case = case[:at] + rng.choice(_TOKENS) + case[at:]
        elif kind == 3:  # a header twice, with another value
            lines = head.split(b"\r\n")
            line = rng.choice(lines[1:] or lines)
            name = line.partition(b":")[0]
            lines.insert(rng.randrange(1, len(lines) + 1), name + b": " + rng.choice(_TOKENS) * rng.randint(1, 4))
            case = b"\r\n".join(lines) + b"\r\n\r\n" + body
        elif kind == 4:  # a swollen header
            case = head + b"\r\nX-Swollen: " + b"A" * rng.choice([100, 8000, 9000, 70_000]) + b"\r\n\r\n" + body
        elif kind == 5:  # a length that lies
            lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"content-length")]
            value = rng.choice([b"0", b"-1", b"1", str(len(body) + 100).encode(), b"99999999999999999999", b"x"])
            case = b"\r\n".join([*lines, b"Content-Length: " + value]) + b"\r\n\r\n" + body
        elif kind == 6:  # chunked, well or badly
            lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"content-length")]
            size = rng.choice([f"{len(body):x}".encode(), b"zz", b"-1", b"fffffffffffffffff", b"1"])
            chunks = size + b"\r\n" + body + b"\r\n" + rng.choice([b"0\r\n\r\n", b"", b"0\r\nX: y\r\n\r\n"])
            case = b"\r\n".join([*lines, b"Transfer-Encoding: chunked"]) + b"\r\n\r\n" + chunks
        elif kind == 7:  # pipelined with itself
            case = case * rng.randint(2, 4)
        elif kind == 8:  # a strange request line
            first, _, rest = head.partition(b"\r\n")
            method, _, tail = first.partition(b" ")
            path, _, version = tail.partition(b" ")
            choice = rng.randrange(4)
            if choice == 0:
                method = rng.choice([b"FOO", b"G\x00T", b"get", b"CONNECT", b"PRI"])
            elif choice == 1:
                path = rng.choice([b"/..%2f..%2fetc/passwd", b"/" + b"a" * 9000, b"*", b"//", b"/%00", b"http://x/"])
            elif choice == 2:
                version = rng.choice([b"HTTP/1.0", b"HTTP/2.0", b"HTTP/9", b"", b"HTTP/1.1 extra"])
            else:
                first = b""
            case = b" ".join(part for part in (method, path, version) if part) + b"\r\n" + rest + b"\r\n\r\n" + body
        elif kind == 9:  # noise instead of HTTP
            case = bytes(rng.randrange(256) for _ in range(rng.randint(1, 400)))
        elif kind == 10:  # headers without the final blank line
            case = head + b"\r\n"
        else:  # a numeric header pushed past its range
            name = rng.choice([b"X-Frame-Seq", b"X-Capture-Ms"])
            value = rng.choice([str(2**63).encode(), b"1e308", b"-0", b"\xd9\xa3", b"0x10", b"1_000"])
            case = head + b"\r\n" + name + b": " + value + b"\r\n\r\n" + body
    return case


def is_head(case: bytes) -> bool:
    """Whether the hub reads `case` as a HEAD request: HTTP servers skip empty lines before the request line."""
    return case.lstrip(b"\r\n").startswith(b"HEAD ")


async def _one(rng: random.Random, host: str, port: int, case: bytes, deadline_s: float, report: Report) -> None:
    """Send one case; the first answer (or the close) must come within `deadline_s`, later ones (pipelines) are
    read while they keep coming. A kept-alive connection left idle afterwards is fine: the hub's idle timeout
    is its business."""
    started = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        report.fail(f"connect failed: {exc}", case)
        return
    try:
        writer.write(case)
        await writer.drain()
        if rng.random() < 0.3:
            writer.write_eof()
        wait = deadline_s
        while True:
            try:
                async with asyncio.timeout(wait):
                    answer = await read_answer(reader, head_only=is_head(case))
            except TimeoutError:
                if wait == deadline_s:
                    report.fail(f"no answer and not closed within {deadline_s} s", case)
                break
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
                report.statuses["closed"] += 1
                break
            report.statuses[f"{answer.status // 100}xx"] += 1
            if answer.status >= 500 and answer.status != 503:
                report.fail(f"status {answer.status} {answer.body[:120]!r}", case)
            if "content-length" not in answer.headers or answer.headers.get("connection") == "close":
                break  # a stream or a chunked download (read_answer does not follow those), or the end
            wait = 1.0
    except (ConnectionError, OSError):
        report.statuses["reset"] += 1
    finally:
        writer.close()
        report.slowest_s = max(report.slowest_s, time.monotonic() - started)


async def _camera(url: str, key: str, stop: asyncio.Event, report: Report) -> None:
    """A well-behaved camera on a kept-alive connection, 10 frames a second, every answer checked."""
    import aiohttp

    seq = 0
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            seq += 1
            jpeg = make_jpeg(f"real {seq}", size=(160, 120))
            headers = {"X-API-Key": key, "X-Device-Id": CAMERA, "X-Frame-Seq": str(seq), "Content-Type": "image/jpeg"}
            try:
                async with session.post(f"{url}/api/v1/stream/stream", data=jpeg, headers=headers) as response:
                    if response.status == 200:
                        report.camera_acked += 1
                    else:
                        report.camera_errors[str(response.status)] += 1
            except aiohttp.ClientError as exc:
                report.camera_errors[type(exc).__name__] += 1
            await asyncio.sleep(0.1)


async def run(url: str, key: str, seconds: float, seed: int, concurrency: int = 32, deadline_s: float = 8.0) -> Report:
    """Fuzz the hub at `url` for `seconds`; the camera's recording is checked at the end (record it)."""
    import aiohttp

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    rng = random.Random(seed)
    templates = _templates(key, parts.netloc)
    report = Report(seed)
    stop = asyncio.Event()
    camera = asyncio.create_task(_camera(url, key, stop, report))
    ends = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < ends:
            case = mutate(rng, rng.choice(templates))
            report.cases += 1
            await _one(rng, host, port, case, deadline_s, report)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    stop.set()
    await camera
    async with aiohttp.ClientSession() as session:
        query = "start=0&end=253402214399"
        async with session.get(f"{url}/devices/{CAMERA}/recording.mjpg?{query}") as response:
            body = await response.read() if response.status == 200 else b""
        report.camera_recorded = body.count(b"Content-Type: image/jpeg")
        async with session.get(f"{url}/healthz") as response:
            if response.status != 200:
                report.fail(f"/healthz {response.status} after fuzzing", b"")
    if report.camera_recorded < report.camera_acked:
        report.fail(f"camera: {report.camera_acked} frames answered 200, {report.camera_recorded} recorded", b"")
    return report
