"""camhub.integrations: every snippet the camera page shows, run as its client runs it. Real clients where they
install here (ffmpeg, VLC as the non-root user cvlc, GStreamer, OpenCV); for Home Assistant, go2rtc and Frigate,
what their own code does, read from their sources (cited in each test)."""

import base64
import io
import shlex
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml
from PIL import Image

from camhub.integrations import PASSWORD_PLACEHOLDER, VIEW_USER
from testkit import lag
from testkit.hubs import KEY, ThreadedHub, hub_config
from testkit.jpegs import make_jpeg

HD = make_jpeg("hd", size=(1280, 720), quality=60, noise=20)
PASSWORD = "s3cret-pw"


@pytest.fixture
def live(tmp_path):
    """A hub with a viewer password and a 30 fps camera; yields (hub, snippets by client, camera)."""
    with ThreadedHub(hub_config(tmp_path / "int", view_password=PASSWORD, stream_end_s=1.0)) as hub:
        camera = lag.Camera(hub.url, KEY, "cam1", [HD]).start()
        time.sleep(0.3)
        body = fetch(f"{hub.url}/api/v1/devices/cam1/integrations", (VIEW_USER, PASSWORD))
        snippets = {
            s["client"]: s["text"].replace(PASSWORD_PLACEHOLDER, PASSWORD) for s in yaml.safe_load(body)["snippets"]
        }
        try:
            yield hub, snippets, camera
        finally:
            camera.stop()


def fetch(url, auth=None, limit=None):
    request = urllib.request.Request(url)
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read(limit) if limit else response.read()


def split_userinfo(url):
    """What Go's net/http (go2rtc) and libav do with user:password@ in a URL: Basic auth, the URL without it."""
    parts = urlsplit(url)
    auth = (urllib.request.unquote(parts.username), urllib.request.unquote(parts.password)) if parts.username else None
    return urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))), auth


def test_home_assistant_mjpeg_camera_as_its_code_reads_it(live):
    """homeassistant/components/mjpeg/camera.py: auth only `if username and password` (BasicAuth), the still image
    from still_image_url with response.read(), else extract_image_from_mjpeg over iter_content(102400): the bytes
    from the first FFD8 to the first FFD9."""
    hub, snippets, _ = live
    config = yaml.safe_load(snippets["home-assistant"])["camera"][0]
    assert config["platform"] == "mjpeg" and config["name"] == "cam1"
    auth = (config["username"], config["password"]) if config.get("username") and config.get("password") else None
    assert auth == (VIEW_USER, PASSWORD)
    still = fetch(config["still_image_url"], auth)
    assert Image.open(io.BytesIO(still)).size == (1280, 720)
    data = fetch(config["mjpeg_url"], auth, limit=len(HD) + 102400)
    end = data.find(b"\xff\xd9")
    assert data[data.find(b"\xff\xd8") : end + 2] == HD
    with pytest.raises(urllib.error.HTTPError) as refused:  # an empty user name: HA sends no credentials at all
        fetch(config["mjpeg_url"], None)
    assert refused.value.code == 401


def go2rtc_next(stream):
    """pkg/mpjpeg/multipart.go Next(): skip CRLF lines, a line starting with "--" is the boundary (a second one
    right after is skipped), MIME headers, Content-Length required, exactly that many bytes."""
    while True:
        line = stream.readline()
        if not line:
            raise EOFError
        if line == b"\r\n":
            continue
        assert line.startswith(b"--"), f"multipart: wrong boundary: {line!r}"
        if stream.peek(2)[:2] == b"--":
            continue
        break
    headers = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    if not headers:
        raise EOFError  # textproto.ReadMIMEHeader at the end of the body
    return headers, stream.read(int(headers["content-length"]))


def test_go2rtc_source_line_as_its_mjpeg_client_reads_it(live):
    """internal/http/http.go do(): status 200, Content-Type before ';' == multipart/x-mixed-replace -> mpjpeg."""
    _, snippets, camera = live
    url = next(iter(yaml.safe_load(snippets["go2rtc"])["streams"].values()))
    plain, auth = split_userinfo(url)
    request = urllib.request.Request(plain)
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].split(";")[0] == "multipart/x-mixed-replace"
        frames = [go2rtc_next(response)[1] for _ in range(5)]
        assert frames == [HD] * 5
        camera.stop()  # the camera goes away: the stream ends with a last frame, then the reader's EOF
        with pytest.raises(EOFError):
            for _ in range(200):
                headers, body = go2rtc_next(response)
                assert body == HD


needs = {
    tool: pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} is installed by make test")
    for tool in ("ffmpeg", "cvlc", "gst-launch-1.0")
}

# frigate/ffmpeg_presets.py, PRESETS_INPUT["preset-http-mjpeg-generic"] (after its -user_agent pair)
FRIGATE_HTTP_MJPEG = (
    "-avoid_negative_ts make_zero -fflags nobuffer -flags low_delay -strict experimental "
    "-fflags +genpts+discardcorrupt -use_wallclock_as_timestamps 1"
).split()


# frigate/config/camera/ffmpeg.py DETECT_FFMPEG_OUTPUT_ARGS_DEFAULT; frigate/ffmpeg_presets.py scale "default"
FRIGATE_DETECT_OUTPUT = ["-threads", "2", "-f", "rawvideo", "-pix_fmt", "yuv420p"]


def frigate_scale(detect):
    return f"-r {detect['fps']} -vf fps={detect['fps']},scale={detect['width']}:{detect['height']}".split()


@needs["ffmpeg"]
def test_frigate_camera_block_with_its_preset_feeds_the_detector(live):
    """Frigate runs ffmpeg with the preset's input args and reads raw yuv420p frames at detect width x height."""
    _, snippets, _ = live
    camera = next(iter(yaml.safe_load(snippets["frigate"])["cameras"].values()))
    source = camera["ffmpeg"]["inputs"][0]
    assert source["input_args"] == "preset-http-mjpeg-generic" and source["roles"] == ["detect"]
    detect = camera["detect"]
    argv = [
        "ffmpeg",
        "-nostdin",
        "-loglevel",
        "error",
        "-user_agent",
        "FFmpeg Frigate/test",
        *FRIGATE_HTTP_MJPEG,
        "-i",
        source["path"],
        "-t",
        "3",
        *frigate_scale(detect),
        *FRIGATE_DETECT_OUTPUT,
        "pipe:",
    ]
    done = subprocess.run(argv, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    frame = detect["width"] * detect["height"] * 3 // 2
    assert (detect["width"], detect["height"], detect["fps"]) == (640, 360, 5)
    assert len(done.stdout) % frame == 0 and 12 <= len(done.stdout) // frame <= 17  # ~5 fps for 3 s


@needs["ffmpeg"]
def test_ffmpeg_command_records_at_the_camera_s_real_rate(live, tmp_path):
    _, snippets, _ = live
    argv = shlex.split(snippets["ffmpeg"])
    argv[argv.index("-t") + 1] = "4"
    argv[-1] = str(tmp_path / "rec.mkv")
    done = subprocess.run(argv[:1] + ["-nostdin", "-loglevel", "error"] + argv[1:], capture_output=True, timeout=40)
    assert done.returncode == 0, done.stderr.decode()
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames:format=duration",
            "-of",
            "default=nw=1:nk=1",
            str(tmp_path / "rec.mkv"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.split()
    frames, duration = int(probe[0]), float(probe[1])
    assert 3.5 <= duration <= 4.5, probe  # 25 fps assumed would make 4 s of 30 fps video last 4.8 s
    assert 25 <= frames / duration <= 33, probe


@needs["cvlc"]
def test_vlc_plays_the_stream_and_stops_when_the_camera_does(live):
    _, snippets, camera = live
    argv = shlex.split(snippets["vlc"])
    shared = Path(tempfile.mkdtemp(prefix="camstream-vlc-"))  # pytest's tmp_path is closed to other users
    shared.chmod(0o777)
    out = shared / "vlc.mjpg"
    vlc = subprocess.Popen(
        [
            "runuser",
            "-u",
            "cvlc",
            "--",
            "cvlc",
            "--intf",
            "dummy",
            "--play-and-exit",
            *argv[1:-1],
            f"--sout=#std{{access=file,mux=mpjpeg,dst={out}}}",
            argv[-1],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    time.sleep(4)
    camera.stop()
    stopped = time.monotonic()
    log, _ = vlc.communicate(timeout=30)
    assert vlc.returncode == 0, log.decode()[-2000:]
    assert time.monotonic() - stopped < 10, "VLC did not see the end of the stream"
    recorded = out.read_bytes()
    shutil.rmtree(shared)
    assert recorded.count(b"\xff\xd8\xff") >= 30


@needs["gst-launch-1.0"]
def test_gstreamer_pipeline_decodes_and_reaches_end_of_stream(live):
    _, snippets, camera = live
    pipeline = snippets["gstreamer"].replace("autovideosink", "fakesink silent=false")
    gst = subprocess.Popen(
        shlex.split(pipeline.replace("gst-launch-1.0", "gst-launch-1.0 -v", 1)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    time.sleep(3)
    camera.stop()
    log, _ = gst.communicate(timeout=30)
    text = log.decode(errors="replace")
    assert gst.returncode == 0 and "Got EOS from element" in text, text[-2000:]
    assert text.count("chain   ******* (fakesink0:sink)") + text.count("last-message = chain") >= 30, text[-1500:]


def test_opencv_snippet_reads_a_frame(live):
    _, snippets, _ = live
    namespace = {}
    exec(snippets["opencv"], namespace)  # what the page tells the user to run
    assert namespace["ok"] and namespace["frame"].shape == (720, 1280, 3)
    namespace["capture"].release()
