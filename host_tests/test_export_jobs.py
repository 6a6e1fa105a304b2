"""camhub.export.jobs: exports run one at a time as `camhub export` processes whose progress feeds the job; a
bounded queue, a disk check, cancelling kills the process, failures carry the reason, finished files expire."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from camhub.export import FORMATS, Estimate, estimate
from camhub.export.jobs import ExportRefused, Exports
from camhub.recording import Recorder
from camhub.recording.reader import Reader
from testkit.jpegs import make_jpeg
from testkit.players import FFPROBE, probe
from testkit.recordings import H0, record_run

if not Path(FFPROBE).exists() and os.environ.get("CI") != "true":
    pytest.skip(f"{FFPROBE} is missing (apt-get install ffmpeg); required when CI=true", allow_module_level=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def data_dir(tmp_path: Path) -> AsyncIterator[Path]:
    """A data dir whose recorder keeps running (as the hub's does) with 2 s of cam1 at 20 fps from H0."""
    rec = Recorder(tmp_path / "data" / "recordings", record={"all"}, clock=lambda: H0)
    await rec.start()
    await record_run(rec, "cam1", H0, 40, 20)
    yield tmp_path / "data"
    await rec.close()


def planned(data_dir: Path, name: str = "mkv", end: float = H0 + 5) -> Estimate:
    reader = Reader(data_dir / "recordings")
    try:
        return estimate(reader, "cam1", H0, end, FORMATS[name])
    finally:
        reader.close()


async def finished(job_ended: asyncio.Event, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        await job_ended.wait()


async def test_an_export_runs_to_a_file_and_reports_it(data_dir: Path) -> None:
    clock = Clock()
    exports = Exports(data_dir, clock=clock)
    await exports.start()
    try:
        job = exports.submit("cam1", H0, H0 + 5, planned(data_dir, "mp4"))
        assert job.to_json()["state"] in ("queued", "running")
        clock.now += 7
        await finished(job.ended)
        assert job.state == "done", job.error
        body = job.to_json()
        assert body["url"] == f"/exports/{job.id}/cam1_20240501T120000Z_20240501T120005Z.mp4"
        assert (body["frames"], body["framesDone"], body["progress"], body["durationS"]) == (40, 40, 1.0, 2.0)
        assert body["bytes"] == body["projectedBytes"] == job.path.stat().st_size
        assert (body["createdAt"], body["finishedAt"], body["skipped"]) == (1_000_000.0, 1_000_007.0, 0)
        assert job.path.parent == data_dir / "exports" / job.id
        assert probe(job.path).frames == 40
        assert exports.of_device("cam1") == [job] and exports.of_device("cam2") == []
    finally:
        await exports.close()
    assert not (data_dir / "exports").exists()


async def test_one_runs_at_a_time_and_the_queue_is_bounded(data_dir: Path) -> None:
    exports = Exports(data_dir, clock=Clock(), max_waiting=2)
    await exports.start()
    try:
        jobs = [exports.submit("cam1", H0, H0 + 5, planned(data_dir)) for _ in range(3)]
        with pytest.raises(ExportRefused, match="2 exports are already waiting") as refused:
            exports.submit("cam1", H0, H0 + 5, planned(data_dir))
        assert refused.value.status == 503
        for job in jobs:
            await finished(job.ended)
        assert [job.state for job in jobs] == ["done"] * 3
        assert jobs[0].finished is not None
        assert len({job.path for job in jobs}) == 3
    finally:
        await exports.close()


async def test_an_export_is_refused_when_the_disk_is_too_full(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("camhub.export.jobs.RESERVE_BYTES", 2**62)
    exports = Exports(data_dir, clock=Clock())
    await exports.start()
    try:
        with pytest.raises(ExportRefused, match="not enough disk space: the export needs about") as refused:
            exports.submit("cam1", H0, H0 + 5, planned(data_dir))
        assert refused.value.status == 507 and exports.jobs == {}
    finally:
        await exports.close()


async def test_cancelling_a_running_export_kills_it_and_deletes_it(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "data" / "recordings", record={"all"}, clock=lambda: H0)
    await rec.start()
    noisy = [make_jpeg(str(i), size=(640, 480), noise=60) for i in range(8)]
    for i in range(1500):  # 50 s of noisy VGA: long to encode
        await rec.record("cam1", i, None, H0 + i / 30, noisy[i % 8])
    exports = Exports(tmp_path / "data", clock=Clock())
    await exports.start()
    try:
        long = exports.submit("cam1", H0, H0 + 60, planned(tmp_path / "data", "mp4", H0 + 60))
        waiting = exports.submit("cam1", H0, H0 + 60, planned(tmp_path / "data", "mkv", H0 + 60))
        async with asyncio.timeout(60):
            while long.frames == 0:
                await asyncio.sleep(0.05)
        process = long.process
        assert process is not None and long.state == "running"
        began = time.monotonic()
        await exports.remove(waiting)
        await exports.remove(long)
        assert process.returncode is not None and time.monotonic() - began < 6
        assert (long.state, waiting.state) == ("cancelled", "cancelled")
        assert exports.get(long.id) is None and not long.path.parent.exists()
        assert long.frames < 1500
    finally:
        await exports.close()
        await rec.close()


async def test_a_failed_export_says_why(data_dir: Path, tmp_path: Path) -> None:
    exports = Exports(tmp_path / "elsewhere", clock=Clock())  # a data dir without the recordings
    await exports.start()
    try:
        job = exports.submit("cam1", H0, H0 + 5, planned(data_dir))
        await finished(job.ended)
        assert job.state == "failed"
        assert job.error is not None and job.error.startswith("nothing was ever recorded in")
        assert job.to_json()["url"] is None
    finally:
        await exports.close()


async def test_finished_exports_expire(data_dir: Path) -> None:
    clock = Clock()
    exports = Exports(data_dir, clock=clock, keep_s=3600)
    await exports.start()
    try:
        job = exports.submit("cam1", H0, H0 + 5, planned(data_dir))
        await finished(job.ended)
        assert await exports.expire() == 0 and job.path.exists()
        clock.now += 3601
        assert await exports.expire() == 1
        assert exports.get(job.id) is None and not job.path.parent.exists()
    finally:
        await exports.close()


async def test_leftovers_of_a_previous_run_are_cleared_at_start(data_dir: Path) -> None:
    stale = data_dir / "exports" / "old" / "cam1.mp4"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"x")
    exports = Exports(data_dir, clock=Clock())
    await exports.start()
    try:
        assert not stale.exists() and (data_dir / "exports").is_dir()
    finally:
        await exports.close()
