"""camhub.mjpeg with real clients: slow viewers get fresh frames (raw socket with default buffers, OpenCV), a
stream ends cleanly when its camera stops (ffmpeg), reduced streams and snapshots (ffmpeg, Pillow)."""

import asyncio
import io
import json
import shutil
import subprocess
import time

import pytest
from PIL import Image

from camhub import fanout
from camhub.framing import CLOSE
from camhub.keys import FANOUT
from testkit import lag
from testkit.hubs import KEY, ThreadedHub, hub_config, post_frame
from testkit.jpegs import make_jpeg
from testkit.viewers import BIG, stalled_viewer, wait_for

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is installed by make test")
HD = make_jpeg("hd", size=(1280, 720), quality=60, noise=20)
RUN_S = 12  # the test suite's shorter run; make bench runs the full 60 s


@pytest.fixture(scope="module")
def coded_frames():
    return [lag.coded_frame(code) for code in range(RUN_S * 30 + 60)]


@pytest.fixture
def lag_hub(tmp_path):
    with ThreadedHub(hub_config(tmp_path / "lag")) as hub:
        yield hub


def test_a_viewer_reading_5_frames_a_second_of_30_gets_fresh_frames(lag_hub, coded_frames):
    result = lag.measure(lag_hub.url, KEY, "cam1", ["raw", "5"], RUN_S, coded_frames)
    summary = result.summary()
    assert 4 <= result.rate <= 5.5, summary
    assert result.percentile(99) < 1.0, summary  # before: 6 s at p50, 12 s at p99 after 15 s, growing
    assert abs(result.growth()) < 0.3, summary


def test_opencv_with_100_ms_of_work_per_frame_gets_fresh_frames(lag_hub, coded_frames):
    result = lag.measure(lag_hub.url, KEY, "cam1", ["opencv", "0.1"], RUN_S, coded_frames)
    summary = result.summary()
    assert result.percentile(99) < 1.0, summary
    assert abs(result.growth()) < 0.3, summary


async def test_a_stalled_viewer_shows_in_the_metrics_with_the_kernel_queue(hub, client):
    await post_frame(client, hub.url, BIG[0], seq=0)
    slot = hub.app[FANOUT].peek("cam1")
    sock = stalled_viewer(hub.url)
    await wait_for(lambda: len(slot.viewers) == 1)
    for n in range(1, 40):
        await post_frame(client, hub.url, BIG[n % len(BIG)], seq=n)
    assert slot.kernel_queued() > 0
    # at most one part beyond what the kernel holds: the hub buffers nothing more for it
    assert slot.buffered() - slot.kernel_queued() <= max(map(len, BIG)) + 4096
    async with client.get(f"{hub.url}/metrics") as response:
        text = await response.text()
    kernel = int(text.split('camhub_viewer_kernel_queued_bytes{device="cam1"} ')[1].split()[0])
    total = int(text.split('camhub_viewer_buffered_bytes{device="cam1"} ')[1].split()[0])
    assert 0 < kernel <= total
    assert slot.parts_sent < 10  # it was never sent the frames it could not take
    sock.close()


async def test_stream_of_an_offline_camera_is_refused_and_a_silent_one_ends(hub_factory, client):
    started = await hub_factory(stream_end_s=0.5, heartbeat_interval_s=0.3)
    await post_frame(client, started.url, HD, seq=0)
    async with client.get(f"{started.url}/devices/cam1/stream.mjpg") as response:
        opened = time.monotonic()
        body = await response.read()  # the camera sends nothing more: the stream ends by itself
    ended_after = time.monotonic() - opened
    assert ended_after < 3.0
    assert body.endswith(CLOSE) and body.count(HD) == 2
    assert b"X-End-Of-Stream: " in body
    await asyncio.sleep(1.0)  # 3 heartbeat intervals of silence: offline
    async with client.get(f"{started.url}/devices/cam1/stream.mjpg") as response:
        assert response.status == 503
        assert "offline" in (await response.json())["error"]
    assert started.app[FANOUT].peek("cam1").streams_ended == 1


@needs_ffmpeg
def test_ffmpeg_ends_cleanly_when_the_camera_stops(tmp_path):
    with ThreadedHub(hub_config(tmp_path / "end", stream_end_s=1.0)) as hub:
        camera = lag.Camera(hub.url, KEY, "cam1", [HD], fps=10).start()
        time.sleep(0.5)
        out = tmp_path / "out.mkv"
        argv = ["ffmpeg", "-nostdin", "-loglevel", "error", "-use_wallclock_as_timestamps", "1"]
        ffmpeg = subprocess.Popen(
            argv + ["-i", f"{hub.url}/devices/cam1/stream.mjpg", "-c:v", "copy", str(out)], stderr=subprocess.PIPE
        )
        time.sleep(3)
        camera.stop()
        stopped = time.monotonic()
        _, errors = ffmpeg.communicate(timeout=20)
        took = time.monotonic() - stopped
    # ffmpeg's mpjpeg demuxer reads the close delimiter as a part without Content-Type and says so once
    # (libavformat/mpjpegdec.c, parse_multipart_header): that line is its end of input, nothing else may appear.
    lines = [line for line in errors.decode().splitlines() if "Invalid data found when processing input" not in line]
    assert ffmpeg.returncode == 0 and not lines, errors.decode()
    # frame interval 0.1 s + 1 s configured, and ffmpeg's own exit
    assert took < 1.1 + 2.0, f"ffmpeg ran {took:.1f} s after the camera stopped"
    probe = ffprobe(out)
    assert probe["width"] == 1280 and 20 <= int(probe["nb_read_frames"]) <= 40


def ffprobe(path):
    done = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height,nb_read_frames:format=duration",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(done.stdout)
    return {**data["streams"][0], "duration": float(data["format"]["duration"])}


@needs_ffmpeg
def test_ffmpeg_decodes_the_reduced_stream_at_320_px_and_5_fps(tmp_path):
    with ThreadedHub(hub_config(tmp_path / "small")) as hub:
        camera = lag.Camera(hub.url, KEY, "cam1", [HD], fps=30).start()
        time.sleep(0.3)
        out = tmp_path / "small.mkv"
        done = subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-use_wallclock_as_timestamps",
                "1",
                "-i",
                f"{hub.url}/devices/cam1/stream.mjpg?fps=5&width=320",
                "-t",
                "6",
                "-c:v",
                "copy",
                str(out),
            ],
            capture_output=True,
            timeout=30,
        )
        camera.stop()
    assert done.returncode == 0, done.stderr.decode()
    probe = ffprobe(out)
    assert (probe["width"], probe["height"]) == (320, 180)
    fps = int(probe["nb_read_frames"]) / probe["duration"]
    assert 4.0 <= fps <= 5.5, probe


async def test_snapshot_and_stream_widths_are_made_once_per_frame_and_size(hub, client, monkeypatch):
    made = []
    real = fanout.shrink

    def counting(jpeg, width):
        made.append(width)
        return real(jpeg, width)

    monkeypatch.setattr(fanout, "shrink", counting)
    await post_frame(client, hub.url, HD, seq=0)
    streams = [await client.get(f"{hub.url}/devices/cam1/stream.mjpg?width=320") for _ in range(4)]
    snaps = await asyncio.gather(*(client.get(f"{hub.url}/devices/cam1/snapshot.jpg?width=320") for _ in range(4)))
    for snap in snaps:
        assert snap.status == 200 and snap.headers["ETag"] == '"1w320"'
        assert Image.open(io.BytesIO(await snap.read())).size == (320, 180)
    for response in streams:
        assert await response.content.readuntil(b"\xff\xd9")
        response.close()
    assert made == [320]
    async with client.get(f"{hub.url}/devices/cam1/snapshot.jpg?width=4000") as wide:
        assert await wide.read() == HD  # never enlarged
    async with client.get(f"{hub.url}/devices/cam1/snapshot.jpg", headers={"If-None-Match": '"1w320"'}) as full:
        assert full.status == 200 and await full.read() == HD


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("fps=0", "fps=0 must be above 0"),
        ("fps=fast", "'fast' is not a number"),
        ("fps=nan", "must be above 0"),
        ("width=8", "between 16 and 4096"),
        ("width=1e3", "not a whole number"),
    ],
)
async def test_bad_reduced_stream_parameters_are_refused(hub, client, query, message):
    await post_frame(client, hub.url, HD, seq=0)
    for path in ("stream.mjpg", "snapshot.jpg") if query.startswith("width") else ("stream.mjpg",):
        async with client.get(f"{hub.url}/devices/cam1/{path}?{query}") as response:
            assert response.status == 400
            assert message in (await response.json())["error"]
