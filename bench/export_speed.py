"""Benchmark part 4: export speed, in seconds of video per second of export, with and without re-encoding.

Camera-like footage (testkit.jpegs.scene_jpegs: a still scene, a moving ball, grain) is recorded at 30 fps with
the hub's own Recorder, then each format is exported with the code `camhub export` runs (camhub.export.run):
MKV and AVI copy the recorded JPEGs into the container, MP4 decodes them and encodes H.264 (x264, CRF 23,
veryfast, as many threads as x264 wants). CPU is this process's user + system time over the export.

    python -m bench.export_speed [--seconds 30] [--sizes 1280x720,640x480]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from camhub.export import FORMATS
from camhub.export.run import export
from camhub.recording import Recorder
from camhub.recording.reader import Reader
from testkit.jpegs import scene_jpegs
from testkit.recordings import H0

FPS = 30
SECONDS = 30.0
SIZES = ((1280, 720), (640, 480))
DISTINCT = 90  # distinct frames rendered (3 s of motion), then repeated
COLUMNS = (
    ("size", "size", "", 9),
    ("format", "format", "", 6),
    ("re-encode", "reencode", "", 9),
    ("frames", "frames", "d", 6),
    ("video s", "video_s", ".1f", 7),
    ("export s", "export_s", ".2f", 8),
    ("video s / export s", "speed", ".1f", 18),
    ("CPU s", "cpu_s", ".2f", 6),
    ("recorded MB", "recorded_mb", ".1f", 11),
    ("file MB", "file_mb", ".2f", 7),
    ("file / recorded", "ratio", ".3f", 15),
)


async def _record(root: Path, size: tuple[int, int], seconds: float) -> int:
    frames = scene_jpegs(min(DISTINCT, round(seconds * FPS)), size)
    rec = Recorder(root, record={"all"}, clock=lambda: H0)
    await rec.start()
    total = 0
    try:
        for i in range(round(seconds * FPS)):
            jpeg = frames[i % len(frames)]
            await rec.record("bench", i, 10_000 + round(i * 1000 / FPS), H0 + i / FPS, jpeg)
            total += len(jpeg)
    finally:
        await rec.close()
    return total


def run(
    sizes: Sequence[tuple[int, int]] = SIZES,
    seconds: float = SECONDS,
    progress: Callable[[dict], None] | None = None,
) -> list[dict]:
    rows = []
    for width, height in sizes:
        with tempfile.TemporaryDirectory(prefix="camstream-export-bench-") as folder:
            root = Path(folder) / "recordings"
            recorded = asyncio.run(_record(root, (width, height), seconds))
            reader = Reader(root)
            try:
                for name in ("mkv", "avi", "mp4"):
                    row: dict[str, object] = {"size": f"{width}x{height}", "format": name}
                    row["reencode"] = FORMATS[name].reencode
                    try:
                        cpu0, t0 = os.times(), time.perf_counter()
                        result = export(
                            reader, "bench", H0, H0 + seconds + 1, FORMATS[name], Path(folder) / f"out.{name}"
                        )
                        wall, cpu1 = time.perf_counter() - t0, os.times()
                    except Exception as exc:  # one failed format must not hide the others
                        row["error"] = f"{type(exc).__name__}: {exc}"
                    else:
                        row.update(
                            frames=result.frames,
                            video_s=round(result.duration_s, 3),
                            export_s=round(wall, 3),
                            speed=round(result.duration_s / wall, 2),
                            cpu_s=round((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system), 3),
                            recorded_mb=round(recorded / 1e6, 3),
                            file_mb=round(result.bytes / 1e6, 3),
                            ratio=round(result.bytes / recorded, 4),
                        )
                    rows.append(row)
                    if progress is not None:
                        progress(row)
            finally:
                reader.close()
    return rows


def _fmt(value: object, spec: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format(value, spec) if spec else str(value)


def format_table(rows: list[dict]) -> str:
    out = [
        f"Export: camera-like footage recorded at {FPS} fps, exported with camhub.export.run on {os.cpu_count()} cores",
        "  ".join(title.rjust(width) if i else title.ljust(width) for i, (title, _, _, width) in enumerate(COLUMNS)),
    ]
    for row in rows:
        if "error" in row:
            out.append(f"{row['size']:<9}  {row['format']:<6}  FAILED: {row['error'][:300]}")
            continue
        cells = [_fmt(row.get(key), spec) for _, key, spec, _ in COLUMNS]
        out.append(
            "  ".join(
                cell.rjust(width) if i else cell.ljust(width)
                for i, (cell, (_, _, _, width)) in enumerate(zip(cells, COLUMNS, strict=True))
            )
        )
    return "\n".join(out)


def _sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        width, _, height = part.strip().partition("x")
        sizes.append((int(width), int(height)))
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export_speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=SECONDS, help="seconds of video recorded per size")
    parser.add_argument("--sizes", type=_sizes, default=list(SIZES), help="e.g. 1280x720,640x480")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    rows = run(args.sizes, args.seconds)
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
