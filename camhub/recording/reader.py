"""The read side of recordings: a second SQLite connection (WAL lets it run beside the writer, or in another
process such as `camhub export`) and plain file reads, in bounded chunks so a long playback or export never holds
much in memory; what a time range holds; and the timeline of continuous recording with its gaps.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from .layout import INDEX

READ_BUDGET = 4 * 2**20  # bytes of frames read per thread hop during playback
READ_PAGE = 128
GAP_S = 5.0  # no frame for longer than this ends a segment of continuous recording


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


@dataclass(frozen=True)
class Extent:
    """What a time range holds: its frames, their bytes, and the first and last frame's time."""

    frames: int
    bytes: int
    first_time: float | None
    last_time: float | None


@dataclass(frozen=True)
class Segment:
    """Continuous recording: frames no more than ``GAP_S`` apart, ``frames`` of them in [start, end]."""

    start: float
    end: float
    frames: int


@dataclass
class _FileSegments:
    """One hourly file's segments, extended as frames are appended (sealed files are read once)."""

    path: str
    frames: int = 0
    last_offset: int = -1
    last_time: float = 0.0
    segments: list[list[float]] = field(default_factory=list)  # [start, end, frames]


class Reader:
    def __init__(self, root: Path) -> None:
        """Opens the index read-only: FileNotFoundError when there is none (nothing was ever recorded)."""
        self.root = root
        index = root / INDEX
        if not index.is_file():
            raise FileNotFoundError(f"no recordings in {root} (no {INDEX})")
        self.db = sqlite3.connect(f"{index.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        self.lock = threading.Lock()
        self._segments: dict[int, _FileSegments] = {}

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

    def extent(self, device: str, start: float, end: float) -> Extent:
        """Frames and bytes in [start, end]: the files wholly inside come from their totals, so this stays fast for
        long ranges."""
        frames = size = 0
        first: float | None = None
        last: float | None = None
        with self.lock:
            files = self.db.execute(
                "SELECT id, frames, bytes, first_time, last_time FROM files"
                " WHERE device = ? AND frames > 0 AND last_time >= ? AND first_time <= ?",
                (device, start, end),
            ).fetchall()
            for file_id, count, total, lo, hi in files:
                if not (start <= lo and hi <= end):
                    count, total, lo, hi = self.db.execute(
                        "SELECT count(*), coalesce(sum(length), 0), min(time), max(time) FROM frames"
                        " WHERE device = ? AND time >= ? AND time <= ? AND file = ?",
                        (device, max(start, lo), min(end, hi), file_id),
                    ).fetchone()
                if count:
                    frames += count
                    size += total
                    first = lo if first is None else min(first, lo)
                    last = hi if last is None else max(last, hi)
        return Extent(frames, size, first, last)

    def timeline(self, device: str, start: float, end: float) -> list[Segment]:
        """The segments of continuous recording that overlap [start, end], cut to it, in time order.

        The lock is taken per file, so a first look at a long day never holds playback's reads for long.
        """
        with self.lock:
            files = self.db.execute(
                "SELECT id, path, frames FROM files WHERE device = ? AND frames > 0 AND last_time >= ?"
                " AND first_time <= ? ORDER BY first_time, id",
                (device, start - GAP_S, end + GAP_S),
            ).fetchall()
        merged: list[list[float]] = []
        for file_id, path, frames in files:
            with self.lock:
                segments = self._file_segments(file_id, path, frames)
            for seg_start, seg_end, count in segments:
                if merged and seg_start - merged[-1][1] <= GAP_S:
                    merged[-1][1] = max(merged[-1][1], seg_end)
                    merged[-1][2] += count
                else:
                    merged.append([seg_start, seg_end, count])
        out = []
        with self.lock:
            for seg_start, seg_end, count in merged:
                if seg_end < start or seg_start > end:
                    continue
                if seg_start < start or seg_end > end:  # cut: count what is left
                    seg_start, seg_end = max(seg_start, start), min(seg_end, end)
                    count = self.db.execute(
                        "SELECT count(*) FROM frames WHERE device = ? AND time >= ? AND time <= ?",
                        (device, seg_start, seg_end),
                    ).fetchone()[0]
                out.append(Segment(seg_start, seg_end, int(count)))
            if len(self._segments) > len(files):  # forget files that retention removed
                kept = {file_id for (file_id,) in self.db.execute("SELECT id FROM files")}
                for file_id in self._segments.keys() - kept:
                    del self._segments[file_id]
        return out

    def _file_segments(self, file_id: int, path: str, frames: int) -> list[tuple[float, float, float]]:
        """A copy of one file's segments, brought up to its ``frames`` first (call with the lock held)."""
        cached = self._segments.get(file_id)
        if cached is None or cached.path != path or cached.frames > frames:  # new, or an id reused
            cached = self._segments[file_id] = _FileSegments(path)
        if cached.frames != frames:
            self._extend(file_id, cached)
        return [(a, b, n) for a, b, n in cached.segments]

    def _extend(self, file_id: int, cached: _FileSegments) -> None:
        """Add the frames appended to a file since ``cached`` last saw it."""
        segments = cached.segments
        # Where a gap starts a new segment: row n of the new frames, its time, and the time of the frame before.
        starts = self.db.execute(
            "SELECT n, time, prev FROM (SELECT row_number() OVER w AS n, time, lag(time) OVER w AS prev"
            " FROM frames WHERE file = ? AND offset > ? WINDOW w AS (ORDER BY offset))"
            " WHERE prev IS NULL OR time - prev > ? ORDER BY n",
            (file_id, cached.last_offset, GAP_S),
        ).fetchall()
        count, last_offset = self.db.execute(
            "SELECT count(*), max(offset) FROM frames WHERE file = ? AND offset > ?", (file_id, cached.last_offset)
        ).fetchone()
        if not count:
            return
        (last_time,) = self.db.execute(
            "SELECT time FROM frames WHERE file = ? AND offset = ?", (file_id, last_offset)
        ).fetchone()
        begun = 1  # row number where the open segment's new frames start
        for n, at, prev in starts:
            if prev is None:  # the first new frame: continues the last segment unless it comes after a gap
                if segments and at - cached.last_time <= GAP_S:
                    continue
                segments.append([at, at, 0])
                continue
            segments[-1][1] = max(segments[-1][1], prev)
            segments[-1][2] += n - begun
            segments.append([at, at, 0])
            begun = n
        segments[-1][1] = max(segments[-1][1], last_time)
        segments[-1][2] += count - begun + 1
        cached.frames += count
        cached.last_offset = last_offset
        cached.last_time = last_time

    def frames(self, device: str, start: float, end: float) -> Iterator[Frame]:
        """Every frame in [start, end] in time order, read a chunk at a time (for code off the event loop)."""
        cursor: tuple[float, int] | None = (start, -1)
        while cursor is not None:
            chunk, cursor = self.chunk(device, start, end, cursor)
            yield from chunk

    def clock_sample(self, device: str, start: float, end: float, limit: int) -> list[tuple[float, int | None]]:
        """(time, capture_ms) of the first ``limit`` frames in [start, end], without reading them."""
        with self.lock:
            rows = self.db.execute(
                "SELECT time, capture_ms FROM frames WHERE device = ? AND time >= ? AND time <= ?"
                " ORDER BY time, id LIMIT ?",
                (device, start, end, limit),
            ).fetchall()
        return [(at, capture) for at, capture in rows]

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
