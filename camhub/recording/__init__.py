"""Recording: each frame of the devices that record goes to its hourly file and the index before the camera hears
200; playback reads it back. This facade is what the hub uses; the modules beside it each do one part:
`layout` (paths and schema), `writer` (the one thread that writes), `recovery` and `retention` (run as jobs on
that thread), `reader` (the read side: frames, what a range holds, the timeline), `timing` (times people give,
recorded time between frames).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import sqlite3
import threading
import time
from collections.abc import AsyncGenerator, Callable, Collection
from pathlib import Path
from typing import TypeVar

from ..config import ALL_DEVICES
from .layout import device_dirname, is_complete_jpeg
from .reader import Extent, Frame, Reader, Segment, Span
from .writer import Job, Limits, Pending, Writer

__all__ = ["Extent", "Frame", "Recorder", "Segment", "Span"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Recorder:
    """Records the frames of the devices it ``wants``: those in ``record`` (``"all"`` for every one) unless a
    persisted toggle says otherwise."""

    def __init__(
        self,
        root: Path,
        *,
        record: Collection[str] = (),
        retention_s: float = 72 * 3600,
        retention_bytes: int = 10 * 10**9,
        clock: Callable[[], float] = time.time,
        retention_interval_s: float = 60.0,
        sync_interval_s: float = 5.0,
        segment_bytes: int | None = None,
    ) -> None:
        if not (retention_s > 0 and math.isfinite(retention_s)):
            raise ValueError(f"retention_s must be a positive number of seconds, got {retention_s!r}")
        if retention_bytes <= 0:
            raise ValueError(f"retention_bytes must be positive, got {retention_bytes!r}")
        if isinstance(record, str):
            raise TypeError("record is a collection of device ids (config.parse_record makes one from text)")
        self.root = Path(root)
        self.record_all = ALL_DEVICES in record
        self.record_ids = frozenset(record) - {ALL_DEVICES}
        for device in self.record_ids:
            device_dirname(device)
        self.clock = clock
        self.retention_interval_s = retention_interval_s
        self._overrides: dict[str, bool] = {}
        limits = Limits(retention_s, retention_bytes)
        self._writer = Writer(self.root, sync_interval_s, limits, segment_bytes=segment_bytes)
        self._reader: Reader | None = None
        self._retention: asyncio.Task[None] | None = None
        self._stopped: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Open the index, recover from any crash, start retention."""
        loop = asyncio.get_running_loop()
        self._stopped = loop.create_future()
        stopped = self._stopped

        def stop() -> None:
            if not stopped.done():
                stopped.set_result(None)

        def run() -> None:
            try:
                self._writer.run()
            finally:
                loop.call_soon_threadsafe(stop)

        threading.Thread(target=run, name="camhub-recorder", daemon=True).start()
        began = time.perf_counter()
        try:
            self._overrides = await self._call(self._writer.open_index)
        except BaseException:
            await self.close()
            raise
        self._reader = Reader(self.root)
        log.info("recording: index ready in %.3f s (%s)", time.perf_counter() - began, self.root)
        await self.enforce_retention()
        self._retention = asyncio.create_task(self._retention_loop(), name="camhub-recorder-retention")

    async def close(self) -> None:
        """Finish queued frames, fsync and close every file, close the index."""
        if self._retention is not None:
            self._retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention
            self._retention = None
        if self._stopped is not None and not self._stopped.done():
            self._writer.queue.put(None)
            await self._stopped
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @property
    def problem(self) -> str | None:
        """Why recording last failed (a full disk, a broken index), until a frame is recorded again."""
        return self._writer.problem

    def wants(self, device_id: str) -> bool:
        on = self._overrides.get(device_id)
        if on is not None:
            return on
        return self.record_all or device_id in self.record_ids

    def set_recording(self, device_id: str, enabled: bool) -> None:
        """Turn recording on or off for one device now; persisted in the index, so it outlives restarts."""
        device_dirname(device_id)
        self._check_running()
        self._overrides[device_id] = enabled
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        done.add_done_callback(_log_failure)
        self._writer.queue.put(Job(lambda: self._writer.set_recording(device_id, enabled), done))

    async def record(
        self, device_id: str, seq: int | None, capture_ms: int | None, received_at: float, jpeg: bytes
    ) -> None:
        """Return once the frame is written to its hourly file and its index row is committed.

        Raises ValueError for a frame that is not a complete JPEG or an id that cannot be recorded, OSError or
        sqlite3.Error when the disk fails (the file is left without the partial frame).
        """
        if not is_complete_jpeg(jpeg):
            raise ValueError("frame is not a complete JPEG (SOI..EOI)")
        if not math.isfinite(received_at):
            raise ValueError(f"received_at must be a unix time, got {received_at!r}")
        device_dirname(device_id)
        self._check_running()
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._writer.queue.put(Pending(device_id, seq, capture_ms, received_at, jpeg, done))
        await asyncio.wrap_future(done)

    async def enforce_retention(self) -> int:
        """Apply the age and size limits now; returns how many hourly files were removed."""
        now = self.clock()
        return await self._call(lambda: self._writer.retain(now, self._writer.limits))

    async def spans(self, device_id: str) -> list[Span]:
        return await asyncio.to_thread(self._reading().spans, device_id)

    async def extent(self, device_id: str, start: float, end: float) -> Extent:
        return await asyncio.to_thread(self._reading().extent, device_id, start, end)

    async def timeline(self, device_id: str, start: float, end: float) -> list[Segment]:
        return await asyncio.to_thread(self._reading().timeline, device_id, start, end)

    async def frames(self, device_id: str, start: float, end: float) -> AsyncGenerator[Frame, None]:
        """The recorded frames of one device in [start, end], in time order, read in bounded chunks."""
        reader = self._reading()
        cursor: tuple[float, int] | None = (start, -1)
        while cursor is not None:
            chunk, cursor = await asyncio.to_thread(reader.chunk, device_id, start, end, cursor)
            for frame in chunk:
                yield frame

    async def _retention_loop(self) -> None:
        while True:
            await asyncio.sleep(self.retention_interval_s)
            try:
                await self.enforce_retention()
            except (OSError, sqlite3.Error) as exc:
                log.error("recording: retention failed: %s", exc)

    async def _call(self, fn: Callable[[], T]) -> T:
        self._check_running()
        done: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._writer.queue.put(Job(fn, done))
        return await asyncio.wrap_future(done)

    def _check_running(self) -> None:
        if self._stopped is None or self._stopped.done():
            raise RuntimeError("recorder is not running (start() it first)")

    def _reading(self) -> Reader:
        if self._reader is None:
            raise RuntimeError("recorder is not running (start() it first)")
        return self._reader


def _log_failure(done: concurrent.futures.Future[None]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.error("recording: saving the recording toggle failed: %s", done.exception())
