"""`camhub export`: a recorded range to a file, from the hub's data dir (the hub may be running or not)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from ..config import Config, env_name
from ..recording.reader import Reader
from ..recording.timing import iso, parse_time
from . import FORMATS, NothingRecorded, estimate
from .run import Progress, export, format_for

EPILOG = """\
times are unix seconds or ISO 8601 (no zone = UTC), e.g. 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00.
formats: mp4 = H.264, plays in browsers, phones, VLC and QuickTime (re-encoded); mkv and avi = the recorded JPEGs
unchanged (MJPEG), for VLC and ffmpeg. Every frame keeps its capture time; gaps stay as time.
--progress json prints one JSON object a line on stdout: {"frames", "total", "mediaS", "bytes"} while it runs,
then the result with "done": true.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="camhub export",
        description="Export a recorded time range of one camera to MP4, MKV or AVI.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get(env_name("--data-dir"), Config.data_dir)),
        help=f"the hub's data dir [env {env_name('--data-dir')}; default {Config.data_dir}]",
    )
    parser.add_argument("--device", required=True, help="device id")
    parser.add_argument("--start", required=True, help="where the range starts (unix seconds or ISO 8601)")
    parser.add_argument("--end", required=True, help="where it ends (included)")
    parser.add_argument("--format", choices=sorted(FORMATS), help="default: from the output file's extension")
    parser.add_argument("-o", "--output", required=True, help="file to write")
    parser.add_argument("-y", "--overwrite", action="store_true", help="replace the output file if it exists")
    parser.add_argument(
        "--progress",
        choices=("auto", "text", "json", "none"),
        default="auto",
        help="auto = text on a terminal, none otherwise",
    )
    parser.add_argument(
        "--nice", type=_niceness, default=0, help="lower this process's CPU priority by 0..19 (the hub uses 10)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        start = parse_time("start", args.start)
        end = parse_time("end", args.end)
        fmt = format_for(args.format, args.output)
    except ValueError as exc:
        parser.error(str(exc))
    out = Path(args.output)
    if out.exists() and not args.overwrite:
        return _fail(f"{out} exists (use --overwrite to replace it)")
    if not out.parent.is_dir():
        return _fail(f"folder {out.parent} does not exist")
    if args.nice:
        os.nice(args.nice)
    mode = args.progress if args.progress != "auto" else ("text" if sys.stderr.isatty() else "none")
    try:
        reader = Reader(args.data_dir / "recordings")
    except FileNotFoundError:
        return _fail(f"nothing was ever recorded in {args.data_dir} (no recordings/index.db)")
    try:
        planned = estimate(reader, args.device, start, end, fmt)
        if mode != "json":
            print(
                f"exporting {planned.frames} frames of {args.device} ({iso(planned.first_time)} to "
                f"{iso(planned.last_time)}, {_mb(planned.source_bytes)} recorded) to {fmt.name}, "
                f"about {_mb(planned.bytes)}",
                file=sys.stderr,
                flush=True,
            )
        result = export(reader, args.device, start, end, fmt, out, _reporter(mode, sys.stdout, sys.stderr), planned)
    except (NothingRecorded, ValueError, OSError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted; nothing written")
    finally:
        reader.close()
    summary = {
        "done": True,
        "path": str(result.path),
        "format": fmt.name,
        "frames": result.frames,
        "skipped": result.skipped,
        "durationS": round(result.duration_s, 3),
        "bytes": result.bytes,
        "firstTime": result.first_time,
        "lastTime": result.last_time,
        "seconds": round(result.seconds, 3),
    }
    if mode == "json":
        print(json.dumps(summary), flush=True)
    else:
        if mode == "text":
            print(file=sys.stderr)
        speed = result.duration_s / result.seconds if result.seconds > 0 else 0.0
        skipped = f", {result.skipped} frames skipped" if result.skipped else ""
        print(
            f"{result.path}: {result.frames} frames, {result.duration_s:.2f} s of video, {_mb(result.bytes)}"
            f"{skipped}; exported in {result.seconds:.1f} s ({speed:.1f}x real time)",
            flush=True,
        )
    return 0


def _reporter(mode: str, stdout: TextIO, stderr: TextIO) -> Callable[[Progress], None] | None:
    if mode == "json":

        def as_json(p: Progress) -> None:
            line = {"frames": p.frames, "total": p.total, "mediaS": round(p.media_s, 3), "bytes": p.bytes}
            print(json.dumps(line), file=stdout, flush=True)

        return as_json
    if mode == "text":

        def as_text(p: Progress) -> None:
            share = p.frames / p.total if p.total else 1.0
            print(
                f"\r{share:4.0%} {p.frames}/{p.total} frames, {p.media_s:.1f} s of video, {_mb(p.bytes)}  ",
                end="",
                file=stderr,
                flush=True,
            )

        return as_text
    return None


def _niceness(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 19:
        raise argparse.ArgumentTypeError(f"must be 0..19, got {text!r}")
    return value


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _fail(message: str) -> int:
    print(f"camhub export: {message}", file=sys.stderr)
    return 1
