"""bench.adaptation: the tables and the plot from a run's data (a synthetic run: the real runs are the
acceptance tests in test_e2e_adapt.py and `make bench`)."""

from PIL import Image

from bench import adaptation
from testkit.adaptation import Frame, Run


def synthetic(name: str, adapt: bool) -> Run:
    """60 s on the stepping link: 20 fps at HD q30, VGA q36 from 21 s, HD again from 42 s; or, without
    adaptation, HD q6 at the 7 fps and 2 fps the link carries."""
    frames = []
    t = 0.5
    while t < 60:
        if not adapt:
            size, quality, nbytes, fps = "1280x720", 6, 110_000, 2 if 20 <= t < 40 else 7
        elif 21 <= t < 42:
            size, quality, nbytes, fps = "640x480", 36, 9_800, 20
        else:
            size, quality, nbytes, fps = "1280x720", 30, 31_000, 20
        frames.append(Frame(t, nbytes, size, quality))
        t += 1 / fps
    lines = [(21.0, "Adapt: HD q30 -> VGA q36 (reconfigure #1): ..."), (42.0, "Adapt: VGA q36 -> HD q30 ...")]
    return Run(name, 20, frames, [(0.0, 1000.0), (20.0, 250.0), (40.0, 1000.0)], lines if adapt else [], "", 60.0)


def test_tables_and_plot(tmp_path):
    runs = {"fps": synthetic("fps", True), "off": synthetic("off", False), "steady400": synthetic("steady400", True)}
    data = {"segment_s": 20.0, **{name: adaptation.summarise(run) for name, run in runs.items()}}
    first, low, high = data["fps"]["segments"]
    assert (first["link_kbps"], low["link_kbps"], high["link_kbps"]) == (1000, 250, 1000)
    assert low["reconfigures"] == 1 and low["end_picture"] == "640x480 q36" and high["end_picture"] == "1280x720 q30"
    assert data["fps"]["bytes_per_frame"] == {"1280x720 q30": 31_000, "640x480 q36": 9_800}
    table = adaptation.format_table(data)
    assert "| fps (target 20) | 250 | 20-40 |" in table and "| 640x480 q36 | 9,800 |" in table
    adaptation.plot(runs, tmp_path / "plot.png")
    assert Image.open(tmp_path / "plot.png").size == (900, 720)
