"""Recorder: real files and a real SQLite index in tmp_path; crash safety with a SIGKILLed child process."""

from __future__ import annotations

import asyncio
import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from camhub.recorder import Frame, Recorder, device_dirname, frame_delay, hour_path, parse_record

ROOT = Path(__file__).resolve().parent.parent
H0 = datetime(2024, 5, 1, 12, tzinfo=timezone.utc).timestamp()  # an hour boundary


def make_jpeg(seed: int, size: int = 48) -> bytes:
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (size, size), bytes(rng.randrange(256) for _ in range(size * size * 3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


JPEGS = [make_jpeg(seed) for seed in range(6)]


def tagged(jpeg: bytes, tag: str, pad: int = 0) -> bytes:
    """A JPEG made unique by a COM segment after SOI (still a valid image)."""
    body = tag.encode() + b" " * pad
    return jpeg[:2] + b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]


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


@pytest.fixture
async def recorder(tmp_path: Path) -> AsyncIterator[Recorder]:
    rec = Recorder(tmp_path / "rec", record="all", clock=lambda: H0)
    await rec.start()
    yield rec
    await rec.close()


async def all_frames(rec: Recorder, device: str, start: float = 0, end: float = 2e9) -> list[Frame]:
    return [frame async for frame in rec.frames(device, start, end)]


# -- pure helpers ------------------------------------------------------------------------------------------


def test_device_dirname_keeps_paths_inside_and_ids_apart() -> None:
    assert device_dirname("cam-01_a.b") == "cam-01_a.b"
    assert device_dirname("..") == "%2E."
    assert device_dirname(".hidden") == "%2Ehidden"
    assert device_dirname("../../etc/passwd") == "%2E.%2F..%2Fetc%2Fpasswd"
    assert device_dirname("a/b") != device_dirname("a_b") != device_dirname("a%2Fb")
    assert device_dirname("a\\b:c") == "a%5Cb%3Ac"
    assert device_dirname("caméra") == "cam%C3%A9ra"
    for bad in ("", "x" * 201, "é" * 40):
        with pytest.raises(ValueError):
            device_dirname(bad)


def test_hour_path_is_utc_hour_of_arrival() -> None:
    assert hour_path("cam1", H0 - 0.001) == "cam1/2024-05-01/11.mjpg"
    assert hour_path("cam1", H0) == "cam1/2024-05-01/12.mjpg"
    assert hour_path("a/b", H0 + 12 * 3600) == "a%2Fb/2024-05-02/00.mjpg"


def test_parse_record() -> None:
    assert parse_record(None) == (False, frozenset())
    assert parse_record("") == (False, frozenset())
    assert parse_record("all") == (True, frozenset())
    assert parse_record(" cam1, cam2 ,") == (False, frozenset({"cam1", "cam2"}))
    assert parse_record(["cam3"]) == (False, frozenset({"cam3"}))


def test_frame_delay_prefers_capture_clock_and_compresses_gaps() -> None:
    def at(t: float, capture_ms: int | None) -> Frame:
        return Frame(t, None, capture_ms, b"")

    assert frame_delay(at(10.0, 1000), at(10.13, 1100)) == pytest.approx(0.1)  # network jitter ignored
    assert frame_delay(at(10.0, None), at(10.13, 1100)) == pytest.approx(0.13)
    assert frame_delay(at(10.0, 2**29 - 50), at(10.1, 50)) == pytest.approx(0.1)  # ticks_ms wrapped
    assert frame_delay(at(10.0, 900_000), at(10.1, 5)) == pytest.approx(0.1)  # board rebooted: hub time
    assert frame_delay(at(10.0, None), at(3610.0, None)) == 2.0  # camera was offline for an hour
    assert frame_delay(at(10.0, None), at(9.0, None)) == 0.0  # hub clock stepped back


# -- recording ----------------------------------------------------------------------------------------------


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


async def test_disk_error_fails_only_that_frame(recorder: Recorder, tmp_path: Path) -> None:
    (tmp_path / "rec" / "blocked").write_bytes(b"a file where the device folder would go")
    with pytest.raises(OSError):
        await recorder.record("blocked", 1, None, H0, JPEGS[0])
    await recorder.record("cam1", 1, None, H0, JPEGS[1])
    assert [f.jpeg for f in await all_frames(recorder, "cam1")] == [JPEGS[1]]


async def test_one_recorder_per_folder(recorder: Recorder, tmp_path: Path) -> None:
    second = Recorder(tmp_path / "rec", record="all")
    with pytest.raises(RuntimeError, match="already recording"):
        await second.start()
    await recorder.record("cam1", 1, None, H0, JPEGS[0])
    assert len(await all_frames(recorder, "cam1")) == 1


async def test_not_started_is_an_error(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "rec", record="all")
    with pytest.raises(RuntimeError, match="start"):
        await rec.record("cam1", 1, None, H0, JPEGS[0])


async def test_open_files_are_fsynced_periodically(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "rec", record="all", sync_interval_s=0.05, clock=lambda: H0)
    await rec.start()
    await rec.record("cam1", 1, None, H0, JPEGS[0])
    with sqlite3.connect(tmp_path / "rec" / "index.db") as db:
        for _ in range(100):
            if db.execute("SELECT synced FROM files").fetchone()[0] == len(JPEGS[0]):
                break
            await asyncio.sleep(0.01)
        assert db.execute("SELECT synced FROM files").fetchone()[0] == len(JPEGS[0])
    await rec.close()


# -- toggles ------------------------------------------------------------------------------------------------


async def test_toggle_overrides_the_configured_set_and_persists(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "rec", record="cam1,cam2", clock=lambda: H0)
    await rec.start()
    assert (rec.wants("cam1"), rec.wants("cam2"), rec.wants("cam3")) == (True, True, False)
    rec.set_recording("cam2", False)
    rec.set_recording("cam3", True)
    assert (rec.wants("cam2"), rec.wants("cam3")) == (False, True)
    await rec.close()

    rec = Recorder(tmp_path / "rec", record=None, clock=lambda: H0)
    await rec.start()
    assert (rec.wants("cam1"), rec.wants("cam2"), rec.wants("cam3")) == (False, False, True)
    await rec.close()

    rec = Recorder(tmp_path / "rec", record="all", clock=lambda: H0)
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


# -- retention ----------------------------------------------------------------------------------------------


async def test_retention_by_age_spares_the_open_file(tmp_path: Path) -> None:
    now = [H0]
    rec = Recorder(tmp_path / "rec", record="all", retention_s=2 * 3600, clock=lambda: now[0])
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
    rec = Recorder(tmp_path / "rec", record="all", retention_bytes=limit, clock=lambda: H0)
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
    rec = Recorder(tmp_path / "rec", record="all", retention_s=60, retention_interval_s=0.05, clock=lambda: now[0])
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


# -- crash recovery -----------------------------------------------------------------------------------------


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from camhub.recorder import Recorder

    root, round_, t0 = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    jpegs = [Path(p).read_bytes() for p in sys.argv[4:]]

    def frame(device, seq):
        body = f"{device}:{seq}".encode() + b" " * (seq * 997 % 30000)
        jpeg = jpegs[seq % len(jpegs)]
        return jpeg[:2] + b"\\xff\\xfe" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]

    async def camera(rec, device):
        seq = round_ * 100000
        while True:
            await rec.record(device, seq, seq, t0 + (seq % 100000) * 0.01, frame(device, seq))
            print("ack", device, seq, flush=True)
            seq += 1

    async def main():
        rec = Recorder(root, record="all", clock=lambda: t0)
        await rec.start()
        print("ready", flush=True)
        await asyncio.gather(*(camera(rec, f"cam{n}") for n in range(3)))

    asyncio.run(main())
    """
)


def child_frame(jpegs: list[bytes], device: str, seq: int) -> bytes:
    """The frame the child records for (device, seq), rebuilt here to compare bytes."""
    body = f"{device}:{seq}".encode() + b" " * (seq * 997 % 30000)
    jpeg = jpegs[seq % len(jpegs)]
    return jpeg[:2] + b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]


@pytest.mark.timeout(60)
async def test_sigkill_while_recording_then_restart_agrees(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    paths = []
    for n, jpeg in enumerate(JPEGS[:3]):
        paths.append(tmp_path / f"{n}.jpg")
        paths[-1].write_bytes(jpeg)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = H0 - 0.4  # the first round crosses an hour boundary after 40 frames per camera
    acked: set[tuple[str, int]] = set()

    def note(line: str) -> int:
        if not (line.startswith("ack ") and line.endswith("\n")):
            return 0
        _, device, seq = line.split()
        acked.add((device, int(seq)))
        return 1

    # Kill at different moments: right after start-up, a few frames in, mid-rollover, deep in a file.
    for round_, kill_after in enumerate((0, 5, 40, 150)):
        child = subprocess.Popen(
            [sys.executable, str(script), str(root), str(round_), str(t0), *map(str, paths)],
            stdout=subprocess.PIPE, env=env, text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        seen = 0
        while seen < kill_after:
            seen += note(child.stdout.readline())
        time.sleep(random.uniform(0, 0.01))
        os.kill(child.pid, signal.SIGKILL)
        rest, _ = child.communicate()
        for line in rest.splitlines(keepends=True):
            note(line)
        assert child.returncode == -signal.SIGKILL
        rec = Recorder(root, clock=lambda: t0)
        began = time.perf_counter()
        await rec.start()
        assert time.perf_counter() - began < 5
        await rec.close()
        frames = assert_consistent(root)
        assert acked <= frames.keys()
    assert len(frames) > 150
    for (device, seq), jpeg in frames.items():
        assert jpeg == child_frame(JPEGS[:3], device, seq)


async def test_torn_write_and_stray_bytes_are_cut_away(recorder: Recorder, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    for i in range(3):
        await recorder.record("cam1", i, None, H0 + i, JPEGS[i])
        await recorder.record("cam2", i, None, H0 + i, JPEGS[i])
    await recorder.record("cam3", 0, None, H0, JPEGS[0])
    await recorder.close()
    cam1 = root / "cam1/2024-05-01/12.mjpg"
    with open(cam1, "ab") as fh:  # killed half-way through appending a frame, before its index row
        fh.write(JPEGS[3][: len(JPEGS[3]) // 2])
    stray = root / "cam4/2024-05-01/12.mjpg"  # created, then killed before the first commit
    stray.parent.mkdir(parents=True)
    stray.write_bytes(JPEGS[4])
    (root / "cam3/2024-05-01/12.mjpg").unlink()

    rec = Recorder(root, clock=lambda: H0)
    await rec.start()
    assert [f.jpeg for f in await all_frames(rec, "cam1")] == JPEGS[:3]
    assert [f.jpeg for f in await all_frames(rec, "cam2")] == JPEGS[:3]
    assert await rec.spans("cam3") == []
    await rec.close()
    assert cam1.read_bytes() == b"".join(JPEGS[:3])
    assert not stray.parent.parent.exists()
    assert_consistent(root)


async def test_unsynced_tail_is_verified_after_power_loss(recorder: Recorder, tmp_path: Path) -> None:
    """After an OS crash the index may name bytes that never reached the disk: those frames go."""
    root = tmp_path / "rec"
    for i in range(5):
        await recorder.record("cam1", i, None, H0 + i, JPEGS[i])
        await recorder.record("cam2", i, None, H0 + i, JPEGS[i])
    await recorder.close()
    sizes = [len(j) for j in JPEGS[:5]]
    with sqlite3.connect(root / "index.db") as db:  # as if the last fsync came after frame 1
        db.execute("UPDATE files SET synced = ?", (sizes[0] + sizes[1],))
    cam1 = root / "cam1/2024-05-01/12.mjpg"
    data = bytearray(cam1.read_bytes())
    hole = sum(sizes[:3])
    data[hole : hole + 64] = bytes(64)  # frame 3 came back as zeros
    cam1.write_bytes(data)
    cam2 = root / "cam2/2024-05-01/12.mjpg"
    os.truncate(cam2, sum(sizes[:4]) - 10)  # frame 3 torn, frame 4 missing

    rec = Recorder(root, clock=lambda: H0)
    await rec.start()
    assert [f.seq for f in await all_frames(rec, "cam1")] == [0, 1, 2]
    assert [f.seq for f in await all_frames(rec, "cam2")] == [0, 1, 2]
    await rec.close()
    assert cam1.read_bytes() == b"".join(JPEGS[:3])
    assert_consistent(root)
