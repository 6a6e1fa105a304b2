"""Export of a recorded time range to a file people can play anywhere: MP4 (H.264, re-encoded) or the recorded
JPEGs as they are in MKV or AVI, every frame at the time the camera captured it (gaps kept as time).

It reads the recording folder directly (a read-only index connection and plain file reads, a chunk at a time), so
it runs in `camhub export` beside a running hub or without one; the hub runs its exports through that command in a
process of its own (`jobs`), so a long export never holds the hub's event loop or its memory.
"""

from .formats import FORMATS, Format
from .plan import MAX_RANGE_S, Estimate, NothingRecorded, check_range, estimate, plan

__all__ = ["FORMATS", "MAX_RANGE_S", "Estimate", "Format", "NothingRecorded", "check_range", "estimate", "plan"]
