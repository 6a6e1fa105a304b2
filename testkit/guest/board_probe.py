"""Guest side of the failure tests: the firmware's own Streamer, Control (real adafruit_requests), FrameUplink,
Camera and WifiLink over fakes, fed the failures a board meets, exactly as CircuitPython raises them.

Runs under MicroPython (node) and CircuitPython's core. Each scenario prints a `SCENARIO <name>` line, then
whatever the firmware prints; an exception escaping the firmware ends the run (the host test sees it).
"""

import json

import adafruit_connection_manager
import adafruit_requests
from fakes import (
    FakeCamera,
    FakeClock,
    FakeConnectionManager,
    FakeRadio,
    FakeSocket,
    FakeSocketPool,
    FakeSystem,
    http_response,
)

from camstream.camera import Camera
from camstream.control import Control
from camstream.settings import load
from camstream.streamer import Streamer
from camstream.uplink import FrameUplink
from camstream.wifilink import WifiLink

JPEG = b"\xff\xd8" + bytes(3000) + b"\xff\xd9"
OK = http_response(200, b'{"ok":true}')
LATIN1_PAGE = b"\xe9t\xe9 indisponible \xab proxy \xbb \xff\xfe"  # a Latin-1 proxy page: not UTF-8
SETTINGS = {
    "CAMSTREAM_SERVER_URL": "http://192.168.1.50:9005",
    "CAMSTREAM_API_KEY": "k3y",
    "CIRCUITPY_WIFI_SSID": "home",
    "CIRCUITPY_WIFI_PASSWORD": "secret-pw",
    "CAMSTREAM_HEARTBEAT_S": "1",
    "CAMSTREAM_TARGET_FPS": "10",
}


class Board:
    """One firmware stack. `frame_socket()`/`control_socket()` make the sockets the hub's answers come from."""

    def __init__(self, settings=None, radio=None, frame_socket=None, control_answers=None, frames=None):
        values = dict(SETTINGS)
        values.update(settings or {})
        self.cfg = load(lambda key, default=None: values.get(key, default), b"\x00\x00\x00\xab\xcd\xef")
        self.clock = FakeClock(1000)
        answers = control_answers or [OK]
        self.pool = FakeSocketPool(lambda: FakeSocket(answers, eagain_every=0))
        manager = self.manager = FakeConnectionManager(frame_socket or (lambda: FakeSocket(OK, eagain_every=0)))
        uplink = FrameUplink(manager, self.cfg.server, self.cfg.api_key, self.cfg.device_id, clock=self.clock)
        fake = self.fake_camera = FakeCamera(frames or [JPEG])
        camera = Camera(lambda **kw: fake, "HD", 6, 2, True, self.clock.sleep, lambda: None)
        camera.open()

        def close_control():
            adafruit_connection_manager.connection_manager_close_all(self.pool)

        link = WifiLink(radio or FakeRadio(), self.cfg.wifi_ssid, self.cfg.wifi_password, close_control)
        session = adafruit_requests.Session(self.pool, None)
        control = Control(session, self.cfg.server, self.cfg.api_key, self.cfg.device_id, close_control, 3.0)
        self.streamer = Streamer(self.cfg, camera, uplink, control, link, FakeSystem(), self.clock, self.clock.sleep)

    def steps(self, n):
        for _ in range(n):
            self.streamer.step()

    def close(self):
        self.streamer.close()
        adafruit_connection_manager.connection_manager_close_all(self.pool)


def raising(code):
    """A socket factory whose connect fails with OSError(code), as lwIP or mbedtls report it."""

    def connect():
        raise OSError(code)

    return connect


SCENARIOS = {
    "frame_500_latin1": lambda: Board(
        frame_socket=lambda: FakeSocket(http_response(500, LATIN1_PAGE, b"text/html"), eagain_every=0)
    ),
    "heartbeat_500_latin1": lambda: Board(control_answers=[OK, http_response(500, LATIN1_PAGE, b"text/html")]),
    "heartbeat_500_cut_utf8": lambda: Board(
        control_answers=[OK, http_response(500, b"x" * 79 + "\u00e9".encode(), b"text/html")]
    ),
    "heartbeat_bad_header": lambda: Board(
        control_answers=[OK, http_response(200, b"{}", headers=b"X-Caf\xe9: \xff\r\n")]
    ),
    "timeout": lambda: Board(frame_socket=raising(116)),
    "reset": lambda: Board(frame_socket=lambda: FakeSocket(OK, eagain_every=0, reset_after=2000)),
    "refused": lambda: Board(frame_socket=raising(111)),
    "aborted": lambda: Board(frame_socket=raising(113)),
    "unreachable": lambda: Board(frame_socket=raising(118)),
    "tls_untrusted": lambda: Board(frame_socket=raising(-0x2700)),
    "tls_closed": lambda: Board(frame_socket=raising(-0x7280)),
    "tls_other": lambda: Board(frame_socket=raising(-0x4290)),
    "wifi_password": lambda: Board(settings={"CIRCUITPY_WIFI_PASSWORD": "short"}, radio=FakeRadio(connected=False)),
}


def run(names, steps=15):
    """Run each scenario for `steps` steps; prints what the firmware printed, then RESULT with each stats."""
    stats = {}
    for name in names:
        print("SCENARIO " + name)
        board = SCENARIOS[name]()
        board.steps(steps)
        stats[name] = board.streamer.stats.errors
        board.close()
    print("RESULT " + json.dumps(stats))
