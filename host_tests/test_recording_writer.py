"""camhub.recording.writer: a disk error fails only its frame; open files are fsynced on a schedule."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from camhub.recording import Recorder
from testkit.jpegs import seeded_jpeg, tagged
from testkit.recordings import H0, all_frames, assert_consistent

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


async def test_a_failed_commit_cuts_its_bytes_so_later_frames_survive_recovery(tmp_path: Path) -> None:
    """Issue 10: an X-Frame-Seq of 2**63 made SQLite raise OverflowError in the commit; its bytes stayed in the
    file, and recovery then cut every acknowledged frame written after that gap."""
    root = tmp_path / "rec"
    rec = Recorder(root, record={"all"}, clock=lambda: H0)
    await rec.start()
    acked = []
    for i in range(3):
        await rec.record("cam1", i, None, H0 + i, tagged(JPEGS[i % 6], f"before{i}"))
        acked.append(i)
    results = await asyncio.gather(
        rec.record("cam1", 2**63, None, H0 + 3, JPEGS[3]),
        rec.record("cam2", 1, None, H0 + 3, JPEGS[4]),
        return_exceptions=True,
    )
    assert isinstance(results[0], OverflowError)
    for i in range(4, 8):
        await rec.record("cam1", i, None, H0 + i, tagged(JPEGS[i % 6], f"after{i}"))
        acked.append(i)
    await rec.close()
    rec = Recorder(root, record={"all"}, clock=lambda: H0)
    await rec.start()
    assert [f.seq for f in await all_frames(rec, "cam1")] == acked
    await rec.close()
    frames = assert_consistent(root)
    assert ("cam1", 2**63) not in frames


def recording_fds(root: Path) -> int:
    return sum(1 for fd in Path("/proc/self/fd").iterdir() if str(fd.resolve()).startswith(f"{root}/cam"))


async def test_open_files_are_a_bounded_pool(tmp_path: Path) -> None:
    """Issue 10: one open file per recorded device id let ~1000 ids exhaust the process's descriptors."""
    root = tmp_path / "rec"
    rec = Recorder(root, record={"all"}, clock=lambda: H0)
    rec._writer.max_open_files = 4
    await rec.start()
    for round_ in range(3):
        await asyncio.gather(
            *(
                rec.record(f"cam{n}", round_, None, H0 + round_, tagged(JPEGS[n % 6], f"{n}.{round_}"))
                for n in range(12)
            )
        )
        assert recording_fds(root) <= 4
    await rec.close()
    frames = assert_consistent(root)
    assert len(frames) == 36


async def test_a_full_segment_is_sealed_and_the_next_goes_on(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    frame = tagged(JPEGS[0], "x", pad=30_000)
    rec = Recorder(root, record={"all"}, clock=lambda: H0, segment_bytes=100_000)
    await rec.start()
    for i in range(7):
        await rec.record("cam1", i, None, H0 + i, frame)
    assert [(s.path, s.frames) for s in await rec.spans("cam1")] == [
        ("cam1/2024-05-01/12.mjpg", 3),
        ("cam1/2024-05-01/12.1.mjpg", 3),
        ("cam1/2024-05-01/12.2.mjpg", 1),
    ]
    await rec.close()
    rec = Recorder(root, record={"all"}, clock=lambda: H0, segment_bytes=100_000)
    await rec.start()  # after a restart the hour's newest segment goes on, then the next
    for i in range(7, 10):
        await rec.record("cam1", i, None, H0 + i, frame)
    spans = await rec.spans("cam1")
    assert [(s.path, s.frames) for s in spans] == [
        ("cam1/2024-05-01/12.mjpg", 3),
        ("cam1/2024-05-01/12.1.mjpg", 3),
        ("cam1/2024-05-01/12.2.mjpg", 3),
        ("cam1/2024-05-01/12.3.mjpg", 1),
    ]
    assert [f.seq for f in await all_frames(rec, "cam1")] == list(range(10))
    await rec.close()
    assert_consistent(root)
