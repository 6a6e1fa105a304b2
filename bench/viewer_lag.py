"""Part 4 (viewers): frame age at slow viewers of a 30 fps camera, and the CPU one reduced frame costs.

Age: hub receive time to viewer receive time of each frame (testkit.lag), for a raw-socket viewer taking 5 frames/s
with the system's default socket buffers and for OpenCV doing 100 ms of work per frame; the share of the age that
is the viewer's own receive buffer (its unread bytes, read at its rate). Resize: process CPU time of
camhub.resize.shrink on a 720p frame, per frame, for the widths a dashboard and a detector ask for.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from camhub.resize import shrink
from testkit import lag
from testkit.hubs import KEY, ThreadedHub, hub_config

CLIENTS = (("raw socket, 5 frames/s", ["raw", "5"]), ("OpenCV, 100 ms work/frame", ["opencv", "0.1"]))
WIDTHS = (160, 320, 640)


def resize_cpu(frame: bytes, repeats: int) -> list[dict]:
    rows = []
    for width in WIDTHS:
        shrink(frame, width)
        started = time.process_time()
        for _ in range(repeats):
            shrink(frame, width)
        rows.append({"width": width, "cpu_ms_per_frame": round((time.process_time() - started) / repeats * 1000, 2)})
    return rows


def run(seconds: float = 60.0, repeats: int = 200, progress: Callable[[str], None] = print) -> dict:
    frames = [lag.coded_frame(code) for code in range(min(lag.CODES, int(seconds * 30) + 60))]
    rows = []
    for label, client in CLIENTS:
        with ThreadedHub(hub_config(Path(tempfile.mkdtemp(prefix="bench-lag-")))) as hub:
            result = lag.measure(hub.url, KEY, "cam1", client, seconds, frames)
        rows.append({"viewer": label, "seconds": seconds, **result.summary()})
        progress(f"  viewers {label}: p99 {rows[-1]['age_p99_s']} s")
    return {"frame_bytes": len(frames[0]), "rows": rows, "resize": resize_cpu(frames[0], repeats)}


def format_table(part: dict) -> str:
    lines = [
        f"Frame age at slow viewers of a 30 fps camera (720p, {part['frame_bytes'] // 1024} KB frames)",
        f"{'viewer':<26}{'fps':>6}{'p50 s':>8}{'p99 s':>8}{'max s':>8}{'growth s':>10}"
        f"{'rcvbuf KB':>11}{'rcvbuf s':>10}",
    ]
    for row in part["rows"]:
        lines.append(
            f"{row['viewer']:<26}{row['fps']:>6}{row['age_p50_s']:>8}{row['age_p99_s']:>8}{row['age_max_s']:>8}"
            f"{row['growth_s']:>10}{row['rcvbuf_kb']:>11}{row['rcvbuf_share_s']:>10}"
        )
    lines.append(
        "CPU per reduced 720p frame: "
        + ", ".join(f"{r['width']} px {r['cpu_ms_per_frame']} ms" for r in part["resize"])
    )
    return "\n".join(lines)
