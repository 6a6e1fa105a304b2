"""Recording: per-device hourly MJPEG files, a SQLite index, crash recovery and retention.

Layout under ``root``::

    index.db                                  SQLite (WAL): files, frames, recording toggles
    <device>/<YYYY-MM-DD>/<HH>.mjpg           UTC hour of arrival; the JPEGs back to back, nothing else

The hourly files hold nothing but concatenated JPEGs, so any MJPEG tool (ffmpeg ``-f mjpeg``, VLC) plays them as
they are; the index says where each frame starts. Invariant, restored by recovery on every start: each file is
exactly the concatenation of its indexed frames, in offset order, and every indexed frame is a complete JPEG.

Durability: every disk and SQLite operation runs in one writer thread, fed by a queue; frames that arrive
together share one write pass and one commit. ``record()`` returns once the bytes are written to the OS and the
index row is committed (WAL, ``synchronous=NORMAL``): a frame acknowledged to a camera survives a crash or kill of
the hub. Open files are fsynced every ``sync_interval_s`` (and when closed), and the synced length is stored;
after an OS crash or power loss at most that much acknowledged video can be lost, and recovery checks
everything past the synced length. No fsync per frame: at 30 fps x N cameras it would cost more than the
video is worth.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import fcntl
import logging
import math
import os
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from aiohttp import web

from .jpeg import EOI, SOI

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_DEVICE_DIR = 200  # bytes; file systems allow 255 per name
MAX_BATCH_FRAMES = 256
MAX_BATCH_BYTES = 32 * 2**20
IDLE_CLOSE_S = 60.0  # an idle camera's file is synced and closed, so retention may take it
READ_BUDGET = 4 * 2**20  # bytes of frames read per thread hop during playback
READ_PAGE = 128
TICKS_PERIOD = 2**29  # supervisor.ticks_ms() wraps here; X-Capture-Ms is the board's ticks
MAX_GAP_S = 2.0  # playback compresses gaps (camera offline) to this much recorded time

SCHEMA = """
CREATE TABLE IF NOT EXISTS files(
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    frames INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    synced INTEGER NOT NULL DEFAULT 0,
    first_time REAL,
    last_time REAL
);
CREATE INDEX IF NOT EXISTS files_device ON files(device, first_time);
CREATE TABLE IF NOT EXISTS frames(
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL,
    file INTEGER NOT NULL REFERENCES files(id),
    time REAL NOT NULL,
    seq INTEGER,
    capture_ms INTEGER,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS frames_time ON frames(device, time);
CREATE INDEX IF NOT EXISTS frames_file ON frames(file, offset);
CREATE TABLE IF NOT EXISTS recording(
    device TEXT PRIMARY KEY,
    enabled INTEGER NOT NULL
);
"""


def device_dirname(device_id: str) -> str:
    """Map a device id from the network to one safe directory name, injectively.

    Letters, digits, ``-``, ``_`` and a ``.`` that is not first stay; every other byte (``/``, ``\\``, ``:``,
    ``%``, a leading ``.``, spaces, ...) becomes ``%XX``, so no id names ``.``/``..``, a hidden file or a path
    outside its own directory, and two ids never share one.
    """
    if not device_id:
        raise ValueError("device id is empty")
    out = []
    for pos, byte in enumerate(device_id.encode("utf-8", "surrogatepass")):
        ch = chr(byte)
        keep = ch.isascii() and (ch.isalnum() or ch in "-_" or (ch == "." and pos > 0))
        out.append(ch if keep else f"%{byte:02X}")
    name = "".join(out)
    if len(name) > MAX_DEVICE_DIR:
        raise ValueError(f"device id is too long to record ({len(device_id)} characters)")
    return name


def hour_path(device_id: str, at: float) -> str:
    """Relative path of the hourly file that a frame arriving at ``at`` (unix s) belongs to."""
    stamp = datetime.fromtimestamp(at, timezone.utc)
    return f"{device_dirname(device_id)}/{stamp:%Y-%m-%d}/{stamp:%H}.mjpg"


def is_complete_jpeg(data: bytes | bytearray | memoryview) -> bool:
    return len(data) >= 4 and data[:2] == SOI and data[-2:] == EOI


def frame_delay(prev: Frame, cur: Frame) -> float:
    """Recorded time between two frames, for paced playback.

    The board's capture clock is free of network jitter, so it is used when it agrees with the hub's arrival
    times to within a second (it wraps and restarts with the board); gaps are compressed to ``MAX_GAP_S``.
    """
    delay = cur.time - prev.time
    if prev.capture_ms is not None and cur.capture_ms is not None:
        captured = ((cur.capture_ms - prev.capture_ms) % TICKS_PERIOD) / 1000
        if abs(captured - delay) < 1.0:
            delay = captured
    return min(max(delay, 0.0), MAX_GAP_S)


def parse_record(record: str | Iterable[str] | None) -> tuple[bool, frozenset[str]]:
    """``None``/``""`` = off, ``"all"``, ``"cam1,cam2"`` or an iterable of ids -> (all, ids)."""
    if record is None:
        return False, frozenset()
    items = record.split(",") if isinstance(record, str) else list(record)
    ids = frozenset(item.strip() for item in items if item.strip())
    if "all" in ids:
        return True, frozenset()
    return False, ids


@dataclass(frozen=True)
class Frame:
    """One recorded frame as read back for playback."""

    time: float
    seq: int | None
    capture_ms: int | None
    jpeg: bytes


@dataclass(frozen=True)
class Span:
    """What one hourly file holds."""

    path: str
    first_time: float
    last_time: float
    frames: int
    bytes: int


@dataclass
class _Pending:
    device: str
    seq: int | None
    capture_ms: int | None
    time: float
    jpeg: bytes | bytearray | memoryview
    done: concurrent.futures.Future[None]


@dataclass
class _Job:
    run: Callable[[], Any]
    done: concurrent.futures.Future[Any]


@dataclass
class _OpenFile:
    id: int
    path: str
    fd: int
    size: int
    last_write: float = field(default_factory=time.monotonic)


def _write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Writer:
    """The only code that touches the files and the index for writing; runs in its own thread."""

    def __init__(self, root: Path, sync_interval_s: float) -> None:
        self.root = root
        self.sync_interval_s = sync_interval_s
        self.queue: queue.SimpleQueue[_Pending | _Job | None] = queue.SimpleQueue()
        self.open: dict[str, _OpenFile] = {}
        self.db: sqlite3.Connection | None = None
        self.lock: int | None = None
        self.last_sync = time.monotonic()

    # -- thread loop -------------------------------------------------------------------------------------

    def run(self) -> None:
        stop = False
        while not stop:
            try:
                first = self.queue.get(timeout=self.sync_interval_s)
            except queue.Empty:
                self._maintain()
                continue
            batch: list[_Pending] = []
            size = 0
            item: _Pending | _Job | None = first
            while True:
                if item is None:
                    stop = True
                    break
                if isinstance(item, _Job):
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

    def _write_batch(self, batch: list[_Pending]) -> None:
        try:
            self._write_frames(batch)
        except Exception as exc:  # a bug must not leave cameras waiting forever
            log.exception("recording: writing %d frames failed", len(batch))
            for frame in batch:
                if not frame.done.done():
                    frame.done.set_exception(exc)

    def _write_frames(self, batch: list[_Pending]) -> None:
        if not batch:
            return
        rows: list[tuple[str, int, float, int | None, int | None, int, int]] = []
        written: list[_Pending] = []
        failed: list[tuple[_Pending, BaseException]] = []
        before: dict[int, tuple[str, int]] = {}  # file id -> (path, size before this batch), to undo
        ends: dict[int, int] = {}
        touched: dict[int, list[float]] = {}
        for frame in batch:
            try:
                handle = self._file_for(frame.device, frame.time)
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
            ends[handle.id] = handle.size
            rows.append((frame.device, handle.id, frame.time, frame.seq, frame.capture_ms, offset, len(frame.jpeg)))
            touched.setdefault(handle.id, []).append(frame.time)
            written.append(frame)
        if rows:
            db = self._conn()
            try:
                with db:
                    db.executemany(
                        "INSERT INTO frames(device, file, time, seq, capture_ms, offset, length)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        rows,
                    )
                    for file_id, times in touched.items():
                        lo, hi = min(times), max(times)
                        db.execute(
                            "UPDATE files SET frames = frames + ?, bytes = ?,"
                            " first_time = coalesce(min(first_time, ?), ?),"
                            " last_time = coalesce(max(last_time, ?), ?) WHERE id = ?",
                            (len(times), ends[file_id], lo, lo, hi, hi, file_id),
                        )
            except sqlite3.Error as exc:
                log.error("recording: index commit failed, %d frames dropped: %s", len(written), exc)
                open_by_id = {h.id: h for h in self.open.values()}
                for file_id, (path, size) in before.items():
                    with contextlib.suppress(OSError):
                        os.truncate(self.root / path, size)
                    if file_id in open_by_id:
                        open_by_id[file_id].size = size
                for frame in written:
                    failed.append((frame, exc))
                written = []
        for frame in written:
            frame.done.set_result(None)
        for frame, error in failed:
            frame.done.set_exception(error)

    def _file_for(self, device: str, at: float) -> _OpenFile:
        path = hour_path(device, at)
        handle = self.open.get(device)
        if handle is not None and handle.path == path:
            return handle
        if handle is not None:
            self._seal(device)
        db = self._conn()
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
        handle = _OpenFile(file_id, path, fd, size)
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
        self.lock = os.open(self.root / "index.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:  # a second writer would break the files = index invariant; the kernel drops the lock if we die
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another process is already recording into {self.root}") from None
        db = sqlite3.connect(self.root / "index.db", isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        db.isolation_level = "DEFERRED"  # `with db:` wraps each batch in one transaction
        self.db = db
        self.recover()
        return {device: bool(on) for device, on in db.execute("SELECT device, enabled FROM recording")}

    def recover(self) -> None:
        """Make files and index agree after any crash: the index wins, the files are cut to match.

        A file whose length equals both its indexed and its fsynced length was closed cleanly and is skipped, so
        start-up reads only the files that were open when the hub stopped, and of those only the unsynced tail.
        """
        db = self._conn()
        known: set[str] = set()
        for file_id, path, indexed, synced in db.execute("SELECT id, path, bytes, synced FROM files").fetchall():
            full = self.root / path
            try:
                with open(full, "r+b") as fh:
                    size = os.fstat(fh.fileno()).st_size
                    end = size if size == indexed == synced else self._check_file(fh, file_id, min(synced, size))
                    if 0 < end < size:
                        fh.truncate(end)
            except FileNotFoundError:
                size = end = 0
            if end == 0:
                with db:
                    db.execute("DELETE FROM frames WHERE file = ?", (file_id,))
                    db.execute("DELETE FROM files WHERE id = ?", (file_id,))
                full.unlink(missing_ok=True)
                continue
            known.add(path)
            if end != indexed or end != size:
                log.warning("recording: recovered %s: %d bytes kept of %d on disk", path, end, size)
            if end != indexed or synced > end:
                with db:
                    db.execute(
                        "UPDATE files SET (frames, bytes, synced, first_time, last_time) ="
                        " (SELECT count(*), ?, min(?, ?), min(time), max(time) FROM frames WHERE file = ?)"
                        " WHERE id = ?",
                        (end, synced, end, file_id, file_id),
                    )
        self._remove_strays(known)

    def _check_file(self, fh: BinaryIO, file_id: int, trusted: int) -> int:
        """Keep the frames up to ``trusted`` bytes (fsynced), then those that are in place and complete JPEGs.

        Drops every index row from the first bad one on; returns where the file must end.
        """
        db = self._conn()
        size = os.fstat(fh.fileno()).st_size
        expected = 0
        for (frame_end,) in db.execute(  # frames are contiguous: at most the last one below crosses `trusted`
            "SELECT offset + length FROM frames WHERE file = ? AND offset < ? ORDER BY offset DESC LIMIT 2",
            (file_id, trusted),
        ).fetchall():
            if frame_end <= trusted:
                expected = int(frame_end)
                break
        for offset, length in db.execute(
            "SELECT offset, length FROM frames WHERE file = ? AND offset >= ? ORDER BY offset", (file_id, expected)
        ).fetchall():
            if offset != expected or offset + length > size:
                break
            fh.seek(offset)
            head = fh.read(2)
            fh.seek(offset + length - 2)
            if head != SOI or fh.read(2) != EOI:
                break
            expected = offset + length
        with db:
            db.execute("DELETE FROM frames WHERE file = ? AND offset >= ?", (file_id, expected))
        return expected

    def _remove_strays(self, known: set[str]) -> None:
        """Delete hourly files the index does not know (created, then the hub died before the first commit)."""
        for full in sorted(self.root.glob("*/*/*.mjpg")):
            if full.relative_to(self.root).as_posix() not in known:
                full.unlink()
        self._prune_dirs()

    def _prune_dirs(self) -> None:
        for day in sorted(self.root.glob("*/*/"), reverse=True):
            with contextlib.suppress(OSError):
                day.rmdir()
        for device in self.root.iterdir():
            if device.is_dir():
                with contextlib.suppress(OSError):
                    device.rmdir()

    def set_recording(self, device: str, enabled: bool) -> None:
        with self._conn() as db:
            db.execute(
                "INSERT INTO recording(device, enabled) VALUES (?, ?)"
                " ON CONFLICT(device) DO UPDATE SET enabled = excluded.enabled",
                (device, int(enabled)),
            )
        if not enabled:
            self._seal(device)

    def retain(self, now: float, max_age_s: float, max_bytes: int) -> int:
        """Delete whole hourly files older than ``max_age_s``, then the oldest while over ``max_bytes``.

        The files open for writing are never taken. Returns how many files went.
        """
        db = self._conn()
        busy = {h.id for h in self.open.values()}
        files = [
            (file_id, path, size, last)
            for file_id, path, size, last in db.execute(
                "SELECT id, path, bytes, last_time FROM files ORDER BY coalesce(last_time, 0), id"
            )
            if file_id not in busy
        ]
        total = int(db.execute("SELECT coalesce(sum(bytes), 0) FROM files").fetchone()[0])
        doomed = []
        for file_id, path, size, last in files:
            if last is None or last < now - max_age_s or total > max_bytes:  # None: no frame ever landed
                doomed.append((file_id, path))
                total -= size
        for file_id, path in doomed:
            with db:
                db.execute("DELETE FROM frames WHERE file = ?", (file_id,))
                db.execute("DELETE FROM files WHERE id = ?", (file_id,))
            (self.root / path).unlink(missing_ok=True)
            log.info("recording: retention removed %s", path)
        if doomed:
            self._prune_dirs()
        return len(doomed)


class _Reader:
    """Read side: a second SQLite connection (WAL lets it run beside the writer) and plain file reads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = sqlite3.connect(root / "index.db", check_same_thread=False)
        self.lock = threading.Lock()

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def spans(self, device: str) -> list[Span]:
        with self.lock:
            rows = self.db.execute(
                "SELECT path, first_time, last_time, frames, bytes FROM files"
                " WHERE device = ? AND frames > 0 ORDER BY first_time, id",
                (device,),
            ).fetchall()
        return [Span(*row) for row in rows]

    def chunk(
        self, device: str, start: float, end: float, after: tuple[float, int]
    ) -> tuple[list[Frame], tuple[float, int] | None]:
        """The next frames in [start, end] after cursor ``after`` (time, id), up to ``READ_BUDGET`` bytes.

        Returns the frames and the cursor to continue from, ``None`` at the end of the range.
        """
        last_time, last_id = after
        with self.lock:
            rows = self.db.execute(
                "SELECT frames.id, time, seq, capture_ms, offset, length, files.path FROM frames"
                " JOIN files ON files.id = frames.file"
                " WHERE frames.device = ? AND time >= ? AND time <= ? AND NOT (time = ? AND frames.id <= ?)"
                " ORDER BY time, frames.id LIMIT ?",
                (device, max(start, last_time), end, last_time, last_id, READ_PAGE),
            ).fetchall()
        frames: list[Frame] = []
        budget = READ_BUDGET
        handles: dict[str, BinaryIO | None] = {}
        try:
            for frame_id, at, seq, capture_ms, offset, length, path in rows:
                if frames and length > budget:
                    break
                after = (at, frame_id)
                if path not in handles:
                    try:
                        handles[path] = open(self.root / path, "rb")
                    except FileNotFoundError:  # retention took it after the query
                        handles[path] = None
                fh = handles[path]
                if fh is None:
                    continue
                fh.seek(offset)
                data = fh.read(length)
                if len(data) == length:
                    frames.append(Frame(at, seq, capture_ms, data))
                    budget -= length
        finally:
            for fh in handles.values():
                if fh is not None:
                    fh.close()
        return frames, (after if rows else None)


class Recorder:
    """Records the frames of the devices it ``wants``; see the module docstring for layout and durability."""

    def __init__(
        self,
        root: Path,
        *,
        record: str | Iterable[str] | None = None,
        retention_s: float = 72 * 3600,
        retention_bytes: int = 10 * 10**9,
        clock: Callable[[], float] = time.time,
        retention_interval_s: float = 60.0,
        sync_interval_s: float = 5.0,
    ) -> None:
        if not (retention_s > 0 and math.isfinite(retention_s)):
            raise ValueError(f"retention_s must be a positive number of seconds, got {retention_s!r}")
        if retention_bytes <= 0:
            raise ValueError(f"retention_bytes must be positive, got {retention_bytes!r}")
        self.root = Path(root)
        self.record_all, self.record_ids = parse_record(record)
        for device in self.record_ids:
            device_dirname(device)
        self.retention_s = retention_s
        self.retention_bytes = retention_bytes
        self.clock = clock
        self.retention_interval_s = retention_interval_s
        self._overrides: dict[str, bool] = {}
        self._writer = _Writer(self.root, sync_interval_s)
        self._reader: _Reader | None = None
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
        self._reader = _Reader(self.root)
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
        self._writer.queue.put(_Job(lambda: self._writer.set_recording(device_id, enabled), done))

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
        self._writer.queue.put(_Pending(device_id, seq, capture_ms, received_at, jpeg, done))
        await asyncio.wrap_future(done)

    async def enforce_retention(self) -> int:
        """Apply the age and size limits now; returns how many hourly files were removed."""
        now = self.clock()
        return await self._call(lambda: self._writer.retain(now, self.retention_s, self.retention_bytes))

    async def spans(self, device_id: str) -> list[Span]:
        return await asyncio.to_thread(self._reading().spans, device_id)

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
        self._writer.queue.put(_Job(fn, done))
        return await asyncio.wrap_future(done)

    def _check_running(self) -> None:
        if self._stopped is None or self._stopped.done():
            raise RuntimeError("recorder is not running (start() it first)")

    def _reading(self) -> _Reader:
        if self._reader is None:
            raise RuntimeError("recorder is not running (start() it first)")
        return self._reader


def _log_failure(done: concurrent.futures.Future[None]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.error("recording: saving the recording toggle failed: %s", done.exception())


RECORDER = web.AppKey("recorder", Recorder)
