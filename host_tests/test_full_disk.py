"""A real full disk (a small tmpfs): frames get 507 "not recorded" (never 500), /healthz says why, nothing answered
200 is lost, files and index agree, and recording and saving resume once there is room again."""

import asyncio
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from testkit.hubs import post_frame
from testkit.jpegs import make_jpeg
from testkit.recordings import assert_consistent

DISK_MB = 6


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip(f"a full disk is a {DISK_MB} MiB tmpfs mounted for the test: that needs root (CI runs as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(path: Path, leave_bytes: int) -> None:
    """Fill the file system with one file until `leave_bytes` are left."""
    stat = os.statvfs(path.parent)
    free = stat.f_bavail * stat.f_frsize
    with open(path, "wb") as fh:
        fh.write(b"\0" * max(free - leave_bytes, 0))


async def test_a_full_disk_is_507_and_loses_nothing_answered_200(small_disk, hub_factory, client):
    hub = await hub_factory(data_dir=small_disk / "data", record=frozenset({"all"}), flush_interval_s=0.2)
    url = hub.url
    frames = [make_jpeg(f"frame {n}", size=(320, 240), noise=40) for n in range(8)]
    filler = small_disk / "filler"
    fill(filler, 300_000)
    acked, statuses, reasons = {}, [], set()
    for seq in range(200):
        status, answer = await post_frame(client, url, frames[seq % 8], seq=seq)
        statuses.append(status)
        if status == 200:
            acked[seq] = frames[seq % 8]
        else:
            assert status == 507, answer
            reasons.add(answer["error"])
    assert 507 in statuses and 200 in statuses[:3]
    assert all("frame shown live but not recorded" in reason for reason in reasons)
    async with client.get(f"{url}/healthz") as response:
        health = await response.json()
        assert response.status == 503 and health["status"] == "degraded", health
        assert any("recording" in problem for problem in health["problems"])
    async with client.get(f"{url}/devices/cam1/snapshot.jpg") as response:
        assert response.status == 200  # live view goes on

    filler.unlink()  # room again: recording and saving resume by themselves
    for seq in range(200, 210):
        status, _ = await post_frame(client, url, frames[seq % 8], seq=seq)
        assert status == 200
        acked[seq] = frames[seq % 8]
    for _ in range(50):  # the registry's next flush succeeds too
        async with client.get(f"{url}/healthz") as response:
            if response.status == 200:
                break
        await asyncio.sleep(0.1)
    assert response.status == 200
    recorded = assert_consistent(small_disk / "data" / "recordings")
    assert {seq: jpeg for (_, seq), jpeg in recorded.items()} == acked
    saved = None
    for _ in range(50):  # and the registry saves its counts again
        with sqlite3.connect(small_disk / "data" / "registry.sqlite3") as db:
            saved = db.execute("SELECT frames FROM devices WHERE device_id = 'cam1'").fetchone()
        if saved == (len(statuses) + 10,):
            break
        await asyncio.sleep(0.1)
    assert saved == (len(statuses) + 10,)
