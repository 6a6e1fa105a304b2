"""camhub.recording.writer: a disk error fails only its frame; open files are fsynced on a schedule."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from camhub.recording import Recorder
from testkit.jpegs import seeded_jpeg
from testkit.recordings import H0, all_frames

JPEGS = [seeded_jpeg(seed) for seed in range(6)]


async def test_disk_error_fails_only_that_frame(recorder: Recorder, tmp_path: Path) -> None:
    (tmp_path / "rec" / "blocked").write_bytes(b"a file where the device folder would go")
    with pytest.raises(OSError):
        await recorder.record("blocked", 1, None, H0, JPEGS[0])
    await recorder.record("cam1", 1, None, H0, JPEGS[1])
    assert [f.jpeg for f in await all_frames(recorder, "cam1")] == [JPEGS[1]]


async def test_open_files_are_fsynced_periodically(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "rec", record={"all"}, sync_interval_s=0.05, clock=lambda: H0)
    await rec.start()
    await rec.record("cam1", 1, None, H0, JPEGS[0])
    with sqlite3.connect(tmp_path / "rec" / "index.db") as db:
        for _ in range(100):
            if db.execute("SELECT synced FROM files").fetchone()[0] == len(JPEGS[0]):
                break
            await asyncio.sleep(0.01)
        assert db.execute("SELECT synced FROM files").fetchone()[0] == len(JPEGS[0])
    await rec.close()
