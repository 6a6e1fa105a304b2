"""Crash recovery: bring the hourly files and the index back into agreement before anything is written.

The index wins and the files are cut to match. A file whose length equals both its indexed and its fsynced
length was closed cleanly and is skipped, so start-up reads only the files that were open when the hub stopped,
and of those only the unsynced tail. Runs on the writer thread (see writer.Writer.open_index).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import BinaryIO

from ..jpeg import EOI, SOI
from .layout import prune_dirs

log = logging.getLogger(__name__)


def recover(db: sqlite3.Connection, root: Path) -> None:
    known: set[str] = set()
    for file_id, path, indexed, synced in db.execute("SELECT id, path, bytes, synced FROM files").fetchall():
        full = root / path
        try:
            with open(full, "r+b") as fh:
                size = os.fstat(fh.fileno()).st_size
                end = size if size == indexed == synced else check_file(db, fh, file_id, min(synced, size))
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
    remove_strays(root, known)


def check_file(db: sqlite3.Connection, fh: BinaryIO, file_id: int, trusted: int) -> int:
    """Keep the frames up to ``trusted`` bytes (fsynced), then those that are in place and complete JPEGs.

    Drops every index row from the first bad one on; returns where the file must end.
    """
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


def remove_strays(root: Path, known: set[str]) -> None:
    """Delete hourly files the index does not know (created, then the hub died before the first commit)."""
    for full in sorted(root.glob("*/*/*.mjpg")):
        if full.relative_to(root).as_posix() not in known:
            full.unlink()
    prune_dirs(root)
