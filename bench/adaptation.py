"""Rate control on the virtual board: the unmodified firmware at HD behind the link of issue 9 (1000 -> 250 ->
1000 KB/s, 20 ms RTT, target 20 fps) with CAMSTREAM_ADAPT = fps and = off, and on a steady 400 KB/s link at HD
with target 30. Prints per-segment tables and the bytes per frame at each picture, and draws fps and quality
over time (docs/adaptation.png).

    python -m bench.adaptation [--segment 20] [--plot docs/adaptation.png]

The stepping run goes alone (its link estimate includes how fast the virtual board itself runs); the two others
then run side by side.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from testkit.adaptation import AdaptiveBoard, Run, run_batches

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PLOT = ROOT / "docs" / "adaptation.png"
TARGET = 20
HD = ("CAMSTREAM_FRAME_SIZE=HD",)


def schedule(segment_s: float) -> str:
    return f"1000@0,250@{segment_s:g},1000@{2 * segment_s:g}"


def measure(segment_s: float) -> dict[str, Run]:
    link = schedule(segment_s)
    batches = [
        [AdaptiveBoard("fps", link, 3 * segment_s, TARGET, HD)],
        [
            AdaptiveBoard("off", link, 3 * segment_s, TARGET, (*HD, "CAMSTREAM_ADAPT=off")),
            AdaptiveBoard("steady400", "400", max(20.0, segment_s), 30, HD),
        ],
    ]
    return run_batches(batches)


def summarise(run: Run) -> dict:
    rows = []
    for start, end, kbps in run.segments():
        recovered = run.recovered_at(start, end)
        settled = start if recovered is None else recovered
        pictures = run.pictures(start, end)
        rows.append(
            {
                "from_s": round(start, 1),
                "to_s": round(end, 1),
                "link_kbps": kbps,
                "recovered_after_s": None if recovered is None else round(recovered - start, 1),
                "fps_after": round(run.fps(settled, end), 1),
                "fps_all": round(run.fps(start, end), 1),
                "reconfigures": run.reconfigures(start, end),
                "pictures": [f"{size} q{quality}" for size, quality in pictures],
                "end_picture": f"{pictures[-1][0]} q{pictures[-1][1]}" if pictures else None,
            }
        )
    sizes = run.bytes_by_picture()
    return {
        "target_fps": run.target_fps,
        "segments": rows,
        "adapt_lines": [(round(at, 1), line) for at, line in run.adapt_lines],
        "bytes_per_frame": {f"{size} q{quality}": round(nbytes) for (size, quality), nbytes in sorted(sizes.items())},
        "timeline": run.timeline(),
    }


def run(segment_s: float = 20.0, plot_path: Path | None = DEFAULT_PLOT, quick: bool = False) -> dict:
    runs = measure(4.0 if quick else segment_s)
    data = {"segment_s": 4.0 if quick else segment_s, **{name: summarise(r) for name, r in runs.items()}}
    if plot_path is not None:
        plot(runs, plot_path)
        data["plot"] = str(plot_path)
    return data


def format_table(data: dict) -> str:
    lines = [
        f"Rate control on the virtual board (HD, RTT 20 ms; stepping link, {data['segment_s']:g} s per rate)",
        "",
        "| run | link KB/s | from-to s | recovered after s | fps after | fps whole segment | reconfigures | pictures |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("fps", "off", "steady400"):
        part = data[name]
        for row in part["segments"]:
            recovered = "-" if row["recovered_after_s"] is None else f"{row['recovered_after_s']:g}"
            lines.append(
                f"| {name} (target {part['target_fps']}) | {row['link_kbps']:g} | {row['from_s']:g}-{row['to_s']:g} |"
                f" {recovered} | {row['fps_after']:g} | {row['fps_all']:g} | {row['reconfigures']} |"
                f" {' -> '.join(row['pictures'])} |"
            )
    lines += ["", "| picture | bytes per frame (adapt fps run) |", "|---|---|"]
    for picture, nbytes in data["fps"]["bytes_per_frame"].items():
        lines.append(f"| {picture} | {nbytes:,} |")
    lines += ["", "Changes (adapt fps run):"] + [f"  {at:5.1f} s {line}" for at, line in data["fps"]["adapt_lines"]]
    return "\n".join(lines)


def plot(runs: dict[str, Run], path: Path) -> None:
    """fps (adaptation on and off), the JPEG quality number with the frame sizes, and KB per frame, over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    on, off = runs["fps"], runs["off"]
    figure, (fps_ax, quality_ax, kb_ax) = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    for run, label, style in ((on, "CAMSTREAM_ADAPT = fps", "-"), (off, "CAMSTREAM_ADAPT = off", "--")):
        rows = run.timeline(1.0)
        fps_ax.step([r["t"] for r in rows], [r["fps"] for r in rows], style, where="post", label=label)
        with_frames = [r for r in run.timeline(0.5) if "kb" in r]
        kb_ax.plot([r["t"] for r in with_frames], [r["kb"] for r in with_frames], style, label=label)
    fps_ax.axhline(on.target_fps, color="grey", linewidth=0.8)
    fps_ax.axhline(0.9 * on.target_fps, color="grey", linewidth=0.8, linestyle=":")
    fps_ax.set_ylabel("delivered fps\n(per second)")
    fps_ax.legend(loc="center right")
    frames = on.frames
    quality_ax.step([f.at for f in frames], [f.quality for f in frames], where="post", label="quality number")
    quality_ax.set_ylabel("JPEG quality number\n(lower = better)")
    quality_ax.invert_yaxis()
    last = None
    for f in frames:
        if f.size != last:
            quality_ax.axvline(f.at, color="tab:red", linewidth=0.8)
            quality_ax.annotate(f.size, (f.at, f.quality), textcoords="offset points", xytext=(4, -12), fontsize=8)
            last = f.size
    times = [i / 2 for i in range(int(on.seconds * 2) + 1)]
    budget = [on.link_at(t) * 1000 / 1024 / on.target_fps for t in times]
    kb_ax.step(times, budget, where="post", color="grey", label="link rate / target fps")
    kb_ax.set_ylabel("KB per frame")
    kb_ax.set_xlabel("seconds since the virtual board started")
    kb_ax.legend(loc="upper right")
    for ax in (fps_ax, quality_ax, kb_ax):
        for at, _ in on.steps[1:]:
            ax.axvline(at, color="black", linewidth=0.6, linestyle="--")
        ax.grid(alpha=0.3)
    link = ", ".join(f"{kbps:g} KB/s from {at:.0f} s" for at, kbps in on.steps)
    fps_ax.set_title(f"HD, target {on.target_fps} fps, RTT 20 ms; link {link}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.adaptation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--segment", type=float, default=20.0, help="seconds each link rate lasts (20)")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help=f"plot file ({DEFAULT_PLOT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    print(format_table(run(args.segment, args.plot)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
