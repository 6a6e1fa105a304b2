"""Where recordings live: one folder per device, one file per UTC hour, and the SQLite index that describes them.

Layout under the recording root::

    index.db                                  SQLite (WAL): files, frames, recording toggles
    index.lock                                held by the one process that writes
    <device>/<YYYY-MM-DD>/<HH>.mjpg           UTC hour of arrival; the JPEGs back to back, nothing else
    <device>/<YYYY-MM-DD>/<HH>.<n>.mjpg       the same hour's n-th further segment, once the one before is full

The files hold nothing but concatenated JPEGs, so any MJPEG tool plays them as they are; the index says where
each frame starts. A segment is sealed when it reaches the writer's segment size, so retention can delete the
video of the current hour too. Invariant, restored by recovery on every start: each file is exactly the concatenation
of its indexed frames, in offset order, and every indexed frame is a complete JPEG.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

from ..jpeg import EOI, SOI
from .timing import compact

MAX_DEVICE_DIR = 200  # bytes; file systems allow 255 per name
INDEX = "index.db"
LOCK = "index.lock"

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


def range_file_name(device_id: str, start: float, end: float, extension: str) -> str:
    """What a download or an export of [start, end] is called: cam1_20240501T120000Z_20240501T120500Z.mp4"""
    return f"{device_dirname(device_id)}_{compact(start)}_{compact(end)}{extension}"


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


def hour_path(device_id: str, at: float, part: int = 0) -> str:
    """Relative path of segment ``part`` of the hour a frame arriving at ``at`` (unix s) belongs to."""
    stamp = datetime.fromtimestamp(at, UTC)
    return f"{device_dirname(device_id)}/{stamp:%Y-%m-%d}/{stamp:%H}{f'.{part}' if part else ''}.mjpg"


def segment_part(path: str) -> int:
    """The segment number in a path ``hour_path`` made."""
    name = path.rpartition("/")[2].removesuffix(".mjpg")
    return int(name.partition(".")[2] or 0)


def is_complete_jpeg(data: bytes | bytearray | memoryview) -> bool:
    return len(data) >= 4 and data[:2] == SOI and data[-2:] == EOI


def prune_dirs(root: Path) -> None:
    """Remove day and device folders that nothing is left in."""
    for day in sorted(root.glob("*/*/"), reverse=True):
        with contextlib.suppress(OSError):
            day.rmdir()
    for device in root.iterdir():
        if device.is_dir():
            with contextlib.suppress(OSError):
                device.rmdir()
