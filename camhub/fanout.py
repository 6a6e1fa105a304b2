"""Live fan-out: one latest-frame slot per camera; each multipart part is built once and shared by all viewers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

BOUNDARY = "camhubframe"
CONTENT_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
# The stream opens with a boundary and every part ends with the next one, so a browser sees each frame's
# terminating boundary at once and shows it without waiting for the following frame.
PREAMBLE = f"--{BOUNDARY}\r\n".encode()
_TRAILER = f"\r\n--{BOUNDARY}\r\n".encode()


def build_part(jpeg: bytes, seq: int, received_at: float) -> bytes:
    head = (
        f"Content-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n"
        f"X-Frame-Seq: {seq}\r\nX-Timestamp: {received_at:.3f}\r\n\r\n"
    ).encode()
    return b"".join((head, jpeg, _TRAILER))


@dataclass(eq=False)
class Viewer:
    transport: asyncio.Transport | None

    def buffered(self) -> int:
        transport = self.transport
        return 0 if transport is None or transport.is_closing() else transport.get_write_buffer_size()


@dataclass(eq=False)
class Slot:
    """Holds only the newest frame: a viewer that falls behind skips straight to it."""

    seq: int = 0
    jpeg: bytes = b""
    part: bytes = b""
    received_at: float = 0.0
    viewers: set[Viewer] = field(default_factory=set)
    parts_sent: int = 0
    parts_skipped: int = 0
    viewers_dropped: int = 0
    closed: bool = False
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def publish(self, jpeg: bytes, received_at: float) -> None:
        """O(1) for the camera whatever the viewers do: it only swaps the slot and wakes the waiters."""
        self.seq += 1
        self.jpeg, self.received_at = jpeg, received_at
        self.part = build_part(jpeg, self.seq, received_at)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def close(self) -> None:
        """Ends every viewer's wait, so streams finish at shutdown instead of holding it up."""
        self.closed = True
        self._changed.set()

    async def next_after(self, seen: int) -> tuple[int, bytes] | None:
        """Waits for a frame newer than `seen` and returns the latest one (never a backlog); None once closed."""
        while self.seq == seen and not self.closed:
            await self._changed.wait()
        if self.closed:
            return None
        if seen:
            self.parts_skipped += self.seq - seen - 1
        self.parts_sent += 1
        return self.seq, self.part

    def buffered(self) -> int:
        return sum(viewer.buffered() for viewer in self.viewers)


class Fanout:
    def __init__(self) -> None:
        self._slots: dict[str, Slot] = {}

    def slot(self, device_id: str) -> Slot:
        slot = self._slots.get(device_id)
        if slot is None:
            slot = self._slots[device_id] = Slot()
        return slot

    def peek(self, device_id: str) -> Slot | None:
        return self._slots.get(device_id)

    def publish(self, device_id: str, jpeg: bytes, received_at: float) -> None:
        self.slot(device_id).publish(jpeg, received_at)

    def close(self) -> None:
        for slot in self._slots.values():
            slot.close()
