"""End to end: the unmodified firmware on a virtual board that does what a real CircuitPython 10 board does
where CPython would be kinder (issue 7): failed camera inits keep their pins until a collection, a reset
connection times out instead of failing fast, TLS fails with bare mbedtls codes, 10.0/10.1's getenv raises,
wifi.radio.connect() rejects bad lengths with ValueError, the senseBox eye's old board id, the FireBeetle's
camera power chip, no espcamera without PSRAM, and a hub host that goes silent.

The runs go in parallel (module fixture), each on its own devserver, playing small JPEG files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme

from camstream.budget import watchdog_floor_s
from testkit.boards import Board, drive_copy, errors_counted, stats_blocks, summary
from testkit.devserver import DevServer
from testkit.jpegs import make_frames

WATCHDOG_S = watchdog_floor_s(host_is_name=False)
EYE_PINS = "data=11,9,8,10,12,18,17,16 xclk=15 pclk=13 vsync=6 href=7 sda=4 scl=5"  # not the MEMENTO's wiring


@dataclass
class Plan:
    seconds: float
    args: list[str] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)
    toml: str = ""  # appended to a copy of CIRCUITPY/settings.toml (values os.getenv must parse itself)
    tls: bool = False
    trust: bool = False  # put the hub's CA certificate on the drive and name it in CAMSTREAM_CA_FILE
    arm: Callable[[DevServer], object] | None = None


@dataclass
class Run:
    board: Board
    server: DevServer
    hung_at: float = 0.0

    @property
    def console(self) -> str:
        return self.board.text

    def errors(self) -> dict[str, int]:
        blocks = stats_blocks(self.console)
        return errors_counted(blocks[-1]) if blocks else {}


PLANS = {
    "sensebox_10_2_id": Plan(6, ["--board", "sensebox_eye_esp32s3"]),
    "firebeetle": Plan(6, ["--board", "firebeetle2_esp32s3"]),
    "camera_not_detected": Plan(9, settings=[f"CAMSTREAM_PINS={EYE_PINS}"]),
    "getenv_10_1": Plan(4, ["--circuitpython", "10.1"], toml="CAMSTREAM_FRAME_SIZE = HD\n"),
    "wifi_password": Plan(
        6, settings=["CAMSTREAM_STATS_S=1"], toml='CIRCUITPY_WIFI_SSID = "home"\nCIRCUITPY_WIFI_PASSWORD = "short"\n'
    ),
    "no_psram": Plan(4, ["--no-psram"]),
    "reset_while_waiting": Plan(14, arm=lambda server: server.script("frame", hangup="rst", times=1)),
    "tls_untrusted": Plan(6, tls=True),
    "tls_trusted": Plan(12, tls=True, trust=True, arm=lambda server: server.script("frame", hangup="fin", times=1)),
    "hub_goes_silent": Plan(
        34, ["--fault", "blackhole@5+20"], settings=[f"CAMSTREAM_WATCHDOG_S={WATCHDOG_S}", "CAMSTREAM_HEARTBEAT_S=2"]
    ),
    # At 1 fps the frame socket lies idle in the connection manager between frames; the hub then hangs: its
    # heartbeat answer never comes and new connects time out.
    "hub_hangs": Plan(
        30, settings=[f"CAMSTREAM_WATCHDOG_S={WATCHDOG_S}", "CAMSTREAM_HEARTBEAT_S=3", "CAMSTREAM_TARGET_FPS=1"]
    ),
}


def drive(tmp: Path, plan: Plan, ca_pem: bytes) -> Path:
    return drive_copy(tmp, plan.toml, {"hub-ca.pem": ca_pem} if plan.trust else None)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    frames = tmp_path_factory.mktemp("frames")
    make_frames(frames, 5)
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    certs = tmp_path_factory.mktemp("certs")
    cert, key = certs / "hub.pem", certs / "hub.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    started: dict[str, Run] = {}
    try:
        for name, plan in PLANS.items():
            server = DevServer(tls=(str(cert), str(key)) if plan.tls else None).__enter__()
            if plan.arm is not None:
                plan.arm(server)
            folder = drive(tmp_path_factory.mktemp(name), plan, ca.cert_pem.bytes())
            settings = [f"CAMSTREAM_SERVER_URL={server.url}", f"CAMSTREAM_API_KEY={server.api_key}", *plan.settings]
            if plan.trust:
                settings.append("CAMSTREAM_CA_FILE=hub-ca.pem")
            board = Board(
                "--seconds",
                str(plan.seconds),
                "--frames",
                str(frames),
                "--sensor-fps",
                "15",
                *plan.args,
                "--set",
                *settings,
                circuitpy=folder,
            )
            started[name] = Run(board, server)
        hang(started["hub_hangs"])
        for name, plan in PLANS.items():
            assert started[name].board.finish(plan.seconds + 30) == 0, started[name].console
        yield started
    finally:
        for run in started.values():
            run.board.stop()
            run.server.__exit__()


def hang(run: Run) -> None:
    """Once the camera streams, the hub stops answering heartbeats and accepting connections."""
    run.server.wait_for(lambda s: len(s.frames()) >= 3 and s.requests("heartbeat"), 20, "streaming")
    run.server.script("heartbeat", stall_s=60)
    run.server.stop_accepting()
    run.hung_at = time.monotonic()


def streamed(run: Run, frames: int = 10) -> None:
    assert len(run.server.frames()) >= frames, run.console
    assert "Traceback" not in run.console and "code.py=running" in summary(run.console), run.console


def test_sensebox_eye_streams_under_its_circuitpython_10_2_board_id(runs):
    streamed(runs["sensebox_10_2_id"])


def test_firebeetle_powers_its_camera_through_the_axp313a(runs):
    run = runs["firebeetle"]
    streamed(run)
    assert "Camera: OV5640 ready" in run.console and "init attempt" not in run.console


def test_camera_init_retries_collect_the_half_built_camera_and_report_the_real_cause(runs):
    """A failed espcamera.Camera() keeps its pins until collected: without a gc.collect() the retries said
    'pin conflict'. Every attempt must name the real cause, and so must the final line (no traceback)."""
    run = runs["camera_not_detected"]
    attempts = [line for line in run.console.splitlines() if line.startswith("Camera: init attempt")]
    assert len(attempts) >= 3, run.console
    assert all("camera sensor not detected" in line for line in attempts), attempts
    assert "pin conflict" not in run.console and "Traceback" not in run.console
    assert "CamStream: camera init failed: camera sensor not detected" in run.console
    assert "CamStream: restarting in 2 s" in run.console


def test_a_bare_value_that_circuitpython_10_1_cannot_parse_is_one_line_naming_the_key(runs):
    run = runs["getenv_10_1"]
    assert (
        "settings.toml: CAMSTREAM_FRAME_SIZE cannot be read (invalid syntax for integer with base 10: 'HD');"
        ' expected text in double quotes, e.g. CAMSTREAM_FRAME_SIZE = "..."'
    ) in run.console.splitlines()
    assert "Traceback" not in run.console and "code.py=done" in summary(run.console)


def test_a_wifi_password_the_radio_refuses_is_one_line_and_a_retry(runs):
    run = runs["wifi_password"]
    lines = [line for line in run.console.splitlines() if line.startswith("Error wifi #")]
    assert lines and lines[0].startswith(
        "Error wifi #1: WiFi down: cannot join 'home': CIRCUITPY_WIFI_PASSWORD must be empty, 8..63 characters"
        " or 64 hex digits (password length must be 8-64); retry in"
    ), run.console
    assert len(lines) >= 2 and run.errors().get("wifi", 0) >= 3
    assert "Traceback" not in run.console and "code.py=running" in summary(run.console)


def test_without_psram_there_is_no_espcamera_and_one_line_says_so(runs):
    run = runs["no_psram"]
    assert "CamStream: this CircuitPython has no espcamera module: it is built only for ESP32-S3 boards" in run.console
    assert "Traceback" not in run.console and "code.py=done" in summary(run.console)


def test_a_reset_while_waiting_for_an_answer_times_out_as_on_the_board(runs):
    """lwIP's recv on a reset connection polls until the socket timeout and raises ETIMEDOUT, never ECONNRESET."""
    run = runs["reset_while_waiting"]
    cut = run.server.requests("frame")[0]
    assert cut.outcome == "hung up"
    line = run.board.find("Error timeout #1")
    assert line is not None and "no complete response within 5.0 s" in line[1], run.console
    assert "Error reset" not in run.console
    assert 4.5 < line[0] - cut.at < 6.5, "the board notices a reset only when its 5 s timeout expires"
    after = [f for f in run.server.frames() if f.at > line[0]]
    assert after and after[0].at - line[0] < 3.0
    assert run.errors() == {"timeout": 1}


def test_an_untrusted_hub_certificate_is_a_tls_error_with_its_mbedtls_code(runs):
    run = runs["tls_untrusted"]
    line = run.board.find("Error tls #1")
    assert line is not None, run.console
    assert line[1].startswith(
        "Error tls #1: TLS failed: the hub's certificate is not trusted (self-signed? put its certificate in"
        " CAMSTREAM_CA_FILE) (mbedtls -0x2700)"
    ), line
    assert not run.server.frames() and "cannot resolve" not in run.console


def test_a_trusted_hub_streams_over_https_and_a_close_without_close_notify_is_named(runs):
    run = runs["tls_trusted"]
    streamed(run)
    line = run.board.find("Error tls #1")
    assert line is not None and "the hub closed the TLS connection (mbedtls -0x7280)" in line[1], run.console
    assert run.errors() == {"tls": 1}


def test_a_hub_that_goes_silent_never_trips_the_watchdog_at_its_minimum(runs):
    """With the old shared connection manager one heartbeat could block 15 s and reset a healthy board."""
    run = runs["hub_goes_silent"]
    assert "WATCHDOG RESET" not in run.console and "boots=1 " in summary(run.console), run.console
    assert run.errors().get("timeout", 0) >= 2, run.console
    began = run.board.find("fault blackhole@5+20 ends")
    assert began is not None
    after = [f for f in run.server.frames() if f.at > began[0]]
    assert after and after[0].at - began[0] < 8.0, run.console


def test_a_hub_that_hangs_never_trips_the_watchdog_at_its_minimum(runs):
    """The issue's case: one heartbeat waited 5 s for its answer, then 5 s for a connect, then the connection
    manager closed the idle frame socket and waited 5 s more; at CAMSTREAM_WATCHDOG_S = 15 that reset a healthy
    board. Now the frame socket has a manager of its own and the heartbeat gives up within budget.control_s."""
    run = runs["hub_hangs"]
    assert run.hung_at and "WATCHDOG RESET" not in run.console and "boots=1 " in summary(run.console), run.console
    assert [line for line in run.console.splitlines() if line.startswith("Error timeout #")], run.console
    frames_after = [f for f in run.server.frames() if f.at > run.hung_at + 1]
    assert len(frames_after) >= 5, "between failed heartbeats, frames go on over the connection open before the hang"
