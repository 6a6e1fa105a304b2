"""End to end: the unmodified firmware on the virtual board against a real HTTP server on 127.0.0.1.

Two runs go in parallel: the acceptance run (`python -m hostsim CIRCUITPY --seconds 20`, default settings
apart from the server URL and key, multipart uploads) and a shorter raw-upload run.
"""

from dataclasses import dataclass
from itertools import pairwise

import pytest

from camstream.stats import rating
from testkit.boards import Board, errors_counted, stats_blocks, summary
from testkit.devserver import DevServer, parse_multipart
from testkit.jpegs import make_frames

FILES = 7  # distinct JPEGs; prime, so a skipped frame never looks like the right order


@dataclass
class Run:
    board: Board
    server: DevServer
    files: list[bytes]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames")
    files = make_frames(folder, FILES)
    plans = {"acceptance": (20, []), "raw": (7.5, ["CAMSTREAM_UPLOAD=raw", "CAMSTREAM_HEARTBEAT_S=2"])}
    started = {}
    try:
        for name, (seconds, extra) in plans.items():
            server = DevServer().__enter__()
            settings = [f"CAMSTREAM_SERVER_URL={server.url}", f"CAMSTREAM_API_KEY={server.api_key}", *extra]
            board = Board("--seconds", str(seconds), "--frames", str(folder), "--set", *settings)
            started[name] = Run(board, server, files)
        for name, (seconds, _) in plans.items():
            assert started[name].board.finish(seconds + 20) == 0, started[name].board.text
        yield started
    finally:
        for run in started.values():
            run.board.stop()
            run.server.__exit__()


def file_index(run: Run, jpeg: bytes) -> int:
    assert jpeg in run.files, f"received a {len(jpeg)}-byte frame that is none of the source files"
    return run.files.index(jpeg)


def check_frames(run: Run) -> list:
    frames = run.server.frames()
    assert frames, run.board.text
    indexes = [file_index(run, f.jpeg) for f in frames]
    steps = [(b - a) % FILES for a, b in pairwise(indexes)]
    assert all(1 <= step <= 2 for step in steps), f"frames out of the files' cyclic order: {indexes}"
    assert steps.count(1) >= 0.9 * len(steps)
    seqs = [int(f.headers["x-frame-seq"]) for f in frames]
    assert seqs == list(range(1, len(frames) + 1)), "X-Frame-Seq must count every frame, from 1, in order"
    captures = [int(f.headers["x-capture-ms"]) for f in frames]
    assert captures == sorted(captures)
    assert captures[-1] - captures[0] > 0
    device_ids = {f.headers["x-device-id"] for f in frames}
    assert len(device_ids) == 1
    connections = {f.conn for f in frames}
    assert len(frames) / len(connections) >= 50, f"{len(frames)} frames on {len(connections)} connections"
    return frames


def test_registration_carries_the_device_and_its_capabilities(runs):
    run = runs["acceptance"]
    registers = run.server.requests("register")
    assert len(registers) == 1 and registers[0].accepted
    doc = registers[0].json()
    device_id = run.server.frames()[0].headers["x-device-id"]
    assert doc["deviceId"] == device_id and device_id.startswith("ESP32-CAM-") and len(device_id) == 16
    assert doc["deviceName"] == device_id  # the default name
    assert doc["deviceType"] == "camera"
    assert doc["ipAddress"] == "127.0.0.1"
    assert isinstance(doc["capabilities"], list) and {"jpeg", "multipart", "raw"} <= set(doc["capabilities"])
    assert registers[0].headers["x-api-key"] == run.server.api_key
    assert registers[0].at < run.server.frames()[0].at, "registers before the first frame"
    assert f"Hub: registered {device_id}" in run.board.text


def check_heartbeats(run: Run, period_s: float) -> list[dict]:
    beats = run.server.requests("heartbeat")
    assert beats and all(b.accepted for b in beats)
    device_id = run.server.frames()[0].headers["x-device-id"]
    docs = [b.json() for b in beats]
    for doc in docs:
        assert doc["deviceId"] == device_id and doc["status"] == "online"
        assert isinstance(doc["uptime"], int) and isinstance(doc["freeHeap"], int) and doc["freeHeap"] > 0
        assert isinstance(doc["wifiRssi"], int) and -90 < doc["wifiRssi"] < -30
        assert {"fps", "framesSent", "framesDropped", "frameSize", "quality", "resetReason"} <= set(doc)
        assert doc["resetReason"] == "POWER_ON" and doc["frameSize"] == "HD"
    times = [run.server.requests("register")[0].at] + [b.at for b in beats]
    assert all(period_s - 0.5 <= b - a <= period_s + 0.5 for a, b in pairwise(times)), times
    for (a, doc_a), (b, doc_b) in pairwise(zip(times[1:], docs, strict=False)):
        assert abs((doc_b["uptime"] - doc_a["uptime"]) / 1000 - (b - a)) < 0.3, "uptime is in milliseconds"
        assert doc_b["framesSent"] > doc_a["framesSent"]
    return docs


def test_heartbeat_every_10_s_by_default_reports_liveness(runs):
    docs = check_heartbeats(runs["acceptance"], 10.0)
    assert len(docs) == 1  # 10 s after registering; the next would be due at 20 s
    assert docs[0]["fps"] > 20 and docs[0]["framesSent"] > 200 and docs[0]["framesDropped"] == 0


def test_heartbeat_period_follows_the_setting(runs):
    assert len(check_heartbeats(runs["raw"], 2.0)) == 3


def test_acceptance_20_s_run_delivers_bit_exact_frames_in_order_over_keep_alive(runs):
    run = runs["acceptance"]
    console = run.board.text
    assert "code.py=running" in summary(console) and "boots=1 " in summary(console)
    assert "Traceback" not in console and "Error " not in console, console
    frames = check_frames(run)
    assert len(frames) >= 20 * 30 * 0.8, f"only {len(frames)} frames in 20 s at a 30 fps target"
    for frame in frames[:5]:
        parts = parse_multipart(frame.body, frame.headers["content-type"])
        assert parts["deviceId"][1].decode() == frame.headers["x-device-id"]
        assert 'filename="' in parts["image"][0]["content-disposition"]


def test_acceptance_run_prints_the_stats_block_every_5_s(runs):
    run = runs["acceptance"]
    blocks = stats_blocks(run.board.text)
    assert len(blocks) in (3, 4), f"{len(blocks)} stats blocks in 20 s"
    times = [t for t, line in run.board.lines if line == "=== CamStream stats ==="]
    assert all(4.5 <= b - a <= 5.5 for a, b in pairwise(times)), times
    sizes = [len(f) / 1024 for f in run.files]
    for n, block in enumerate(blocks, start=1):
        assert block["Runtime"] == f"0h 00m {5 * n:02d}s"
        fps = float(block["FPS"].split()[0])
        assert 0 < fps <= 31 and block["FPS"].endswith("(target 30)")
        assert block["Rating"] == rating(fps)
        assert block["Success rate"] == "100.0%" and block["Frames dropped"] == "0"
        assert int(block["Frames total"]) == int(block["Frames sent"])
        average = float(block["Average frame"].removesuffix(" KB"))
        assert min(sizes) - 0.1 <= average <= max(sizes) + 0.1
        throughput = float(block["Throughput"].removesuffix(" KB/s"))
        assert throughput == pytest.approx(fps * average, rel=0.05)
        assert block["WiFi RSSI"].endswith(" dBm") and block["CPU"].startswith("240 MHz")
        assert block["Free PSRAM"].endswith(" KB") and errors_counted(block) == {}
    sent_then = len([f for f in run.server.frames() if f.at <= times[0]])
    assert sent_then >= int(blocks[0]["Frames sent"]) >= sent_then - 10


def test_raw_uploads_carry_the_bare_jpeg(runs):
    run = runs["raw"]
    assert "Error " not in run.board.text and "code.py=running" in summary(run.board.text)
    frames = check_frames(run)
    assert all(f.headers["content-type"] == "image/jpeg" and f.body == f.jpeg for f in frames)
    assert all(int(f.headers["content-length"]) == len(f.body) for f in frames)
    assert "raw upload" in run.board.text


def test_multipart_is_the_default_upload(runs):
    frames = runs["acceptance"].server.frames()
    assert all(f.headers["content-type"].startswith("multipart/form-data; boundary=") for f in frames)
