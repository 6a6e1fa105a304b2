"""camhub.recording.Recorder: frames recorded and read back, hourly files, refusals, toggles (real files and
SQLite)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from camhub.config import parse_record
from camhub.recording import Recorder
from testkit.jpegs import seeded_jpeg, tagged
from testkit.recordings import H0, all_frames, assert_consistent

JPEGS = [seeded_jpeg(seed) for seed in range(6)]


async def test_frames_recorded_and_read_back_bit_exact(recorder: Recorder, tmp_path: Path) -> None:
    sent = [tagged(JPEGS[i % len(JPEGS)], f"f{i}") for i in range(20)]
    for i, jpeg in enumerate(sent):
        await recorder.record("cam1", i, 1000 + 33 * i, H0 + 10 + i / 30, jpeg)
    frames = await all_frames(recorder, "cam1")
    assert [f.jpeg for f in frames] == sent
    assert [f.seq for f in frames] == list(range(20))
    assert [f.capture_ms for f in frames] == [1000 + 33 * i for i in range(20)]
    assert (tmp_path / "rec" / "cam1" / "2024-05-01" / "12.mjpg").read_bytes() == b"".join(sent)
    window = await all_frames(recorder, "cam1", H0 + 10 + 5 / 30, H0 + 10 + 9 / 30)
    assert [f.seq for f in window] == [5, 6, 7, 8, 9]
    assert await all_frames(recorder, "cam2") == []


async def test_concurrent_devices_share_batches_and_stay_ordered(recorder: Recorder, tmp_path: Path) -> None:
    async def camera(device: str) -> None:
        for i in range(40):
            await recorder.record(device, i, None, H0 + i * 0.01, tagged(JPEGS[0], f"{device}:{i}"))

    await asyncio.gather(*(camera(f"cam{n}") for n in range(4)))
    await recorder.close()
    frames = assert_consistent(tmp_path / "rec")
    assert len(frames) == 160
    assert frames[("cam3", 39)] == tagged(JPEGS[0], "cam3:39")


async def test_hourly_rollover(recorder: Recorder, tmp_path: Path) -> None:
    await recorder.record("cam1", 1, None, H0 - 0.05, JPEGS[0])
    await recorder.record("cam1", 2, None, H0 - 0.01, JPEGS[1])
    await recorder.record("cam1", 3, None, H0, JPEGS[2])
    await recorder.record("cam1", 4, None, H0 + 3600, JPEGS[3])
    spans = await recorder.spans("cam1")
    assert [(s.path, s.frames, s.bytes) for s in spans] == [
        ("cam1/2024-05-01/11.mjpg", 2, len(JPEGS[0]) + len(JPEGS[1])),
        ("cam1/2024-05-01/12.mjpg", 1, len(JPEGS[2])),
        ("cam1/2024-05-01/13.mjpg", 1, len(JPEGS[3])),
    ]
    root = tmp_path / "rec"
    assert (root / "cam1/2024-05-01/11.mjpg").read_bytes() == JPEGS[0] + JPEGS[1]
    with sqlite3.connect(root / "index.db") as db:  # a file left behind is fsynced and marked so
        synced = dict(db.execute("SELECT path, synced = bytes FROM files").fetchall())
    assert synced == {"cam1/2024-05-01/11.mjpg": 1, "cam1/2024-05-01/12.mjpg": 1, "cam1/2024-05-01/13.mjpg": 0}
    assert [f.seq for f in await all_frames(recorder, "cam1")] == [1, 2, 3, 4]


async def test_hostile_device_id_stays_inside_root(recorder: Recorder, tmp_path: Path) -> None:
    await recorder.record("../../escape", 1, None, H0, JPEGS[0])
    assert not (tmp_path / "escape").exists()
    assert (tmp_path / "rec" / "%2E.%2F..%2Fescape" / "2024-05-01" / "12.mjpg").read_bytes() == JPEGS[0]
    assert [f.jpeg for f in await all_frames(recorder, "../../escape")] == [JPEGS[0]]


async def test_bad_frames_are_refused(recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="complete JPEG"):
        await recorder.record("cam1", 1, None, H0, JPEGS[0][:-1])
    with pytest.raises(ValueError, match="unix time"):
        await recorder.record("cam1", 1, None, float("nan"), JPEGS[0])
    with pytest.raises(ValueError, match="empty"):
        await recorder.record("", 1, None, H0, JPEGS[0])
    assert await all_frames(recorder, "cam1") == []


async def test_one_recorder_per_folder(recorder: Recorder, tmp_path: Path) -> None:
    second = Recorder(tmp_path / "rec", record={"all"})
    with pytest.raises(RuntimeError, match="already recording"):
        await second.start()
    await recorder.record("cam1", 1, None, H0, JPEGS[0])
    assert len(await all_frames(recorder, "cam1")) == 1


async def test_not_started_is_an_error(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "rec", record={"all"})
    with pytest.raises(RuntimeError, match="start"):
        await rec.record("cam1", 1, None, H0, JPEGS[0])


async def test_toggle_overrides_the_configured_set_and_persists(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "rec", record=parse_record("cam1,cam2"), clock=lambda: H0)
    await rec.start()
    assert (rec.wants("cam1"), rec.wants("cam2"), rec.wants("cam3")) == (True, True, False)
    rec.set_recording("cam2", False)
    rec.set_recording("cam3", True)
    assert (rec.wants("cam2"), rec.wants("cam3")) == (False, True)
    await rec.close()

    rec = Recorder(tmp_path / "rec", record=(), clock=lambda: H0)
    await rec.start()
    assert (rec.wants("cam1"), rec.wants("cam2"), rec.wants("cam3")) == (False, False, True)
    await rec.close()

    rec = Recorder(tmp_path / "rec", record={"all"}, clock=lambda: H0)
    await rec.start()
    assert (rec.wants("anything"), rec.wants("cam2")) == (True, False)
    await rec.close()


async def test_toggling_off_closes_and_syncs_the_file(recorder: Recorder, tmp_path: Path) -> None:
    await recorder.record("cam1", 1, None, H0, JPEGS[0])
    recorder.set_recording("cam1", False)
    await recorder.enforce_retention()  # runs after the toggle on the writer thread
    with sqlite3.connect(tmp_path / "rec" / "index.db") as db:
        assert db.execute("SELECT synced, bytes FROM files").fetchall() == [(len(JPEGS[0]), len(JPEGS[0]))]
    assert not recorder.wants("cam1")
