"""`python -m hostsim` runs an arbitrary code.py: streaming over real sockets, reloads, watchdog resets."""

import http.server
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

STREAMER = """
import os, time, wifi, board, espcamera, socketpool, microcontroller, adafruit_connection_manager, adafruit_requests
from micropython import const

PORT = int(os.getenv("PORT"))
pool = socketpool.SocketPool(wifi.radio)
print("wifi", wifi.radio.connected, "name", os.getenv("NAME"), "port", PORT)
print("uptime below 5 s:", time.monotonic() < 5, time.monotonic_ns() < 5_000_000_000)
session = adafruit_requests.Session(adafruit_connection_manager.get_radio_socketpool(wifi.radio))
reply = session.post("http://127.0.0.1:%d/register" % PORT, json={"id": wifi.radio.mac_address.hex()})
print("register", reply.status_code, reply.json())
reply.close()
cam = espcamera.Camera(data_pins=board.CAMERA_DATA, external_clock_pin=board.CAMERA_XCLK,
    pixel_clock_pin=board.CAMERA_PCLK, vsync_pin=board.CAMERA_VSYNC, href_pin=board.CAMERA_HREF,
    i2c=board.I2C(), pixel_format=espcamera.PixelFormat.JPEG, frame_size=espcamera.FrameSize.VGA,
    jpeg_quality=12, framebuffer_count=2, grab_mode=espcamera.GrabMode.LATEST)
sock = pool.socket(pool.AF_INET, pool.SOCK_STREAM)
sock.settimeout(2)
sock.connect(("127.0.0.1", PORT))
status = bytearray(64)

def send(data):
    view = memoryview(data)
    while len(view):
        try:
            view = view[sock.send(view):]
        except OSError as exc:
            if exc.errno != 11:
                raise
            time.sleep(0.001)

sent = 0
while True:
    frame = cam.take(1)
    if frame is None:
        continue
    send(b"POST /frame HTTP/1.1\\r\\nContent-Type: image/jpeg\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(frame))
    send(frame)
    response = b""
    while not response.endswith(b"}"):
        response += bytes(status[: sock.recv_into(status, 64)])
    sent += 1
    if sent == 3:
        print("sent", sent, response[:12])
"""

RESTARTER = """
import time, board, espcamera, microcontroller, supervisor, watchdog
print("boot", microcontroller.cpu.reset_reason, supervisor.runtime.run_reason, microcontroller.nvm[0])
microcontroller.nvm[0] += 1
if microcontroller.nvm[0] == 1:
    supervisor.reload()
cam = espcamera.Camera(data_pins=board.CAMERA_DATA, external_clock_pin=board.CAMERA_XCLK,
    pixel_clock_pin=board.CAMERA_PCLK, vsync_pin=board.CAMERA_VSYNC, href_pin=board.CAMERA_HREF,
    i2c=board.I2C(), pixel_format=espcamera.PixelFormat.JPEG, frame_size=espcamera.FrameSize.QVGA)
microcontroller.watchdog.timeout = 0.5
microcontroller.watchdog.mode = watchdog.WatchDogMode.RESET
while True:
    try:
        cam.take()
        microcontroller.watchdog.feed()
    except Exception as exc:
        print("caught", exc)
"""


class FrameHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    frames: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        if len(body) < length:
            return  # the board stopped mid-upload at the end of the run
        if self.path == "/frame":
            FrameHandler.frames.append(body)
        reply = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


class FrameServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the board stopped mid-request at the end of a run
            super().handle_error(request, client_address)


@pytest.fixture
def server():
    FrameHandler.frames = []
    httpd = FrameServer(("127.0.0.1", 0), FrameHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def drive(tmp_path: Path, code: str, settings: str = "", name: str = "CIRCUITPY") -> Path:
    drive = tmp_path / name
    (drive / "lib").mkdir(parents=True)
    (drive / "code.py").write_text(textwrap.dedent(code))
    (drive / "settings.toml").write_text(settings)
    return drive


def hostsim(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hostsim", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_streams_frames_over_real_sockets_and_ends_on_time(tmp_path, server):
    folder = drive(
        tmp_path,
        STREAMER,
        'CIRCUITPY_WIFI_SSID = "net"\nCIRCUITPY_WIFI_PASSWORD = "password"\nNAME = "cam one"\nPORT = 1\n',
    )
    result = hostsim(str(folder), "--seconds", "2", "--set", f"PORT={server.server_port}", "--link-kbps", "2000")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert out.splitlines()[0].startswith("[hostsim] start board=adafruit_esp32s3_camera")
    assert "[hostsim] boot 1 reset_reason=POWER_ON" in out
    assert "code.py output:" in out
    assert f"wifi True name cam one port {server.server_port}" in out
    assert "uptime below 5 s: True True" in out
    assert "register 200 {'ok': True}" in out
    assert "sent 3 b'HTTP/1.1 200'" in out
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("[hostsim] end after 2.") and "code.py=running" in summary
    frames = FrameHandler.frames
    assert len(frames) >= 10
    assert all(f[:2] == b"\xff\xd8" and f[-2:] == b"\xff\xd9" for f in frames)
    sent_mb = float(summary.split("sent=")[1].split("MB")[0])
    assert (sent_mb + 0.005) * 1e6 >= sum(len(f) for f in frames)  # the summary rounds to 0.01 MB


def test_reload_and_watchdog_reset_restart_code_py(tmp_path):
    folder = drive(tmp_path, RESTARTER)
    result = hostsim(str(folder), "--seconds", "3", "--fault", "hang@1")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    lines = out.splitlines()
    assert "boot ResetReason.POWER_ON RunReason.STARTUP 0" in lines
    assert "[hostsim] soft reboot (supervisor.reload())" in lines
    assert "boot ResetReason.POWER_ON RunReason.SUPERVISOR_RELOAD 1" in lines
    assert "[hostsim] fault hang@1: camera.take() frozen; only the watchdog can recover" in lines
    assert any(line.startswith("[hostsim] WATCHDOG RESET: not fed for 0.5 s (timeout 0.5 s)") for line in lines)
    assert "[hostsim] boot 2 reset_reason=WATCHDOG" in lines
    assert "boot ResetReason.WATCHDOG RunReason.STARTUP 2" in lines
    assert "caught" not in out  # resets are not Exceptions code.py could swallow
    assert "boots=2 (resets: WATCHDOG) reloads=1" in lines[-1]


def test_crash_prints_the_traceback_and_exits_1(tmp_path):
    folder = drive(tmp_path, "import wifi\nprint('up')\nraise ValueError('bad setting PORT')\n")
    result = hostsim(str(folder), "--seconds", "1")
    assert result.returncode == 1
    assert "ValueError: bad setting PORT" in result.stdout
    assert "Code done running." in result.stdout
    assert "code.py=crashed" in result.stdout.splitlines()[-1]


def test_wifi_fault_is_logged_and_seen_by_code(tmp_path):
    code = """
    import time, wifi
    seen = set()
    while True:
        state = wifi.radio.connected
        if state not in seen:
            seen.add(state)
            print("connected", state)
        time.sleep(0.02)
    """
    folder = drive(tmp_path, code, 'CIRCUITPY_WIFI_SSID = "net"\n')
    result = hostsim(str(folder), "--seconds", "1.5", "--fault", "wifi@0.5+0.5")
    lines = result.stdout.splitlines()
    assert result.returncode == 0
    assert "connected True" in lines and "connected False" in lines
    assert any(line.startswith("[hostsim] fault wifi@0.5+0.5 begins") for line in lines)
    assert any(line.startswith("[hostsim] fault wifi@0.5+0.5 ends") for line in lines)


def test_link_schedule_steps_are_logged(tmp_path):
    folder = drive(tmp_path, "import time\nwhile True:\n    time.sleep(0.05)\n")
    result = hostsim(str(folder), "--seconds", "1", "--link-kbps", "1000@0,250@0.4", "--rtt-ms", "20")
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "link=1000 KB/s from 0 s, 250 KB/s from 0.4 s, rtt 20 ms" in lines[0]
    assert "[hostsim] link 250 KB/s from t=0.4 s" in lines


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "wifi@5"], None),
        (["--fault", "wlan@5+3"], "unknown kind 'wlan'"),
        (["--fault", "hang@2+1"], "hang is an event"),
        (["--set", "NOEQUALS"], "expected KEY=VALUE"),
        (["--seconds", "0"], "must be > 0"),
        (["--board", "nope"], "invalid choice"),
        (["--frames", "/nonexistent"], "is not a folder"),
        (["--link-kbps", "1000@0,250@x"], "is not KBPS or KBPS@SECONDS"),
        (["--link-kbps", "1000@5,250@5"], "the times must increase"),
        (["--link-kbps", "0"], "rates must be > 0"),
    ],
)
def test_bad_options_exit_2_with_a_clear_message(tmp_path, args, message):
    folder = drive(tmp_path, "print('hi')\n")
    if message is None:
        assert hostsim(str(folder), "--seconds", "0.3", *args).returncode == 0
        return
    result = hostsim(str(folder), *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_missing_code_py_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = hostsim(str(tmp_path / "empty"))
    assert result.returncode == 2
    assert "no code.py" in result.stderr
