"""`make soak`: the long forms of the hub's and the firmware's endurance proofs, and one table of their figures.

    python -m bench.soak [--minutes 10] [--kill-rounds 20] [--firmware-frames 100000] [--only fuzz,kill,...]

- fuzz: the protocol fuzzer (testkit/fuzz.py) against a `camhub` process, with a camera streaming beside it
- kill: `kill -9` of a recording hub with 10 cameras, round after round; every frame answered 200 is checked
- idle: 1,000 idle kept-alive connections held while 3 cameras stream and /healthz is asked
- load: 50 cameras and 100 viewers (bench.loadgen) against the hub for the whole time, its RSS sampled
- firmware: the firmware's own loop under CircuitPython's core with failures mixed in, its free heap's trend

Exit status 1 if any check failed; each one's row still prints. The test suite runs short forms of each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench import hub_load, procstat
from testkit import firmware_soak, fuzz, kill9
from testkit.hubs import KEY, HubProcess, post_frame
from testkit.mpy import MicroPythonUnavailable, circuitpython
from testkit.rawhttp import read_answer, send

CHECKS = ("fuzz", "kill", "idle", "load", "firmware")


@dataclass
class Row:
    check: str
    ok: bool
    figures: str
    problems: list[str] = field(default_factory=list)


def soak_fuzz(minutes: float, seed: int) -> Row:
    with tempfile.TemporaryDirectory(prefix="soak-fuzz-") as folder:
        hub = HubProcess(
            Path(folder),
            *("--record", fuzz.CAMERA, "--header-timeout", "2", "--body-timeout", "2"),
            *("--auth-failures-per-minute", "1000000"),
            env={"CAMHUB_API_KEYS": KEY},
        )
        try:
            report = asyncio.run(fuzz.run(hub.url, KEY, minutes * 60, seed))
        finally:
            hub.stop()
        problems = report.failures[:5]
        if hub.proc.returncode != 0:
            problems.append(f"the hub exited with {hub.proc.returncode}")
        if "Traceback" in hub.text:
            at = hub.text.index("Traceback")
            problems.append("the hub logged a traceback: " + " | ".join(hub.text[at - 300 : at + 700].splitlines()))
        return Row(
            check=f"protocol fuzzer, {minutes:g} min",
            ok=not problems,
            figures=f"{report.cases} cases (seed {report.seed}), answers {dict(report.statuses)}, "
            f"camera frames 200/recorded {report.camera_acked}/{report.camera_recorded}",
            problems=problems,
        )


def soak_kill(rounds: int) -> Row:
    with tempfile.TemporaryDirectory(prefix="soak-kill-") as folder:
        report = asyncio.run(kill9.kill_rounds(Path(folder), cameras=10, rounds=rounds))
    return Row(
        check=f"kill -9 while 10 cameras record, {rounds} rounds",
        ok=report.kills == rounds and report.missing == 0,
        figures=f"kills survived {report.kills}/{rounds}, frames answered 200 {report.acked}, "
        f"playable {report.playable}",
    )


async def _idle(url: str) -> Row:
    host, port = url.split("//")[1].split(":")
    idle = [await asyncio.open_connection(host, int(port)) for _ in range(1000)]
    try:
        for _, writer in idle:
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        for reader, _ in idle:
            await read_answer(reader)

        async def camera(n: int) -> int:
            sent = 0
            async with aiohttp.ClientSession() as session:
                ends = time.monotonic() + 20
                while time.monotonic() < ends:
                    sent += (await post_frame(session, url, device=f"idlecam{n}", seq=sent))[0] == 200
            return sent

        counts = await asyncio.gather(*(camera(n) for n in range(3)))
        started = time.monotonic()
        health = await send(url, "GET", "/healthz", {})
        waited = time.monotonic() - started
        held = sum(not reader.at_eof() for reader, _ in idle)  # the hub closed the others
    finally:
        for _, writer in idle:
            writer.close()
    return Row(
        check="1,000 idle connections + 3 cameras, 20 s",
        ok=health.status == 200 and min(counts) > 0 and held >= 997,
        figures=f"connections held {held}, camera frames/s {[round(c / 20) for c in counts]}, "
        f"/healthz {health.status} in {waited * 1000:.0f} ms",
    )


def soak_idle() -> Row:
    with tempfile.TemporaryDirectory(prefix="soak-idle-") as folder:
        hub = HubProcess(Path(folder), env={"CAMHUB_API_KEYS": KEY})
        try:
            return asyncio.run(_idle(hub.url))
        finally:
            hub.stop()


def soak_load(minutes: float, cameras: int = 50, viewers: int = 100) -> Row:
    seconds = minutes * 60
    with tempfile.TemporaryDirectory(prefix="soak-load-") as folder:
        server = hub_load.Server("hub", folder)
        try:
            server.wait_ready()
            pid = server.process.pid
            argv = [sys.executable, "-m", "bench.loadgen", "--target", "hub", "--port", str(server.port)]
            argv += ["--server-pid", str(pid), "--cameras", str(cameras), "--viewers", str(viewers)]
            argv += ["--seconds", str(seconds), "--warmup", "30", "--api-key", hub_load.API_KEY]
            load = subprocess.Popen(argv, cwd=hub_load.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            samples: list[tuple[float, int]] = []
            began = time.monotonic()
            while load.poll() is None:
                time.sleep(10)
                if server.process.poll() is None:
                    samples.append((time.monotonic() - began, procstat.rss_bytes(pid)))
            out, err = load.communicate()
            if load.returncode != 0:
                return Row("50 cameras + 100 viewers", False, err.strip()[-300:])
            figures = json.loads(out)
        finally:
            server.stop()
    measured = [rss for at, rss in samples if at >= 40]  # after the ramp-up and the warm-up
    start, end = measured[0] / 2**20, measured[-1] / 2**20
    return Row(
        check=f"{cameras} cameras + {viewers} viewers, {minutes:g} min",
        ok=end <= start * 1.25 + 32 and figures["errors"] == 0,
        figures=f"RSS start/end {start:.0f}/{end:.0f} MiB (max {max(measured) / 2**20:.0f}), "
        f"frames/s {figures['ingest_fps']}, viewer latency p50/p99 {figures['latency_p50_ms']}/"
        f"{figures['latency_p99_ms']} ms, errors {figures['errors']}",
    )


def soak_firmware(frames: int) -> Row:
    try:
        circuitpython()
    except MicroPythonUnavailable as exc:
        return Row(f"firmware, {frames} frames", True, f"skipped: {exc}")
    trend = firmware_soak.run(frames)
    return Row(
        check=f"firmware under CircuitPython's core, {frames} frames with failures",
        ok=trend.slope * frames > -1024 and trend.lost <= 256,
        figures=f"free heap {trend.free[firmware_soak.WARM_UP_SAMPLES]} -> {trend.free[-1]} bytes, "
        f"slope {trend.slope * 1000:+.2f} bytes/1000 frames, failures {trend.errors}",
    )


def table(rows: list[Row]) -> str:
    width = max(len(row.check) for row in rows)
    lines = [f"{'check':<{width}}  result  figures", f"{'-' * width}  ------  -------"]
    for row in rows:
        lines.append(f"{row.check:<{width}}  {'ok' if row.ok else 'FAILED':<6}  {row.figures}")
        lines += [f"{'':<{width}}          {problem}" for problem in row.problems]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the fuzz and the load runs")
    parser.add_argument(
        "--fuzz-seed", type=int, default=int(time.time()), help="the fuzzer's seed, to replay a run (default: now)"
    )
    parser.add_argument("--kill-rounds", type=int, default=20)
    parser.add_argument("--firmware-frames", type=int, default=100_000)
    parser.add_argument("--only", default=",".join(CHECKS), help=f"comma list of {', '.join(CHECKS)}")
    args = parser.parse_args()
    runs: dict[str, Callable[[], Row]] = {
        "fuzz": lambda: soak_fuzz(args.minutes, args.fuzz_seed),
        "kill": lambda: soak_kill(args.kill_rounds),
        "idle": soak_idle,
        "load": lambda: soak_load(args.minutes),
        "firmware": lambda: soak_firmware(args.firmware_frames),
    }
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(CHECKS)
    if unknown:
        parser.error(f"unknown checks {sorted(unknown)}: choose from {', '.join(CHECKS)}")
    rows = []
    for name in chosen:
        print(f"soak: {name} ...", file=sys.stderr, flush=True)
        try:
            rows.append(runs[name]())
        except Exception as exc:  # one check's failure is its row; the others still run
            rows.append(Row(name, False, _cause(exc)))
    print(table(rows))
    return 0 if all(row.ok for row in rows) else 1


def _cause(exc: Exception, limit: int = 400) -> str:
    """The exception's first line, and its tail where it is long (a guest's whole console would flood the table)."""
    text = f"{type(exc).__name__}: {exc}"
    first = text.splitlines()[0] if text else text
    return first if len(text) <= limit or first == text else f"{first[:limit]} ... {text[-limit:]!r}"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
