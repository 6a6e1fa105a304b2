"""`kill -9` of a recording hub, round after round, with cameras streaming into it: afterwards every frame that
was answered 200 must be in the recording, byte for byte, and files and index must agree."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from testkit.hubs import KEY, HubProcess
from testkit.jpegs import make_jpeg
from testkit.recordings import assert_consistent


@dataclass
class KillReport:
    rounds: int
    kills: int = 0
    acked: int = 0
    playable: int = 0
    missing: int = 0


async def _camera(url: str, device: str, first_seq: int, acked: dict[tuple[str, int], bytes]) -> int:
    """Frames as fast as the hub takes them until it dies; returns the next sequence number."""
    seq = first_seq
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            jpeg = make_jpeg(f"{device} {seq}", size=(96, 72))
            headers = {"X-API-Key": KEY, "X-Device-Id": device, "X-Frame-Seq": str(seq), "Content-Type": "image/jpeg"}
            try:
                async with session.post(f"{url}/api/v1/stream/stream", data=jpeg, headers=headers) as response:
                    if response.status == 200:
                        acked[(device, seq)] = jpeg
            except (aiohttp.ClientError, TimeoutError):
                return seq + 1
            seq += 1
            await asyncio.sleep(0.02)


async def kill_rounds(data_dir: Path, cameras: int, rounds: int, seed: int = 1) -> KillReport:
    rng = random.Random(seed)
    report = KillReport(rounds)
    acked: dict[tuple[str, int], bytes] = {}
    seqs = dict.fromkeys((f"kill{n}" for n in range(cameras)), 1)
    for _ in range(rounds):
        hub = HubProcess(data_dir, "--record", "all", env={"CAMHUB_API_KEYS": KEY})
        try:
            streams = [asyncio.create_task(_camera(hub.url, device, seq, acked)) for device, seq in seqs.items()]
            await asyncio.sleep(rng.uniform(0.5, 2.5))
            os.kill(hub.proc.pid, signal.SIGKILL)
            hub.proc.wait(10)
            report.kills += hub.proc.returncode == -signal.SIGKILL
            for device, next_seq in zip(seqs, await asyncio.gather(*streams), strict=True):
                seqs[device] = next_seq
        finally:
            hub.stop()
    hub = HubProcess(data_dir, "--record", "all", env={"CAMHUB_API_KEYS": KEY})  # recovery runs at start
    hub.stop()
    recorded = assert_consistent(data_dir / "recordings")
    report.acked = len(acked)
    report.playable = sum(recorded.get(key) == jpeg for key, jpeg in acked.items())
    report.missing = report.acked - report.playable
    return report
