"""Live-stream viewers for hub tests: one that never reads, frames big enough to fill its socket, and a poll."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

from .jpegs import make_jpeg

BIG = [make_jpeg(f"big {n}", size=(640, 480), quality=60, noise=20 + n) for n in range(4)]  # ~70 KB each


async def wait_for(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def stalled_viewer(url: str, device: str = "cam1") -> socket.socket:
    """A viewer that asks for the stream and then never reads: tiny receive window, nothing consumed."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(f"GET /devices/{device}/stream.mjpg HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock
