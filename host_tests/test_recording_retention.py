"""camhub.recording.retention: by age (sparing the open file), by size (oldest first), on a schedule."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from camhub.recording import Recorder
from testkit.jpegs import seeded_jpeg, tagged
from testkit.recordings import H0, all_frames, assert_consistent

JPEGS = [seeded_jpeg(seed) for seed in range(6)]


async def test_retention_by_age_spares_the_open_file(tmp_path: Path) -> None:
    now = [H0]
    rec = Recorder(tmp_path / "rec", record={"all"}, retention_s=2 * 3600, clock=lambda: now[0])
    await rec.start()
    for hour in range(4):
        await rec.record("cam1", hour, None, H0 + hour * 3600 + 1, JPEGS[hour])
    await rec.record("cam2", 0, None, H0 + 1, JPEGS[4])
    rec.set_recording("cam2", False)  # closes cam2's file
    now[0] = H0 + 3 * 3600  # hour 12's last frame is 2h59m59s old: gone; hour 13's is 1h59m59s old: kept
    assert await rec.enforce_retention() == 2
    assert [s.path for s in await rec.spans("cam1")] == [f"cam1/2024-05-01/{h}.mjpg" for h in (13, 14, 15)]
    assert await rec.spans("cam2") == []
    assert not (tmp_path / "rec" / "cam2").exists()  # empty folders go too
    now[0] = H0 + 100 * 3600
    assert await rec.enforce_retention() == 2
    assert [s.path for s in await rec.spans("cam1")] == ["cam1/2024-05-01/15.mjpg"]  # still being written
    await rec.close()
    assert_consistent(tmp_path / "rec")


async def test_retention_by_size_removes_oldest_first(tmp_path: Path) -> None:
    big = [tagged(JPEGS[0], f"h{h}", pad=10_000) for h in range(5)]
    limit = 3 * len(big[0]) + 100
    rec = Recorder(tmp_path / "rec", record={"all"}, retention_bytes=limit, clock=lambda: H0)
    await rec.start()
    for hour in range(5):
        await rec.record("cam1" if hour % 2 else "cam2", hour, None, H0 + hour * 3600, big[hour])
    assert await rec.enforce_retention() == 2
    remaining = {s.path for d in ("cam1", "cam2") for s in await rec.spans(d)}
    assert remaining == {"cam1/2024-05-01/15.mjpg", "cam2/2024-05-01/14.mjpg", "cam2/2024-05-01/16.mjpg"}
    await rec.close()
    assert_consistent(tmp_path / "rec")


async def test_retention_runs_periodically(tmp_path: Path) -> None:
    now = [H0]
    rec = Recorder(tmp_path / "rec", record={"all"}, retention_s=60, retention_interval_s=0.05, clock=lambda: now[0])
    await rec.start()
    await rec.record("cam1", 1, None, H0, JPEGS[0])
    await rec.record("cam1", 2, None, H0 + 3600, JPEGS[1])
    now[0] = H0 + 3600 + 30
    for _ in range(100):
        if len(await rec.spans("cam1")) == 1:
            break
        await asyncio.sleep(0.02)
    assert [s.path for s in await rec.spans("cam1")] == ["cam1/2024-05-01/13.mjpg"]
    await rec.close()


def on_disk(root: Path) -> int:
    total = 0
    for path in root.glob("*/*/*.mjpg"):
        with contextlib.suppress(FileNotFoundError):  # retention may take it between listing and stat
            total += path.stat().st_size
    return total


async def test_the_size_cap_covers_the_hour_being_written(tmp_path: Path) -> None:
    """Issue 10: the open hourly file was out of retention's reach: one camera ran to 6.8x the cap in 90 s."""
    root = tmp_path / "rec"
    frame = tagged(JPEGS[0], "big", pad=50_000)
    cap, segment = 1_000_000, 100_000
    rec = Recorder(root, record={"all"}, retention_bytes=cap, segment_bytes=segment, clock=lambda: H0)
    await rec.start()
    peak = 0
    for i in range(200):  # 10 MB in one hour of one camera
        await rec.record("cam1", i, None, H0 + i * 0.05, frame)
        peak = max(peak, on_disk(root))
    assert peak <= cap + segment + len(frame)
    frames = await all_frames(rec, "cam1")
    assert frames[-1].seq == 199 and [f.seq for f in frames] == list(range(frames[0].seq, 200))
    await rec.close()
    assert_consistent(root)
