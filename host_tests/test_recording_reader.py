"""camhub.recording.reader: what a range holds, the timeline of spans and gaps (within a file, across hour files,
cut to the range, growing with the open file, after retention), clock samples, and the read-only index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from camhub.recording import Recorder, Segment
from camhub.recording.reader import GAP_S, Reader
from testkit.jpegs import seeded_jpeg
from testkit.recordings import H0

JPEGS = [seeded_jpeg(seed) for seed in range(6)]


async def record(rec: Recorder, times: list[float], device: str = "cam1") -> list[int]:
    """Frames at ``times``; returns their sizes."""
    sizes = []
    for i, at in enumerate(times):
        jpeg = JPEGS[i % len(JPEGS)]
        await rec.record(device, i, 5000 + round((at - times[0]) * 1000), at, jpeg)
        sizes.append(len(jpeg))
    return sizes


def steady(start: float, count: int, step: float = 0.1) -> list[float]:
    return [start + i * step for i in range(count)]


async def test_extent_counts_whole_files_from_totals_and_cuts_partial_ones(recorder: Recorder) -> None:
    times = steady(H0 - 2, 40)  # 20 frames in hour 11, 20 in hour 12
    sizes = await record(recorder, times)
    everything = await recorder.extent("cam1", H0 - 3600, H0 + 3600)
    assert (everything.frames, everything.bytes) == (40, sum(sizes))
    assert (everything.first_time, everything.last_time) == (times[0], times[-1])
    part = await recorder.extent("cam1", times[15], times[24])
    assert (part.frames, part.bytes) == (10, sum(sizes[15:25]))
    assert (part.first_time, part.last_time) == (times[15], times[24])
    empty = await recorder.extent("cam1", H0 + 100, H0 + 200)
    assert (empty.frames, empty.bytes, empty.first_time, empty.last_time) == (0, 0, None, None)
    assert (await recorder.extent("cam2", 0, 2e9)).frames == 0


async def test_timeline_splits_at_gaps_and_joins_across_hour_files(recorder: Recorder) -> None:
    first = steady(H0 - 1, 20)  # 11:59:59.0 - 12:00:00.9: one span over two files
    second = steady(H0 + 1 + GAP_S + 0.5, 10)  # after a gap longer than GAP_S
    third = steady(second[-1] + GAP_S - 0.5, 5)  # a pause shorter than GAP_S: same span
    await record(recorder, first + second + third)
    spans = await recorder.timeline("cam1", H0 - 3600, H0 + 3600)
    assert spans == [
        Segment(first[0], first[-1], 20),
        Segment(second[0], third[-1], 15),
    ]


async def test_timeline_is_cut_to_the_range_and_counts_what_is_inside(recorder: Recorder) -> None:
    times = steady(H0, 100)
    await record(recorder, times)
    spans = await recorder.timeline("cam1", times[10], times[19] + 0.05)
    assert spans == [Segment(times[10], times[19] + 0.05, 10)]
    assert await recorder.timeline("cam1", H0 + 60, H0 + 120) == []
    assert await recorder.timeline("cam1", times[-1] + GAP_S / 2, H0 + 120) == []


async def test_timeline_follows_the_file_being_written(recorder: Recorder) -> None:
    times = steady(H0, 30)
    await record(recorder, times[:10])
    assert await recorder.timeline("cam1", H0, H0 + 60) == [Segment(times[0], times[9], 10)]
    for i in range(10, 30):
        await recorder.record("cam1", i, None, times[i], JPEGS[0])
    later = H0 + 20
    await recorder.record("cam1", 30, None, later, JPEGS[0])
    assert await recorder.timeline("cam1", H0, H0 + 60) == [
        Segment(times[0], times[-1], 30),
        Segment(later, later, 1),
    ]


async def test_timeline_forgets_files_retention_removed(tmp_path: Path) -> None:
    now = [H0]
    rec = Recorder(tmp_path / "rec", record={"all"}, retention_s=3600, clock=lambda: now[0])
    await rec.start()
    await record(rec, steady(H0 + 10, 5))
    await rec.record("cam1", 9, None, H0 + 7200 + 10, JPEGS[0])  # the next file; the first is closed
    assert len(await rec.timeline("cam1", H0, H0 + 3 * 3600)) == 2
    now[0] = H0 + 3 * 3600
    assert await rec.enforce_retention() == 1
    assert await rec.timeline("cam1", H0, H0 + 3 * 3600) == [Segment(H0 + 7210, H0 + 7210, 1)]
    await rec.close()


async def test_clock_sample_and_frames_read_the_range_in_order(recorder: Recorder, tmp_path: Path) -> None:
    times = steady(H0, 20, 0.05)
    await record(recorder, times)
    reader = Reader(tmp_path / "rec")
    try:
        sample = reader.clock_sample("cam1", times[2], times[-1], 5)
        assert sample == [(times[i], 5000 + round((times[i] - times[0]) * 1000)) for i in range(2, 7)]
        frames = list(reader.frames("cam1", times[3], times[8]))
        assert [f.seq for f in frames] == [3, 4, 5, 6, 7, 8]
        assert [f.jpeg for f in frames] == [JPEGS[i % 6] for i in range(3, 9)]
    finally:
        reader.close()


def test_reader_is_read_only_and_needs_an_index(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no recordings"):
        Reader(tmp_path)
    assert not (tmp_path / "index.db").exists()
    sqlite3.connect(tmp_path / "index.db").close()
    reader = Reader(tmp_path)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.db.execute("CREATE TABLE x(y)")
    reader.close()
