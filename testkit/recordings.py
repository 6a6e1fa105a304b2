"""What recording tests check on disk: the index rows, and that files and index agree exactly."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from camhub.recording import Frame, Recorder
from testkit.jpegs import make_jpeg, seeded_jpeg, tagged

H0 = datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp()  # an hour boundary
FIXTURE_0_2_0 = Path(__file__).resolve().parent / "fixtures" / "recordings-0.2.0"  # see its README.md


def fixture_0_2_0(root: Path) -> list[bytes]:
    """Copy the recordings 0.2.0 wrote (a torn tail included) to ``root``; returns the 80 frames it acknowledged."""
    shutil.copytree(FIXTURE_0_2_0, root, ignore=shutil.ignore_patterns("README.md"))
    return [tagged(seeded_jpeg(i % 8, 32), f"cam1 {i}") for i in range(80)]


def index_rows(root: Path) -> list[tuple[str, str, float, int | None, int, int]]:
    with sqlite3.connect(root / "index.db") as db:
        return db.execute(
            "SELECT frames.device, files.path, time, seq, offset, length FROM frames"
            " JOIN files ON files.id = frames.file ORDER BY frames.id"
        ).fetchall()


def assert_consistent(root: Path) -> dict[tuple[str, int], bytes]:
    """Index and files agree exactly; returns every indexed frame's bytes by (device, seq)."""
    db = sqlite3.connect(root / "index.db")
    try:
        files = db.execute("SELECT id, device, path, frames, bytes, first_time, last_time FROM files").fetchall()
        on_disk = {p.relative_to(root).as_posix() for p in root.glob("*/*/*.mjpg")}
        assert on_disk == {path for _, _, path, *_ in files}
        frames: dict[tuple[str, int], bytes] = {}
        for file_id, device, path, count, size, first, last in files:
            data = (root / path).read_bytes()
            rows = db.execute(
                "SELECT device, seq, time, offset, length FROM frames WHERE file = ? ORDER BY offset", (file_id,)
            ).fetchall()
            assert rows, f"{path} is indexed with no frames"
            end = 0
            for row_device, seq, _, offset, length in rows:
                assert row_device == device
                assert offset == end, f"{path}: gap or overlap at {offset}"
                jpeg = data[offset : offset + length]
                assert len(jpeg) == length and jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
                frames[(device, seq)] = jpeg
                end = offset + length
            assert len(data) == end == size, f"{path}: {len(data)} bytes on disk, index ends at {end}"
            assert count == len(rows)
            assert (first, last) == (min(r[2] for r in rows), max(r[2] for r in rows))
        return frames
    finally:
        db.close()


async def all_frames(rec: Recorder, device: str, start: float = 0, end: float = 2e9) -> list[Frame]:
    return [frame async for frame in rec.frames(device, start, end)]


async def record_run(
    rec: Recorder,
    device: str,
    t0: float,
    count: int,
    fps: float,
    *,
    seq0: int = 0,
    size: tuple[int, int] = (160, 120),
) -> list[float]:
    """``count`` labelled frames at ``fps`` from ``t0``, the capture clock agreeing with the hub's; their times."""
    times = [t0 + i / fps for i in range(count)]
    for i, at in enumerate(times):
        seq = seq0 + i
        jpeg = make_jpeg(f"{device} {seq}", size=size)
        await rec.record(device, seq, round(10_000 + (at - H0) * 1000) % 2**29, at, jpeg)
    return times
