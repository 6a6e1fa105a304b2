"""camhub.recording.recovery: after SIGKILL, torn writes, stray files or power loss, files and index agree again."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from camhub.recording import Recorder
from testkit.jpegs import seeded_jpeg
from testkit.recordings import H0, all_frames, assert_consistent

ROOT = Path(__file__).resolve().parent.parent
JPEGS = [seeded_jpeg(seed) for seed in range(6)]


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from camhub.recording import Recorder

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
        rec = Recorder(root, record={"all"}, clock=lambda: t0)
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
            stdout=subprocess.PIPE,
            env=env,
            text=True,
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
