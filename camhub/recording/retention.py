"""Retention: whole hourly files go when they are older than the age limit, then the oldest while over the size
limit. Runs on the writer thread (a job on its queue), so it never races a write."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Collection
from pathlib import Path

from .layout import prune_dirs

log = logging.getLogger(__name__)


def retain(
    db: sqlite3.Connection, root: Path, busy: Collection[int], now: float, max_age_s: float, max_bytes: int
) -> int:
    """Delete what the limits allow, never the files in ``busy`` (open for writing); returns how many went."""
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
        (root / path).unlink(missing_ok=True)
        log.info("recording: retention removed %s", path)
    if doomed:
        prune_dirs(root)
    return len(doomed)
