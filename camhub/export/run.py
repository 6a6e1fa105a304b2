"""Writing one export: the frames of a range, each stamped with its capture time, into a file of the chosen
format (through a .part file that is renamed once complete)."""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from .. import __version__
from ..recording.reader import GAP_S, Frame, Reader
from ..recording.timing import iso, recorded_step
from . import formats
from .encode import open_output
from .formats import FORMATS, Format
from .plan import Estimate, NothingRecorded, estimate

DRIFT_S = 2.0  # the capture clock may run this far from the hub's arrival times before the hub's win
RATE_SAMPLE = 300  # frames whose spacing gives the typical rate
LONE_FRAME_MS = 1000  # how long a range's only frame is shown
MIN_SHOW_S = 1 / 60  # the least a frame is shown for: one refresh of a 60 Hz display (see spread)
MIN_SHARE = 0.5  # ... or half the typical step, if that is less
PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class Progress:
    frames: int  # written so far
    total: int  # frames in the range when it started
    media_s: float  # seconds of video written
    bytes: int  # file size so far


@dataclass(frozen=True)
class Result:
    path: Path
    format: Format
    frames: int
    skipped: int  # frames the decoder refused or that retention removed during the export
    duration_s: float
    bytes: int
    first_time: float
    last_time: float
    seconds: float  # how long the export took


def typical_steps(sample: list[tuple[float, int | None]]) -> tuple[float, float]:
    """(median, fast) seconds between frames of a sample, leaving out gaps; fast is the 10th percentile."""
    steps = sorted(
        step for (t0, c0), (t1, c1) in pairwise(sample) if 0 < (step := recorded_step(t0, c0, t1, c1)) <= GAP_S
    )
    if not steps:
        return LONE_FRAME_MS / 1000, LONE_FRAME_MS / 1000
    return statistics.median(steps), steps[len(steps) // 10]


def export(
    reader: Reader,
    device: str,
    start: float,
    end: float,
    fmt: Format,
    out: Path,
    progress: Callable[[Progress], None] | None = None,
    planned: Estimate | None = None,
) -> Result:
    """Write the device's frames in [start, end] to ``out`` (through ``out``.part, renamed when complete);
    ``planned`` is the range's estimate when the caller already has it."""
    began = time.monotonic()
    planned = planned or estimate(reader, device, start, end, fmt)
    median, fast = typical_steps(reader.clock_sample(device, start, end, RATE_SAMPLE))
    rate = max(1, round(1 / (fast if fmt.container == "avi" else median)))
    part = out.with_name(out.name + ".part")
    frames = iter(reader.frames(device, start, end))
    first = next(frames, None)
    if first is None:
        raise NothingRecorded(f"the recording of {device!r} between {iso(start)} and {iso(end)} was removed")
    metadata = {
        "creation_time": iso(first.time),
        "date": iso(first.time),  # what AVI keeps (ICRD)
        "title": f"{device} {iso(start)} - {iso(end)}",
        "comment": f"CamStream {__version__} export",
    }
    output = open_output(part, fmt, metadata, first.jpeg, rate)
    written = skipped = 0
    ideal = 0.0  # seconds since the first frame, on the capture clock (clamped to the hub's)
    recent: deque[float] = deque(maxlen=31)  # the last steps: the typical one now
    shown_ms = -1  # where the last written frame starts in the file
    pending = (first, 0)  # the frame to write next, at its ideal millisecond
    last_report = time.monotonic()

    def write(frame: Frame, at_ms: int, duration_ms: int) -> None:
        nonlocal written, skipped, shown_ms
        if output.write(frame.jpeg, at_ms, max(1, duration_ms)):
            written += 1
        else:
            skipped += 1
        shown_ms = at_ms

    try:
        for frame in frames:
            prev, prev_ms = pending
            step = recorded_step(prev.time, prev.capture_ms, frame.time, frame.capture_ms)
            if 0 < step <= GAP_S:
                recent.append(step)
            hub_at = frame.time - first.time
            ideal = max(ideal + 0.001, min(max(ideal + step, hub_at - DRIFT_S), hub_at + DRIFT_S))
            next_ms = max(prev_ms + 1, round(ideal * 1000))
            at_ms = spread(shown_ms, prev_ms, next_ms, statistics.median(recent) if recent else 0.0)
            write(prev, at_ms, next_ms - at_ms)
            pending = (frame, max(next_ms, at_ms + 1))
            if progress is not None and time.monotonic() - last_report >= PROGRESS_EVERY_S:
                last_report = time.monotonic()
                progress(Progress(written, planned.frames, at_ms / 1000, _size(part)))
        last, last_ms = pending
        last_ms = max(last_ms, shown_ms + 1)
        tail_ms = round(statistics.median(recent) * 1000) if recent else LONE_FRAME_MS
        write(last, last_ms, tail_ms)
        if not written:
            raise ValueError("none of the recorded frames could be decoded")
        output.close()
    except BaseException:
        output.abort()
        part.unlink(missing_ok=True)
        raise
    os.replace(part, out)
    size = out.stat().st_size
    if progress is not None:
        progress(Progress(written, planned.frames, (last_ms + tail_ms) / 1000, size))
    return Result(
        out,
        fmt,
        written,
        skipped + max(0, planned.frames - written - skipped),
        (last_ms + tail_ms) / 1000,
        size,
        first.time,
        last.time,
        time.monotonic() - began,
    )


def spread(before_ms: int, at_ms: int, after_ms: int, typical_s: float) -> int:
    """Where a frame goes between the frame before it (already placed) and the one after (its ideal time).

    After a slow phase (a heartbeat, a WiFi hiccup) a camera hands over the frames it buffered at once: their
    stamps come a few milliseconds apart after a long step, and a player shows neither on time. Each frame keeps
    at least a display refresh (or half the typical step, if less) to its neighbours, and a frame squeezed between
    two goes halfway; frames further apart stay where they are stamped.
    """
    if before_ms < 0:
        return at_ms
    room = round(min(MIN_SHOW_S, typical_s * MIN_SHARE) * 1000)
    lo, hi = before_ms + room, after_ms - room
    placed = min(max(at_ms, lo), hi) if lo <= hi else (before_ms + after_ms) // 2
    return max(before_ms + 1, placed)


def _size(path: Path) -> int:
    with contextlib.suppress(OSError):
        return path.stat().st_size
    return 0


def format_for(name: str | None, out: str) -> Format:
    """``--format`` when given, else the one ``out``'s extension names; ValueError when neither says."""
    if name:
        return formats.get(name)
    found = formats.for_path(out)
    if found is None:
        choices = ", ".join(f.extension for f in FORMATS.values())
        raise ValueError(f"cannot tell the format from {out!r}: give --format or end the file name in {choices}")
    return found
