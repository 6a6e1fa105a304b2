"""The writer: the only code that writes recording files and the index, on a thread of its own fed by a queue.

Frames that arrive together share one write pass and one commit; everything else that changes files or index
(opening and recovering the index, toggles, retention) comes through the same queue as a job, so only this
thread ever writes. Durability: a frame's future resolves once its bytes are written to the OS and its index
row is committed (WAL, ``synchronous=NORMAL``), so a frame acknowledged to a camera survives a crash or kill
of the hub. Open files are fsynced every ``sync_interval_s`` and when sealed, and the synced length is stored;
after an OS crash or power loss at most that much acknowledged video can be lost, and recovery checks
everything past the synced length.

Bounds: at most ``max_open_files`` files are open (the least recently written is sealed to make room), and a file
is sealed once it holds ``segment_bytes``, after which retention runs at once, so the size cap holds to within
one segment per recording camera however long an hour of video is.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import fcntl
import logging
import os
import queue
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import recovery, retention
from .layout import INDEX, LOCK, SCHEMA, hour_path, segment_part

log = logging.getLogger(__name__)

MAX_BATCH_FRAMES = 256
MAX_BATCH_BYTES = 32 * 2**20
IDLE_CLOSE_S = 60.0  # an idle camera's file is synced and closed, so retention may take it
MAX_OPEN_FILES = 128  # file descriptors the recorder may hold (server.gate keeps room for them)
MIN_SEGMENT_BYTES = 2**20
MAX_SEGMENT_BYTES = 64 * 2**20


def segment_size(retention_bytes: int) -> int:
    """A 32nd of the size cap, within 1-64 MiB: fine enough for the cap, coarse enough to cost nothing."""
    return min(max(retention_bytes // 32, MIN_SEGMENT_BYTES), MAX_SEGMENT_BYTES)


@dataclass
class Pending:
    """A frame waiting to be written; ``done`` resolves once it is on disk and indexed."""

    device: str
    seq: int | None
    capture_ms: int | None
    time: float
    jpeg: bytes | bytearray | memoryview
    done: concurrent.futures.Future[None]


@dataclass
class Job:
    run: Callable[[], Any]
    done: concurrent.futures.Future[Any]


@dataclass
class _OpenFile:
    id: int
    path: str
    hour: str  # hour_path(device, time): the same for every segment of one hour
    part: int
    fd: int
    size: int
    last_write: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Limits:
    max_age_s: float
    max_bytes: int


def _write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Writer:
    def __init__(
        self,
        root: Path,
        sync_interval_s: float,
        limits: Limits,
        *,
        segment_bytes: int | None = None,
        max_open_files: int = MAX_OPEN_FILES,
    ) -> None:
        self.root = root
        self.sync_interval_s = sync_interval_s
        self.limits = limits
        self.segment_bytes = segment_bytes or segment_size(limits.max_bytes)
        self.max_open_files = max_open_files
        self.queue: queue.SimpleQueue[Pending | Job | None] = queue.SimpleQueue()
        self.open: OrderedDict[str, _OpenFile] = OrderedDict()  # by device, least recently written first
        self._filled = False  # a segment was sealed full since retention last ran
        self.db: sqlite3.Connection | None = None
        self.lock: int | None = None
        self.last_sync = time.monotonic()
        self.problem: str | None = None  # why the last batch failed to record; None once one succeeds

    # -- thread loop -------------------------------------------------------------------------------------

    def run(self) -> None:
        stop = False
        while not stop:
            try:
                first = self.queue.get(timeout=self.sync_interval_s)
            except queue.Empty:
                self._maintain()
                continue
            batch: list[Pending] = []
            size = 0
            item: Pending | Job | None = first
            while True:
                if item is None:
                    stop = True
                    break
                if isinstance(item, Job):
                    self._write_batch(batch)
                    batch, size = [], 0
                    if item.done.set_running_or_notify_cancel():
                        try:
                            item.done.set_result(item.run())
                        except Exception as exc:  # handed to the awaiting coroutine
                            item.done.set_exception(exc)
                elif item.done.set_running_or_notify_cancel():
                    batch.append(item)
                    size += len(item.jpeg)
                if len(batch) >= MAX_BATCH_FRAMES or size >= MAX_BATCH_BYTES:
                    break
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
            self._write_batch(batch)
            if time.monotonic() - self.last_sync >= self.sync_interval_s:
                self._maintain()
        self._shutdown()

    def _conn(self) -> sqlite3.Connection:
        if self.db is None:
            raise RuntimeError("recorder index is not open")
        return self.db

    # -- frames ------------------------------------------------------------------------------------------

    def _write_batch(self, batch: list[Pending]) -> None:
        """Write and index a batch; whatever fails (a full disk, SQLite, a bug) leaves files and index agreeing.

        Frames whose bytes could not be written fail alone; if the commit fails, every byte this batch appended
        is cut off again and all its written frames fail, so no file is left with bytes the index does not name
        (recovery would otherwise cut everything after the first gap, acknowledged frames included).
        """
        if not batch:
            return
        before: dict[int, tuple[str, int]] = {}  # file id -> (path, size before this batch)
        try:
            written, failed = self._append(batch, before)
            if written:
                self._index(written)
        except Exception as exc:
            self._fail(f"{len(batch)} frames not recorded", exc)
            self._undo(before)
            for frame in batch:
                if not frame.done.done():
                    frame.done.set_exception(exc)
            return
        for frame, _ in written:
            frame.done.set_result(None)
        for frame, error in failed:
            self._fail("a frame not recorded", error)
            frame.done.set_exception(error)
        if written and not failed:
            self.problem = None
        if self._filled:
            self._filled = False
            try:
                self.retain(max(frame.time for frame in batch), self.limits)
            except (OSError, sqlite3.Error) as exc:
                log.error("recording: retention failed: %s", exc)

    def _fail(self, what: str, exc: BaseException) -> None:
        """Log a failure once per kind of problem (a full disk fails every frame), remember it for /healthz."""
        problem = f"{type(exc).__name__}: {exc}"
        if problem != self.problem:
            log.error("recording: %s: %s", what, problem)
        self.problem = problem

    def _append(
        self, batch: list[Pending], before: dict[int, tuple[str, int]]
    ) -> tuple[list[tuple[Pending, tuple[int, int, int]]], list[tuple[Pending, BaseException]]]:
        """Append each frame to its file: (frame, (file id, offset, end)) if written, else (frame, error)."""
        written: list[tuple[Pending, tuple[int, int, int]]] = []
        failed: list[tuple[Pending, BaseException]] = []
        for frame in batch:
            try:
                handle = self._file_for(frame.device, frame.time, len(frame.jpeg))
            except (OSError, OverflowError, sqlite3.Error, ValueError) as exc:
                failed.append((frame, exc))
                continue
            before.setdefault(handle.id, (handle.path, handle.size))
            offset = handle.size
            try:
                _write_all(handle.fd, frame.jpeg)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(handle.fd, offset)
                failed.append((frame, exc))
                continue
            handle.size += len(frame.jpeg)
            handle.last_write = time.monotonic()
            written.append((frame, (handle.id, offset, handle.size)))
        return written, failed

    def _index(self, written: list[tuple[Pending, tuple[int, int, int]]]) -> None:
        """One transaction for the batch's rows and its files' totals."""
        touched: dict[int, tuple[int, int, float, float]] = {}  # file id -> (frames, end, first, last time)
        for frame, (file_id, _, end) in written:
            count, _, lo, hi = touched.get(file_id, (0, 0, frame.time, frame.time))
            touched[file_id] = (count + 1, end, min(lo, frame.time), max(hi, frame.time))
        with self._conn() as db:
            db.executemany(
                "INSERT INTO frames(device, file, time, seq, capture_ms, offset, length) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (frame.device, file_id, frame.time, frame.seq, frame.capture_ms, offset, end - offset)
                    for frame, (file_id, offset, end) in written
                ],
            )
            for file_id, (count, end, lo, hi) in touched.items():
                db.execute(
                    "UPDATE files SET frames = frames + ?, bytes = ?,"
                    " first_time = coalesce(min(first_time, ?), ?),"
                    " last_time = coalesce(max(last_time, ?), ?) WHERE id = ?",
                    (count, end, lo, lo, hi, hi, file_id),
                )

    def _undo(self, before: dict[int, tuple[str, int]]) -> None:
        """Cut every file back to its size before the batch."""
        open_by_id = {handle.id: handle for handle in self.open.values()}
        for file_id, (path, size) in before.items():
            try:
                os.truncate(self.root / path, size)
            except OSError as exc:  # the index names only `size` bytes: recovery cuts the rest at the next start
                log.error("recording: could not cut %s back to %d bytes: %s", path, size, exc)
            if file_id in open_by_id:
                open_by_id[file_id].size = size

    def _file_for(self, device: str, at: float, length: int) -> _OpenFile:
        """The open segment a frame of ``length`` bytes goes to: the device's current one while it has room."""
        hour = hour_path(device, at)
        handle = self.open.get(device)
        if handle is not None and handle.hour == hour and handle.size + length <= max(self.segment_bytes, length):
            self.open.move_to_end(device)
            return handle
        db = self._conn()
        if handle is not None:
            part = handle.part + 1 if handle.hour == hour else 0
            self._filled |= handle.hour == hour
            self._seal(device)
        else:  # after a restart or an eviction: go on with the hour's newest segment
            row = db.execute(
                "SELECT path, bytes FROM files WHERE device = ? AND (path = ? OR path GLOB ?) ORDER BY id DESC LIMIT 1",
                (device, hour, hour.removesuffix(".mjpg") + ".*.mjpg"),
            ).fetchone()
            part = 0 if row is None else segment_part(row[0]) + (row[1] > 0 and row[1] + length > self.segment_bytes)
        while len(self.open) >= self.max_open_files:
            self._seal(next(iter(self.open)))
        path = hour_path(device, at, part)
        full = self.root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        with db:
            db.execute("INSERT OR IGNORE INTO files(device, path) VALUES (?, ?)", (device, path))
            file_id, size = db.execute("SELECT id, bytes FROM files WHERE path = ?", (path,)).fetchone()
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o644)
        actual = os.fstat(fd).st_size
        if actual > size:  # a failed write this process could not undo: cut it off
            os.ftruncate(fd, size)
        elif actual < size:  # cut short behind our back: appending would misplace every new frame
            os.close(fd)
            raise OSError(errno.EIO, f"{path} is shorter than its index; restart the hub to recover it")
        handle = _OpenFile(file_id, path, hour, part, fd, size)
        self.open[device] = handle
        return handle

    def _seal(self, device: str) -> None:
        """fsync and close a device's file, remembering that all of it is on stable storage."""
        handle = self.open.pop(device, None)
        if handle is None:
            return
        try:
            os.fsync(handle.fd)
            with self._conn() as db:
                db.execute("UPDATE files SET synced = ? WHERE id = ?", (handle.size, handle.id))
        finally:
            os.close(handle.fd)

    def _maintain(self) -> None:
        """Periodic: fsync open files and record how far they are safe; close the idle ones."""
        self.last_sync = time.monotonic()
        if not self.open:
            return
        db = self._conn()
        for device, handle in list(self.open.items()):
            try:
                if self.last_sync - handle.last_write >= IDLE_CLOSE_S:
                    self._seal(device)
                else:
                    os.fsync(handle.fd)
                    with db:
                        db.execute("UPDATE files SET synced = ? WHERE id = ?", (handle.size, handle.id))
            except (OSError, sqlite3.Error) as exc:
                log.warning("recording: sync of %s failed: %s", handle.path, exc)

    def _shutdown(self) -> None:
        for device in list(self.open):
            try:
                self._seal(device)
            except (OSError, sqlite3.Error) as exc:
                log.warning("recording: closing %s failed: %s", device, exc)
        if self.db is not None:
            self.db.close()
            self.db = None
        if self.lock is not None:
            os.close(self.lock)
            self.lock = None

    # -- jobs run on the thread (via Recorder._call) -------------------------------------------------------

    def open_index(self) -> dict[str, bool]:
        """Open the index, recover, and return the persisted per-device recording toggles."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:  # a second writer would break the files = index invariant; the kernel drops the lock if we die
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another process is already recording into {self.root}") from None
        db = sqlite3.connect(self.root / INDEX, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        db.isolation_level = "DEFERRED"  # `with db:` wraps each batch in one transaction
        self.db = db
        recovery.recover(db, self.root)
        return {device: bool(on) for device, on in db.execute("SELECT device, enabled FROM recording")}

    def set_recording(self, device: str, enabled: bool) -> None:
        with self._conn() as db:
            db.execute(
                "INSERT INTO recording(device, enabled) VALUES (?, ?)"
                " ON CONFLICT(device) DO UPDATE SET enabled = excluded.enabled",
                (device, int(enabled)),
            )
        if not enabled:
            self._seal(device)

    def retain(self, now: float, limits: Limits) -> int:
        """Retention over what is not open for writing; see retention.retain."""
        busy = {handle.id for handle in self.open.values()}
        return retention.retain(self._conn(), self.root, busy, now, limits.max_age_s, limits.max_bytes)
