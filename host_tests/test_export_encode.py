"""camhub.export.encode: H.264 tagged as limited-range BT.601 4:2:0 with each frame's own time, and AVI's one frame
rate: frames go to the nearest slot, never two in one, and skipped slots stay as time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from camhub.export import FORMATS
from camhub.export.encode import open_output
from testkit.jpegs import make_jpeg
from testkit.players import FFPROBE, packet_times, probe

if not Path(FFPROBE).exists() and os.environ.get("CI") != "true":
    pytest.skip(f"{FFPROBE} is missing (apt-get install ffmpeg); required when CI=true", allow_module_level=True)

JPEGS = [make_jpeg(f"f{i}", size=(160, 120)) for i in range(8)]


def test_h264_frames_keep_their_times_and_the_colours_are_tagged(tmp_path: Path) -> None:
    out = tmp_path / "a.mp4"
    output = open_output(out, FORMATS["mp4"], {"title": "t"}, JPEGS[0], 10)
    starts = [0, 100, 250, 300, 1300, 1400]
    for jpeg, at, nxt in zip(JPEGS, starts, [*starts[1:], 1500], strict=False):
        assert output.write(jpeg, at, nxt - at)
    output.close()
    assert packet_times(out) == pytest.approx([t / 1000 for t in starts])
    info = probe(out)
    assert (info.frames, info.duration_s) == (6, pytest.approx(1.5))
    assert (info.pix_fmt, info.color_range, info.color_space) == ("yuv420p", "tv", "smpte170m")
    assert info.tags["title"] == "t"


def test_avi_puts_frames_in_slots_of_its_rate(tmp_path: Path) -> None:
    out = tmp_path / "a.avi"
    output = open_output(out, FORMATS["avi"], {}, JPEGS[0], 10)  # 100 ms slots
    starts = [0, 40, 80, 200, 1000]  # 40 ms rounds to slot 0, taken: the next free one; so do 80 and 200 ms
    for jpeg, at, nxt in zip(JPEGS, starts, [*starts[1:], 1100], strict=False):
        assert output.write(jpeg, at, nxt - at)
    output.close()
    assert packet_times(out) == pytest.approx([0.0, 0.1, 0.2, 0.3, 1.0])
    info = probe(out)
    assert (info.frames, info.packets) == (5, 5)
    assert info.duration_s == pytest.approx(1.1)
