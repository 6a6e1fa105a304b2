"""Frame age at slow viewers: a 30 fps camera posting numbered 720p frames to a hub, a viewer that reads slower
than that in a process of its own, and what it measured (used by the tests and by `make bench`).

Age is the hub's receive time of a frame (its answer to the camera, within a ms of it) to the moment the viewer
has the whole frame. The frames carry their number in their pixels, so a client that only gives pictures
(OpenCV) is measured the same way as one that reads the part headers.

    python -m testkit.lag raw URL SECONDS RATE       parts read at RATE a second from a raw socket
    python -m testkit.lag opencv URL SECONDS WORK_S  cv2.VideoCapture, WORK_S of work after each frame
Each prints one JSON line per frame: {"code", "at", "unread"} (unread: bytes waiting in its receive buffer).
"""

from __future__ import annotations

import fcntl
import http.client
import io
import json
import socket
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, ImageDraw

CODE_BITS = 10
CODES = 1 << CODE_BITS  # 34 s of frames at 30 fps before a number comes back
_CELL = 64
_ORIGIN = (32, 32)


def coded_frame(code: int, size: tuple[int, int] = (1280, 720), quality: int = 30) -> bytes:
    """A 720p picture with `code` drawn as CODE_BITS black/white squares in its top-left corner."""
    width, height = size
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    for n in range(0, width, 40):  # edges, so the frame compresses like a scene and not like a flat fill
        draw.line((n, 0, width - n, height), fill=(n % 256, 90, 200 - n % 200), width=3)
    x0, y0 = _ORIGIN
    draw.rectangle((x0 - 8, y0 - 8, x0 + CODE_BITS * _CELL + 8, y0 + _CELL + 8), fill=(128, 128, 128))
    for bit in range(CODE_BITS):
        on = code >> bit & 1
        x = x0 + bit * _CELL
        draw.rectangle((x + 4, y0 + 4, x + _CELL - 5, y0 + _CELL - 5), fill=(255, 255, 255) if on else (0, 0, 0))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def read_code(pixel: Any) -> int:
    """The number drawn by coded_frame, from `pixel(x, y)` -> brightness 0..255 of the decoded picture."""
    x0, y0 = _ORIGIN
    return sum(1 << bit for bit in range(CODE_BITS) if pixel(x0 + bit * _CELL + _CELL // 2, y0 + _CELL // 2) > 127)


@dataclass
class Camera:
    """Posts frames `codes` to the hub at `fps` over one keep-alive connection, like the firmware."""

    url: str
    key: str
    device: str
    frames: list[bytes]
    fps: float = 30.0

    def __post_init__(self) -> None:
        self.answered: dict[int, float] = {}  # code -> when the hub answered its latest post
        self.history: list[tuple[int, float]] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-camera", daemon=True)

    def _run(self) -> None:
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=10)
        start = time.monotonic()
        seq = 0
        while not self._stop.is_set():
            code = seq % len(self.frames)
            headers = {"X-API-Key": self.key, "X-Device-Id": self.device, "Content-Type": "image/jpeg"}
            headers["X-Frame-Seq"] = str(seq)
            try:
                conn.request("POST", "/api/v1/stream/stream", self.frames[code], headers)
                answer = conn.getresponse()
                answer.read()
                if answer.status != 200:
                    self.errors += 1
            except (OSError, http.client.HTTPException):
                self.errors += 1
                conn.close()
            else:
                at = time.time()
                self.answered[code] = at
                self.history.append((code, at))
            seq += 1
            pause = start + seq / self.fps - time.monotonic()
            if pause > 0:
                self._stop.wait(pause)
        conn.close()

    def start(self) -> Camera:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)

    def sent_at(self, code: int, seen_at: float) -> float | None:
        """When the hub took the newest post of frame `code` that was taken before `seen_at`."""
        for sent_code, at in reversed(self.history):
            if sent_code == code and at <= seen_at + 0.05:
                return at
        return None


@dataclass
class LagResult:
    ages: list[float]  # seconds, in the order the viewer got the frames
    times: list[float]  # when the viewer got each, seconds from its first
    unread: list[int]  # bytes waiting in the viewer's receive buffer as it finished each frame
    frame_bytes: int
    rate: float  # frames a second the viewer got

    def percentile(self, q: float) -> float:
        ordered = sorted(self.ages)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def growth(self) -> float:
        """Mean age over the last third of the run minus over the first third, seconds."""
        third = max(1, len(self.ages) // 3)
        return statistics.fmean(self.ages[-third:]) - statistics.fmean(self.ages[:third])

    def buffer_share_s(self) -> float:
        """How much of the mean age is the viewer's own receive buffer: the frames waiting in it, read at its rate."""
        return statistics.fmean(self.unread) / self.frame_bytes / self.rate if self.rate else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "frames": len(self.ages),
            "fps": round(self.rate, 2),
            "age_p50_s": round(self.percentile(50), 3),
            "age_p99_s": round(self.percentile(99), 3),
            "age_max_s": round(max(self.ages), 3),
            "growth_s": round(self.growth(), 3),
            "rcvbuf_kb": round(statistics.fmean(self.unread) / 1024, 1),
            "rcvbuf_share_s": round(self.buffer_share_s(), 3),
        }


def measure(url: str, key: str, device: str, client: list[str], seconds: float, frames: list[bytes]) -> LagResult:
    """Runs the camera and one viewer (`client`: the arguments after `python -m testkit.lag`) against a hub."""
    camera = Camera(url, key, device, frames).start()
    try:
        deadline = time.monotonic() + 5
        while not camera.history:
            if time.monotonic() > deadline:
                raise AssertionError(f"the hub at {url} took no frame in 5 s ({camera.errors} errors)")
            time.sleep(0.01)
        argv = [sys.executable, "-m", "testkit.lag", client[0], f"{url}/devices/{device}/stream.mjpg", str(seconds)]
        done = subprocess.run(argv + client[1:], capture_output=True, text=True, timeout=seconds + 60)
    finally:
        camera.stop()
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    seen = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    ages, times, unread = [], [], []
    for row in seen:
        sent = camera.sent_at(row["code"], row["at"])
        if sent is not None:
            ages.append(max(row["at"] - sent, 0.0))
            times.append(row["at"] - seen[0]["at"])
            unread.append(row["unread"])
    if len(ages) < 10:
        raise AssertionError(f"the viewer got only {len(ages)} frames: {done.stderr[-2000:]}")
    span = times[-1] - times[0]
    return LagResult(ages, times, unread, len(frames[0]), (len(times) - 1) / span if span > 0 else 0.0)


def _unread(sock: socket.socket) -> int:
    return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))[0])


def _raw(url: str, seconds: float, rate: float) -> None:
    """A viewer with the system's default socket buffers that takes one part every 1/rate s."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=15)
    sock.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
    stream = sock.makefile("rb", buffering=0)
    while stream.readline() not in (b"\r\n", b""):  # response head (chunked body: sizes are lines too)
        pass
    reader = _Dechunk(stream)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        headers: dict[str, str] = {}
        while True:
            line = reader.readline()
            if not line:
                return
            text = line.decode().strip()
            if text.startswith("--"):
                continue
            if not text:
                if headers:
                    break
                continue
            name, _, value = text.partition(":")
            headers[name.strip().lower()] = value.strip()
        reader.read(int(headers["content-length"]))
        code = int(headers["x-frame-seq"]) % CODES
        print(json.dumps({"code": code, "at": time.time(), "unread": _unread(sock)}), flush=True)
        pause = started + 1 / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)


class _Dechunk:
    """The body of a chunked HTTP/1.1 response, read as a byte stream."""

    def __init__(self, raw: Any) -> None:
        self._raw, self._left, self._buf = raw, 0, b""

    def _fill(self) -> bool:
        if self._left == 0:
            size = self._raw.readline()
            if size == b"\r\n":
                size = self._raw.readline()
            self._left = int(size.strip() or b"0", 16)
            if self._left == 0:
                return False
        data = self._raw.read(min(self._left, 65536))
        if not data:
            return False
        self._left -= len(data)
        self._buf += data
        return True

    def readline(self) -> bytes:
        while b"\n" not in self._buf:
            if not self._fill():
                line, self._buf = self._buf, b""
                return line
        line, _, self._buf = self._buf.partition(b"\n")
        return line + b"\n"

    def read(self, size: int) -> bytes:
        while len(self._buf) < size and self._fill():
            pass
        data, self._buf = self._buf[:size], self._buf[size:]
        return data


def _opencv(url: str, seconds: float, work_s: float) -> None:
    """OpenCV's own MJPEG reading (its FFmpeg backend), with `work_s` of work after every frame."""
    import cv2

    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise SystemExit(f"OpenCV could not open {url}")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ok, picture = capture.read()
        if not ok:
            break
        at = time.time()
        code = read_code(lambda x, y, picture=picture: int(picture[y, x].mean()))
        print(json.dumps({"code": code, "at": at, "unread": 0}), flush=True)
        time.sleep(work_s)  # the detector's work: the client does not read meanwhile
    capture.release()


def main(argv: list[str]) -> None:
    kind, url, seconds, value = argv[0], argv[1], float(argv[2]), float(argv[3])
    {"raw": _raw, "opencv": _opencv}[kind](url, seconds, value)


if __name__ == "__main__":
    main(sys.argv[1:])
