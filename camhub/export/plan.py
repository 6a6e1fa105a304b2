"""Before an export starts: whether its range may be exported, and what it will hold (frames, bytes, size)."""

from __future__ import annotations

from dataclasses import dataclass

from ..recording.reader import Extent, Reader
from ..recording.timing import iso
from .formats import Format

MAX_RANGE_S = 24 * 3600.0  # one export covers at most a day


class NothingRecorded(LookupError):
    """The range holds no frame of the device."""


@dataclass(frozen=True)
class Estimate:
    """What an export of a range will hold, known before it starts."""

    format: Format
    frames: int
    source_bytes: int
    first_time: float
    last_time: float
    bytes: int  # expected file size


def check_range(start: float, end: float) -> None:
    """ValueError unless [start, end] is a range one export may cover."""
    if end <= start:
        raise ValueError(f"end ({iso(end)}) must be after start ({iso(start)})")
    if end - start > MAX_RANGE_S:
        raise ValueError(f"a range is at most {MAX_RANGE_S / 3600:g} hours, got {(end - start) / 3600:.1f}")


def plan(extent: Extent, device: str, start: float, end: float, fmt: Format) -> Estimate:
    """What exporting a range that holds ``extent`` gives; NothingRecorded for an empty one."""
    check_range(start, end)
    if not extent.frames or extent.first_time is None or extent.last_time is None:
        raise NothingRecorded(f"nothing recorded for device {device!r} between {iso(start)} and {iso(end)}")
    return Estimate(
        fmt,
        extent.frames,
        extent.bytes,
        extent.first_time,
        extent.last_time,
        fmt.estimate(extent.frames, extent.bytes),
    )


def estimate(reader: Reader, device: str, start: float, end: float, fmt: Format) -> Estimate:
    """Frames, bytes and expected size of an export, from the index alone."""
    return plan(reader.extent(device, start, end), device, start, end, fmt)
