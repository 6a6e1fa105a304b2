"""The read side of recordings: a second SQLite connection (WAL lets it run beside the writer) and plain file
reads, in bounded chunks so a long playback never holds much in memory."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .layout import INDEX

READ_BUDGET = 4 * 2**20  # bytes of frames read per thread hop during playback
READ_PAGE = 128


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


class Reader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = sqlite3.connect(root / INDEX, check_same_thread=False)
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
