"""The firmware's own loop under CircuitPython's core for many frames with failures mixed in (guest side:
testkit/guest/soak_probe.py), and the trend of its free heap after each collection."""

from __future__ import annotations

from dataclasses import dataclass

from testkit.mpy import firmware_files, result, run_circuitpython

WARM_UP_SAMPLES = 2  # the first collections still see the loop's one-time allocations


@dataclass
class HeapTrend:
    frames: int
    free: list[int]  # bytes free after gc.collect(), every `every` frames
    every: int
    errors: dict[str, int]

    @property
    def slope(self) -> float:
        """Least-squares change of the free heap, bytes per frame, after the warm-up."""
        points = [(n * self.every, free) for n, free in enumerate(self.free)][WARM_UP_SAMPLES:]
        if len(points) < 2:
            raise ValueError("too few samples for a trend: run more frames")
        mean_x = sum(x for x, _ in points) / len(points)
        mean_y = sum(y for _, y in points) / len(points)
        spread = sum((x - mean_x) ** 2 for x, _ in points)
        return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread

    @property
    def lost(self) -> int:
        """Bytes the lowest sample after the warm-up is below the first one."""
        settled = self.free[WARM_UP_SAMPLES:]
        return settled[0] - min(settled)


# The core runs about 700 of these frames a second on a 2-core VM; a tenth of that still finishes.
FRAMES_PER_S_FLOOR = 70


def run(frames: int, heap_bytes: int = 2 * 1024 * 1024) -> HeapTrend:
    out = run_circuitpython(
        f"import soak_probe\nsoak_probe.run({frames})\n",
        firmware_files(),
        heap_bytes=heap_bytes,
        timeout_s=30 + frames / FRAMES_PER_S_FLOOR,
    )
    measured = result(out)
    return HeapTrend(frames, measured["free"], measured["every"], measured["errors"])
