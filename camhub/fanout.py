"""Live fan-out: one latest-frame slot per camera; each multipart part is built once and shared by all viewers.

Bounded for a hub that runs for months: viewers are capped per camera and in all, a camera's frame is let go
once it has been silent for `idle_s` with nobody watching, and the frames held in all stay under `budget_bytes`
(the least recently updated cameras' frames go first), however many device ids post.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from . import sendqueue
from .framing import live_part
from .resize import Sizes, Variant, shrink

log = logging.getLogger(__name__)

TICK_S = 0.25  # how late a silent camera's end or a stuck viewer may be noticed
MAX_INTERVAL_S = 60.0  # a camera slower than one frame a minute is treated as one frame a minute
_INTERVAL_WEIGHT = 0.2  # of the newest spacing in the moving average of a camera's frame interval


class Viewer:
    """One viewer's connection, with what the hub and the kernel still hold for it."""

    def __init__(self, transport: asyncio.Transport | None) -> None:
        self.transport = transport
        sock = None if transport is None else transport.get_extra_info("socket")
        peer = None if transport is None else transport.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) else "?"
        self._fd = -1 if sock is None else int(sock.fileno())
        self.writing_since: float | None = None  # loop time a part's write began, while it has not returned
        self.stalled = False
        if transport is not None:
            # The hub's own buffer empties before the next part is chosen: the newest frame at that moment. (1, not
            # 0: asyncio's TLS transport pauses at size >= high, so with 0 it would stay paused with nothing queued.)
            transport.set_write_buffer_limits(high=1)

    def _open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def buffered(self) -> int:
        """Bytes in the hub's write buffer for this viewer."""
        transport = self.transport
        return transport.get_write_buffer_size() if transport is not None and not transport.is_closing() else 0

    def kernel_queued(self) -> int:
        """Bytes in the kernel's send queue for this viewer (sent but unacknowledged, or unsent)."""
        return sendqueue.queued(self._fd) if self._open() else 0

    def unsent(self) -> int:
        return sendqueue.unsent(self._fd) if self._open() else 0

    def drop_if_stuck(self, now: float, stall_s: float) -> bool:
        """Aborts the connection of a write stuck for `stall_s`: its stream then ends as stalled."""
        since = self.writing_since
        if since is None or now - since < stall_s or not self._open():
            return False
        self.stalled = True
        assert self.transport is not None
        self.transport.abort()
        return True


@dataclass(eq=False)
class Slot:
    """Holds only the newest frame: a viewer that falls behind skips straight to it."""

    seq: int = 0
    jpeg: bytes = b""
    part: bytes = b""
    received_at: float = 0.0
    interval: float = 0.0  # moving average of the spacing between frames, seconds
    viewers: set[Viewer] = field(default_factory=set)
    parts_sent: int = 0
    parts_skipped: int = 0
    viewers_dropped: int = 0
    streams_ended: int = 0
    closed: bool = False
    sizes: Sizes = field(default_factory=Sizes)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _ticked_seq: int = 0

    def held(self) -> int:
        """Bytes this slot keeps alive: the frame and its part (reduced copies are short-lived)."""
        return len(self.jpeg) + len(self.part)

    def release(self) -> None:
        """Let go of the frame (viewers of a silent camera have had their streams ended by then)."""
        self.jpeg, self.part = b"", b""
        self.sizes.clear()

    def publish(self, jpeg: bytes, received_at: float) -> None:
        """O(1) for the camera whatever the viewers do: it only swaps the slot and wakes the waiters."""
        if self.seq:
            spacing = min(max(received_at - self.received_at, 0.0), MAX_INTERVAL_S)
            self.interval = (
                spacing if not self.interval else self.interval + _INTERVAL_WEIGHT * (spacing - self.interval)
            )
        self.seq += 1
        self.jpeg, self.received_at = jpeg, received_at
        self.part = live_part(jpeg, self.seq, received_at)
        self.sizes.clear()
        self.wake()

    def close(self) -> None:
        """Ends every viewer's wait, so streams finish at shutdown instead of holding it up."""
        self.closed = True
        self._changed.set()

    async def changed(self) -> None:
        """Returns when a frame arrives, the slot closes, or Fanout.tick() finds the camera silent."""
        await self._changed.wait()

    def wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def wake_if_silent(self) -> None:
        """Fanout.tick(): wakes the viewers when no frame came since the last tick, so they look again."""
        if self.seq == self._ticked_seq:
            self.wake()
        self._ticked_seq = self.seq

    async def variant(self, width: int | None) -> Variant:
        """The newest frame and its part, reduced to `width` when that is narrower than the frame."""
        if width is None:
            return self.jpeg, self.part
        seq, jpeg, received_at = self.seq, self.jpeg, self.received_at

        def make() -> Variant:
            small = shrink(jpeg, width)
            return small, (self.part if small is jpeg else live_part(small, seq, received_at))

        return await self.sizes.get(seq, width, make)

    def count_sent(self, seen: int) -> None:
        """Books one part sent to a viewer whose previous part was frame `seen`."""
        if seen:
            self.parts_skipped += max(self.seq - seen - 1, 0)
        self.parts_sent += 1

    def buffered(self) -> int:
        """Bytes queued for the viewers: in the hub's write buffers and in the kernel's send queues."""
        return sum(viewer.buffered() + viewer.kernel_queued() for viewer in self.viewers)

    def kernel_queued(self) -> int:
        return sum(viewer.kernel_queued() for viewer in self.viewers)


class ViewerLimit(Exception):
    """A viewer refused because a cap is reached; the message names the setting."""


class Fanout:
    def __init__(
        self,
        *,
        max_viewers: int = 256,
        max_viewers_per_camera: int = 64,
        idle_s: float = 600.0,
        budget_bytes: int = 512 * 2**20,
        stall_s: float = 10.0,
    ) -> None:
        self.max_viewers, self.max_viewers_per_camera, self.stall_s = max_viewers, max_viewers_per_camera, stall_s
        self.idle_s, self.budget_bytes = idle_s, budget_bytes
        self._slots: dict[str, Slot] = {}
        self._recent: OrderedDict[str, Slot] = OrderedDict()  # slots holding a frame, least recently updated first
        self.held_bytes = 0
        self.viewers = 0
        self.viewers_refused = 0
        self.viewers_left = 0
        self.frames_released = 0

    def slot(self, device_id: str) -> Slot:
        slot = self._slots.get(device_id)
        if slot is None:
            slot = self._slots[device_id] = Slot()
        return slot

    def peek(self, device_id: str) -> Slot | None:
        return self._slots.get(device_id)

    def publish(self, device_id: str, jpeg: bytes, received_at: float) -> None:
        slot = self.slot(device_id)
        self.held_bytes -= slot.held()
        slot.publish(jpeg, received_at)
        self.held_bytes += slot.held()
        self._recent[device_id] = slot
        self._recent.move_to_end(device_id)
        while self.held_bytes > self.budget_bytes and len(self._recent) > 1:
            self._release(next(iter(self._recent)))

    def release_idle(self, now: float) -> int:
        """Let go of the frames of cameras silent for `idle_s` that nobody watches; returns how many."""
        idle = [
            device_id
            for device_id, slot in self._recent.items()
            if now - slot.received_at >= self.idle_s and not slot.viewers
        ]
        for device_id in idle:
            self._release(device_id)
        return len(idle)

    def _release(self, device_id: str) -> None:
        slot = self._recent.pop(device_id)
        self.held_bytes -= slot.held()
        slot.release()
        self.frames_released += 1

    def tick(self, now: float) -> int:
        """Every TICK_S, in place of a timer per viewer and frame: the viewers of a camera that sent nothing since
        the last tick look again (has it stopped? gone offline?), and writes stuck for `stall_s` (loop time) are
        aborted. Returns how many viewers were dropped."""
        dropped = 0
        for device_id, slot in self._slots.items():
            if not slot.viewers:
                continue
            slot.wake_if_silent()
            for viewer in slot.viewers:
                if viewer.drop_if_stuck(now, self.stall_s):
                    slot.viewers_dropped += 1
                    dropped += 1
                    log.warning(
                        "dropped viewer %s of %s: its write stalled for %.1f s", viewer.peer, device_id, self.stall_s
                    )
        return dropped

    def admit(self, slot: Slot, viewer: Viewer) -> None:
        """Counts a viewer in, or raises ViewerLimit."""
        if len(slot.viewers) >= self.max_viewers_per_camera:
            self.viewers_refused += 1
            raise ViewerLimit(
                f"this camera has {len(slot.viewers)} viewers, the most allowed (--max-viewers-per-camera)"
            )
        if self.viewers >= self.max_viewers:
            self.viewers_refused += 1
            raise ViewerLimit(f"the hub has {self.viewers} viewers, the most allowed (--max-viewers)")
        slot.viewers.add(viewer)
        self.viewers += 1

    def leave(self, slot: Slot, viewer: Viewer) -> None:
        if viewer in slot.viewers:
            slot.viewers.discard(viewer)
            self.viewers -= 1
            self.viewers_left += 1

    def close(self) -> None:
        for slot in self._slots.values():
            slot.close()
