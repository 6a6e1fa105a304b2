"""camhub.export.run: recorded ranges written to MP4, MKV and AVI, judged by ffprobe (Debian's ffmpeg): durations
and frame counts, capture times as timestamps (variable rate, gaps kept as time), two hour files, the recorded JPEGs
unchanged without re-encoding, progress, and nothing left behind when an export fails."""

from __future__ import annotations

import os
from itertools import pairwise
from pathlib import Path

import av
import pytest

from camhub.export import FORMATS, NothingRecorded
from camhub.export.run import Progress, export, format_for, spread
from camhub.recording import Recorder
from camhub.recording.reader import Reader
from testkit.jpegs import make_jpeg
from testkit.players import FFPROBE, packet_times, probe
from testkit.recordings import H0, fixture_0_2_0, record_run

if not Path(FFPROBE).exists() and os.environ.get("CI") != "true":
    pytest.skip(f"{FFPROBE} is missing (apt-get install ffmpeg); required when CI=true", allow_module_level=True)


@pytest.fixture
def reader(recorder: Recorder, tmp_path: Path) -> Reader:
    return Reader(tmp_path / "rec")


def recorded_jpegs(reader: Reader, start: float, end: float) -> list[bytes]:
    return [frame.jpeg for frame in reader.frames("cam1", start, end)]


@pytest.mark.parametrize("name", ["mp4", "mkv", "avi"])
async def test_a_steady_30_fps_range_lasts_its_time_with_every_frame(
    recorder: Recorder, reader: Reader, tmp_path: Path, name: str
) -> None:
    times = await record_run(recorder, "cam1", H0 + 10, 150, 30)  # 5 s
    out = tmp_path / f"out.{name}"
    result = export(reader, "cam1", H0 + 10, H0 + 15, FORMATS[name], out)
    info = probe(out)
    assert info.frames == result.frames == 150 and result.skipped == 0
    assert info.duration_s == pytest.approx(5.0, rel=0.02)
    assert result.duration_s == pytest.approx(5.0, abs=0.002)
    assert (info.width, info.height) == (160, 120)
    assert info.tags["creation_time" if name != "avi" else "date"].startswith("2024-05-01T12:00:10")
    pts = packet_times(out)
    assert len(pts) == 150 and pts[0] == 0.0
    assert pts[-1] == pytest.approx(times[-1] - times[0], abs=0.034 if name == "avi" else 0.002)
    if name == "mp4":
        assert (info.codec, info.profile, info.pix_fmt) == ("h264", "High", "yuv420p")
        assert result.bytes < sum(map(len, recorded_jpegs(reader, H0, H0 + 20)))
    else:
        assert info.codec == "mjpeg"
        with av.open(str(out)) as container:  # no re-encoding: the camera's bytes
            assert [bytes(p) for p in container.demux(video=0) if p.size] == recorded_jpegs(reader, H0, H0 + 20)
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("name", ["mp4", "mkv", "avi"])
async def test_two_hour_files_and_a_gap_keep_the_gap_as_time(
    recorder: Recorder, reader: Reader, tmp_path: Path, name: str
) -> None:
    before = await record_run(recorder, "cam1", H0 - 2, 60, 30)  # 11:59:58 - 11:59:59.97, the 11 o'clock file
    after = await record_run(recorder, "cam1", H0 + 20, 60, 30, seq0=60)  # 12:00:20 - 12:00:21.97, the 12 o'clock
    assert [s.path for s in await recorder.spans("cam1")] == ["cam1/2024-05-01/11.mjpg", "cam1/2024-05-01/12.mjpg"]
    out = tmp_path / f"out.{name}"
    result = export(reader, "cam1", H0 - 5, H0 + 25, FORMATS[name], out)
    info = probe(out)
    assert info.frames == result.frames == 120
    expected = after[-1] + 1 / 30 - before[0]  # 24 s: 2 s, the 20 s gap, 2 s
    assert info.duration_s == pytest.approx(expected, rel=0.02)
    pts = packet_times(out)
    assert len(pts) == 120
    slot = 1 / 30 if name == "avi" else 0.002
    assert pts[60] - pts[59] == pytest.approx(after[0] - before[-1], abs=slot)  # the gap, kept
    assert pts[59] == pytest.approx(before[-1] - before[0], abs=slot)


async def test_a_camera_whose_rate_varied_gives_a_variable_frame_rate_mp4(
    recorder: Recorder, reader: Reader, tmp_path: Path
) -> None:
    slow = await record_run(recorder, "cam1", H0, 20, 10)  # 2 s at 10 fps
    fast = await record_run(recorder, "cam1", slow[-1] + 0.1, 60, 30, seq0=20)  # then 2 s at 30 fps
    out = tmp_path / "vfr.mp4"
    export(reader, "cam1", H0, H0 + 10, FORMATS["mp4"], out)
    pts = packet_times(out)
    steps = [b - a for a, b in pairwise(pts)]
    assert all(s == pytest.approx(0.1, abs=0.002) for s in steps[:19])
    assert all(s == pytest.approx(1 / 30, abs=0.002) for s in steps[20:])
    assert probe(out).duration_s == pytest.approx(fast[-1] + 1 / 30 - slow[0], rel=0.02)


async def test_the_capture_clock_wins_over_network_jitter(recorder: Recorder, reader: Reader, tmp_path: Path) -> None:
    jpeg = make_jpeg("j", size=(160, 120))
    for i in range(30):  # captured every 100 ms, arriving 0-80 ms late
        await recorder.record("cam1", i, 1000 + 100 * i, H0 + i / 10 + (i * 37 % 9) / 100, jpeg)
    out = tmp_path / "steady.mkv"
    export(reader, "cam1", H0, H0 + 5, FORMATS["mkv"], out)
    pts = packet_times(out)
    assert pts == pytest.approx([i / 10 for i in range(30)], abs=0.0011)


async def test_frames_of_another_size_are_fitted_into_the_first_one(
    recorder: Recorder, reader: Reader, tmp_path: Path
) -> None:
    await record_run(recorder, "cam1", H0, 10, 10, size=(320, 240))
    await record_run(recorder, "cam1", H0 + 1, 10, 10, seq0=10, size=(640, 360))  # the camera switched to 16:9
    out = tmp_path / "sizes.mp4"
    result = export(reader, "cam1", H0, H0 + 5, FORMATS["mp4"], out)
    info = probe(out)
    assert (info.width, info.height, info.frames, result.frames) == (320, 240, 20, 20)
    with av.open(str(out)) as container:
        last = list(container.decode(video=0))[-1].to_image()
    assert last.getpixel((160, 5)) == pytest.approx((0, 0, 0), abs=12)  # letterboxed: black bars
    assert last.getpixel((160, 40))[0] > 200  # the picture's white label band, kept in shape


async def test_an_undecodable_frame_is_skipped_in_mp4_and_kept_as_recorded_in_mkv(
    recorder: Recorder, reader: Reader, tmp_path: Path
) -> None:
    await record_run(recorder, "cam1", H0, 5, 10)
    await recorder.record("cam1", 5, None, H0 + 0.5, b"\xff\xd8" + b"\x00" * 300 + b"\xff\xd9")
    await record_run(recorder, "cam1", H0 + 0.6, 4, 10, seq0=6)
    mp4 = export(reader, "cam1", H0, H0 + 5, FORMATS["mp4"], tmp_path / "a.mp4")
    assert (mp4.frames, mp4.skipped, probe(tmp_path / "a.mp4").frames) == (9, 1, 9)
    assert mp4.duration_s == pytest.approx(1.0, abs=0.002)
    mkv = export(reader, "cam1", H0, H0 + 5, FORMATS["mkv"], tmp_path / "a.mkv")
    assert (mkv.frames, mkv.skipped) == (10, 0)


async def test_progress_is_reported_and_ends_with_the_file(
    recorder: Recorder, reader: Reader, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("camhub.export.run.PROGRESS_EVERY_S", 0.0)
    await record_run(recorder, "cam1", H0, 40, 20)
    seen: list[Progress] = []
    result = export(reader, "cam1", H0, H0 + 5, FORMATS["mp4"], tmp_path / "p.mp4", seen.append)
    assert [p.frames for p in seen] == sorted(p.frames for p in seen) and len(seen) >= 10
    assert all(p.total == 40 for p in seen)
    assert (seen[-1].frames, seen[-1].bytes) == (40, result.bytes) and seen[-1].media_s == result.duration_s


async def test_a_failed_export_leaves_no_file(
    recorder: Recorder, reader: Reader, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("camhub.export.run.PROGRESS_EVERY_S", 0.0)
    await record_run(recorder, "cam1", H0, 40, 20)

    def stop(progress: Progress) -> None:
        raise KeyboardInterrupt

    out = tmp_path / "x.mp4"
    with pytest.raises(KeyboardInterrupt):
        export(reader, "cam1", H0, H0 + 5, FORMATS["mp4"], out, stop)
    assert list(tmp_path.glob("x.mp4*")) == []
    with pytest.raises(NothingRecorded, match="nothing recorded for device 'cam1'"):
        export(reader, "cam1", H0 + 100, H0 + 200, FORMATS["mkv"], out)
    with pytest.raises(ValueError, match="must be after start"):
        export(reader, "cam1", H0 + 5, H0, FORMATS["mkv"], out)
    with pytest.raises(ValueError, match="at most 24 hours"):
        export(reader, "cam1", H0, H0 + 86401, FORMATS["mkv"], out)
    assert list(tmp_path.glob("x.*")) == []


def test_format_from_the_name_or_the_file() -> None:
    assert format_for("MKV", "a.mp4").name == "mkv"
    assert format_for(None, "clip.AVI").name == "avi"
    with pytest.raises(ValueError, match="give --format or end the file name in .mp4, .mkv, .avi"):
        format_for(None, "clip.mov")
    with pytest.raises(ValueError, match="format='webm' is not one of mp4, mkv, avi"):
        format_for("webm", "a.mp4")


async def test_recordings_written_by_0_2_0_export(tmp_path: Path) -> None:
    frames = fixture_0_2_0(tmp_path / "rec")
    rec = Recorder(tmp_path / "rec", clock=lambda: H0)
    await rec.start()
    reader = Reader(tmp_path / "rec")
    try:
        out = tmp_path / "old.mkv"
        result = export(reader, "cam1", H0 - 60, H0 + 60, FORMATS["mkv"], out)
    finally:
        reader.close()
        await rec.close()
    assert (result.frames, probe(out).frames) == (80, 80)
    assert probe(out).duration_s == pytest.approx(2 + 30 + 2, rel=0.02)
    with av.open(str(out)) as container:
        assert [bytes(p) for p in container.demux(video=0) if p.size] == frames
    pts = packet_times(out)
    assert pts[40] - pts[39] == pytest.approx(30.05, abs=0.002)


def test_spread_keeps_even_frames_and_parts_a_burst() -> None:
    assert spread(-1, 0, 33, 0.033) == 0  # the first frame stays at 0
    assert spread(0, 33, 66, 0.033) == 33  # evenly spaced: unchanged
    assert spread(0, 34, 64, 0.033) == 34  # jitter within half a step: unchanged
    assert spread(0, 79, 80, 0.033) == 64  # taken 1 ms before the next: keeps 16 ms (a 60 Hz refresh) to it
    assert spread(0, 100, 101, 0.02) == 91  # a 50 fps camera: half its step
    assert spread(0, 20, 30, 0.033) == 15  # no room for that on each side: halfway
    assert spread(100, 101, 102, 0.0) == 101  # no typical step yet: as stamped


async def test_buffered_frames_taken_at_once_are_spread_for_players(
    recorder: Recorder, reader: Reader, tmp_path: Path
) -> None:
    jpeg = make_jpeg("b", size=(160, 120))
    stamps = []
    for i in range(95):  # 30 fps, but every 30th frame is taken 79 ms after the one before, the next 1 ms later
        stamps.append(round(i * 1000 / 30) + {29: 45, 0: 13}.get(i % 30, 0) * (i > 0))
        await recorder.record("cam1", i, 10_000 + stamps[-1], H0 + stamps[-1] / 1000 + 0.02, jpeg)
    out = tmp_path / "burst.mp4"
    result = export(reader, "cam1", H0, H0 + 5, FORMATS["mp4"], out)
    pts = packet_times(out)
    assert len(pts) == result.frames == 95
    steps = [b - a for a, b in pairwise(pts)]
    assert min(steps) >= 0.0155 and max(steps) <= 0.066
    assert probe(out).duration_s == pytest.approx(95 / 30, abs=0.04)
