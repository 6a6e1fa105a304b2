"""camstream.streamer: pacing, registration, heartbeats, stats, failure handling and recovery."""

from itertools import pairwise

import pytest

from camstream import framesize
from camstream.camera import Camera
from camstream.errors import HTTPStatusError, LinkDown
from camstream.settings import load
from camstream.stats import HEADER
from camstream.streamer import AUTH_RETRY_S, Streamer
from camstream.uplink import FrameUplink
from hostsim.frames import ov5640_jpeg_bytes
from testkit.fakes import (
    OK_RESPONSE,
    FakeCamera,
    FakeClock,
    FakeConnectionManager,
    FakeControl,
    FakeLink,
    FakeSocket,
    FakeSystem,
    FakeWatchdog,
    synthetic_jpeg,
)

JPEG = b"\xff\xd8" + bytes(4000) + b"\xff\xd9"
UNAUTHORIZED = b'HTTP/1.1 401 Unauthorized\r\nContent-Length: 28\r\n\r\n{"error": "invalid API key"}'


class Link:
    def __init__(self):
        self.up = True
        self.rejoin = False
        self.lost_calls = 0

    def ensure(self):
        if not self.up:
            raise LinkDown("cannot join 'home': No network with that ssid")
        rejoined, self.rejoin = self.rejoin, False
        return rejoined

    def rssi(self):
        return -55

    def ip(self):
        return "192.168.1.77"


class TimedWatchdog(FakeWatchdog):
    """Also records the clock at every feed."""

    def __init__(self, clock):
        super().__init__()
        self.fed_at = []
        self._clock = clock

    def feed(self):
        super().feed()
        self.fed_at.append(self._clock.ms)


class Rig:
    def __init__(self, frames=(JPEG,), **settings):
        values = {"CAMSTREAM_SERVER_URL": "http://127.0.0.1:9005", "CAMSTREAM_API_KEY": "secret"}
        values.update(settings)
        self.cfg = load(lambda key, default=None: values.get(key, default), b"\x00\x00\x00\xab\xcd\xef")
        self.clock = FakeClock(start_ms=1000)
        self.server = {"up": True, "response": None, "link": None}
        self.sockets = []
        self.cm = FakeConnectionManager(self._socket)
        self.uplink = FrameUplink(self.cm, self.cfg.server, "secret", self.cfg.device_id, clock=self.clock)
        self.fake_camera = FakeCamera(list(frames))
        self.camera = Camera(lambda **kw: self.fake_camera, "HD", 6, 2, True, self.clock.sleep, lambda: None)
        self.camera.open()
        self.link = Link()
        self.control = FakeControl()
        self.system = FakeSystem(free_heap=120_000, free_psram=4_000_000)
        self.watchdog = TimedWatchdog(self.clock)
        self.streamer = Streamer(
            self.cfg,
            self.camera,
            self.uplink,
            self.control,
            self.link,
            self.system,
            self.clock,
            self.clock.sleep,
            self.watchdog,
        )

    def _socket(self):
        if not self.server["up"]:
            raise OSError(111)
        kwargs = {"eagain_every": 0, "link": self.server["link"]}
        if self.server["response"]:
            kwargs["response"] = self.server["response"]
        sock = FakeSocket(**kwargs)
        self.sockets.append(sock)
        return sock

    def steps(self, n):
        for _ in range(n):
            self.streamer.step()


def test_streams_paced_to_target_fps_without_busy_waiting():
    rig = Rig(CAMSTREAM_TARGET_FPS="10")
    rig.steps(20)
    stats = rig.streamer.stats
    assert stats.frames_sent == 20 and rig.streamer.seq == 20
    assert rig.cm.connects == 1
    assert len(rig.clock.sleeps) == 20 and all(abs(s - 0.1) < 1e-9 for s in rig.clock.sleeps)
    assert rig.watchdog.feeds >= 20


def test_watchdog_is_fed_between_phases_so_it_must_outlast_only_the_slowest():
    """budget.py bounds each phase; a step made of several slow phases must not trip the watchdog."""
    rig = Rig(CAMSTREAM_TARGET_FPS="10", CAMSTREAM_HEARTBEAT_S="1")
    slow = {"ensure": 10_000, "register": 15_000, "heartbeat": 15_000, "take": 9_000}

    def slowly(name, call):
        def run(*args):
            rig.clock.advance(slow[name])
            return call(*args)

        return run

    rig.link.ensure = slowly("ensure", rig.link.ensure)
    rig.control.register = slowly("register", rig.control.register)
    rig.control.heartbeat = slowly("heartbeat", rig.control.heartbeat)
    rig.camera.take = slowly("take", rig.camera.take)
    start = rig.clock.ms
    rig.steps(3)
    assert rig.control.registrations and rig.control.heartbeats and rig.streamer.stats.frames_sent == 3
    feeds = rig.watchdog.fed_at
    gaps = [b - a for a, b in pairwise([start, *feeds])]
    assert max(gaps) <= 15_000, gaps


def test_behind_schedule_does_not_burst_to_catch_up():
    rig = Rig(CAMSTREAM_TARGET_FPS="10")
    rig.steps(1)
    rig.clock.advance(1000)  # a slow upload: ten slots missed
    rig.steps(1)
    rig.clock.sleeps.clear()
    rig.steps(3)
    assert rig.clock.sleeps and all(s > 0.05 for s in rig.clock.sleeps)


def test_registers_first_then_heartbeats_on_schedule():
    rig = Rig(CAMSTREAM_TARGET_FPS="10", CAMSTREAM_HEARTBEAT_S="1", CAMSTREAM_DEVICE_NAME="Porch")
    rig.steps(25)
    name, ip, extra = rig.control.registrations[0]
    assert (name, ip, extra["frameSize"], extra["upload"]) == ("Porch", "192.168.1.77", "HD", "multipart")
    assert len(rig.control.registrations) == 1
    assert len(rig.control.heartbeats) == 2
    beat = rig.control.heartbeats[-1]
    assert {
        "uptime",
        "freeHeap",
        "wifiRssi",
        "fps",
        "framesSent",
        "framesDropped",
        "frameSize",
        "quality",
        "cpuTemperature",
        "resetReason",
    } <= set(beat)
    assert beat["wifiRssi"] == -55 and beat["resetReason"] == "POWER_ON"


def test_reregisters_after_rejoin_or_when_the_hub_forgets():
    rig = Rig()
    rig.steps(2)
    rig.link.rejoin = True
    rig.steps(1)
    rig.control.registered = False  # what a heartbeat 404 does
    rig.steps(1)
    assert len(rig.control.registrations) == 3


def test_stats_block_is_printed_every_interval(capsys):
    rig = Rig(CAMSTREAM_TARGET_FPS="10", CAMSTREAM_STATS_S="2")
    rig.steps(25)
    out = capsys.readouterr().out
    assert out.count(HEADER) == 1
    block = out[out.index(HEADER) :].splitlines()
    fps = [text for text in block if text.startswith("FPS: ")][0]
    assert 9.5 <= float(fps.split()[1]) <= 10.5 and fps.endswith("(target 10)")
    assert "Rating: MODERATE" in block
    assert "Errors: none" in block


def test_refused_connection_backs_off_reports_sparingly_and_resumes_fast(capsys):
    rig = Rig(CAMSTREAM_TARGET_FPS="10")
    rig.steps(3)
    rig.server["up"] = False
    rig.cm.close_all()  # the hub went away: its connections are gone
    rig.clock.sleeps.clear()
    rig.steps(8)
    assert rig.clock.sleeps == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    out = capsys.readouterr().out
    lines = [text for text in out.splitlines() if text.startswith("Error refused")]
    # 1st, 2nd, 4th, 8th in a row, but the 2nd came 0.25 s after the 1st: at most one line a second
    assert [text.split(":")[0] for text in lines] == ["Error refused #1", "Error refused #4", "Error refused #8"]
    assert "server refused the connection" in lines[0] and "retry in 0.2 s" in lines[0]
    fault_end = rig.clock.ms
    rig.server["up"] = True
    sent = rig.streamer.stats.frames_sent
    while rig.streamer.stats.frames_sent == sent:
        rig.steps(1)
    assert rig.clock.ms - fault_end <= 5000
    assert "Recovered: streaming again after 8 refused errors" in capsys.readouterr().out
    assert rig.streamer.stats.errors == {"refused": 8}
    assert rig.streamer.stats.frames_dropped == 8


def test_wrong_api_key_says_so_and_waits_longer(capsys):
    rig = Rig()
    rig.server["response"] = UNAUTHORIZED
    rig.steps(2)
    out = capsys.readouterr().out
    assert "Error auth #1: server rejected the API key: check CAMSTREAM_API_KEY" in out
    assert "(invalid API key)" in out
    assert rig.clock.sleeps[-1] == AUTH_RETRY_S
    assert rig.streamer.stats.errors == {"auth": 2}


def test_server_error_and_registration_failure_are_counted():
    rig = Rig()
    rig.control.fail = HTTPStatusError(503, "register", "busy")
    rig.steps(1)
    rig.control.fail = None
    rig.server["response"] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
    rig.steps(1)
    assert rig.streamer.stats.errors == {"server": 2}


def test_wifi_down_is_reported_and_retried():
    rig = Rig()
    rig.link.up = False
    rig.steps(3)
    rig.link.up = True
    rig.steps(1)
    assert rig.streamer.stats.errors == {"wifi": 3}
    assert rig.streamer.stats.frames_sent == 1 and rig.streamer.stats.frames_dropped == 0


def test_camera_timeouts_are_dropped_frames_without_backoff():
    rig = Rig(frames=[None, JPEG])
    rig.steps(4)
    stats = rig.streamer.stats
    assert (stats.frames_sent, stats.frames_dropped, stats.errors) == (2, 2, {"camera": 2})
    assert all(s < 0.1 for s in rig.clock.sleeps)


def test_intermittent_failures_do_not_flood_the_console(capsys):
    rig = Rig(frames=[None, JPEG], CAMSTREAM_TARGET_FPS="30", CAMSTREAM_STATS_S="3600")
    rig.steps(600)
    elapsed_s = (rig.clock.ms - 1000) / 1000
    lines = [text for text in capsys.readouterr().out.splitlines() if text.startswith("Error camera")]
    assert rig.streamer.stats.errors == {"camera": 300}
    assert 1 <= len(lines) <= elapsed_s + 1


def test_memory_error_collects_and_continues():
    rig = Rig()
    original = rig.uplink.submit

    def submit(frame, seq, capture_ms, done=None):
        if seq == 2:
            raise MemoryError("memory allocation failed")
        return original(frame, seq, capture_ms, done)

    rig.uplink.submit = submit
    rig.steps(3)
    assert rig.system.collects == 1 and rig.streamer.stats.errors == {"memory": 1}
    assert rig.streamer.stats.frames_sent == 2


def test_bugs_propagate_to_code_py_and_run_starts_the_watchdog():
    rig = Rig()
    rig.camera.take = lambda: 1 / 0
    with pytest.raises(ZeroDivisionError):
        rig.streamer.run()
    assert rig.watchdog.started


def test_close_releases_everything_even_if_one_part_fails(capsys):
    rig = Rig()
    rig.steps(1)

    def broken():
        raise OSError(9)

    rig.uplink.close = broken
    rig.streamer.close()
    assert rig.watchdog.stopped and rig.fake_camera.deinited
    assert "Close: OSError" in capsys.readouterr().out


# ---- pipelined uploads: each frame goes out before the previous answer is read when the link is the limit --


def link_bound(rig, ms_per_frame=60):
    """Every take() lands after its slot (a slow link): the streamer never waits, so it sends ahead."""
    take = rig.fake_camera.take

    def slow_take(*args, **kwargs):
        rig.clock.advance(ms_per_frame)
        return take(*args, **kwargs)

    rig.fake_camera.take = slow_take
    return rig


def accounted(rig):
    stats = rig.streamer.stats
    return stats.frames_sent + stats.frames_dropped + (1 if rig.uplink.pending else 0)


def test_link_bound_stream_sends_ahead_and_counts_every_frame_exactly():
    rig = link_bound(Rig(CAMSTREAM_TARGET_FPS="30"))
    rig.steps(10)
    stats = rig.streamer.stats
    assert rig.sockets[0].requests == 10 and rig.cm.connects == 1
    assert stats.frames_sent == 9 and rig.uplink.pending == len(JPEG)  # the 10th answer is still in flight
    assert not rig.clock.sleeps
    rig.streamer.close()  # reads the last answer before letting go of the socket
    assert stats.frames_sent == 10 and stats.frames_dropped == 0 and stats.bytes_sent == 10 * len(JPEG)
    assert rig.sockets[0]._owed == 0


def test_no_answer_waits_in_flight_through_a_pause_or_a_json_request():
    rig = link_bound(Rig(CAMSTREAM_TARGET_FPS="30", CAMSTREAM_HEARTBEAT_S="1"))
    in_flight = []
    beat = rig.control.heartbeat
    rig.control.heartbeat = lambda fields: (in_flight.append(rig.uplink.pending), beat(fields))[1]
    rig.steps(40)
    assert len(in_flight) >= 2 and not any(in_flight)
    paced = Rig(CAMSTREAM_TARGET_FPS="10")
    for _ in range(5):
        paced.steps(1)
        assert paced.uplink.pending == 0 and paced.clock.sleeps  # answered before the pacing sleep
    assert paced.streamer.stats.frames_sent == 5


def test_refused_frame_answered_late_is_counted_and_reported(capsys):
    rig = link_bound(Rig(CAMSTREAM_TARGET_FPS="30"))
    refused = b'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 16\r\n\r\n{"error":"oops"}'
    rig.server["response"] = [OK_RESPONSE, OK_RESPONSE, refused, OK_RESPONSE]
    rig.steps(6)
    stats = rig.streamer.stats
    assert stats.errors == {"server": 1} and stats.frames_dropped == 1
    assert "oops" in capsys.readouterr().out
    assert accounted(rig) == rig.streamer.seq


def test_socket_error_with_a_frame_in_flight_drops_both_and_recovers():
    rig = link_bound(Rig(CAMSTREAM_TARGET_FPS="30"))
    rig.steps(3)
    assert rig.uplink.pending
    rig.sockets[0].reset_after = rig.sockets[0].bytes_sent + 100
    rig.steps(1)
    stats = rig.streamer.stats
    assert stats.errors == {"reset": 1} and stats.frames_dropped == 2 and rig.uplink.pending == 0
    rig.steps(4)
    assert len(rig.sockets) == 2 and stats.frames_sent >= 4
    assert accounted(rig) == rig.streamer.seq


# ---- rate control and the hub's settings, wired into the loop ------------------------------------------------


def model_sizes(size, quality):
    """Frame bytes like the virtual OV5640's (hostsim.frames)."""
    width, height = framesize.DIMENSIONS[size]
    return ov5640_jpeg_bytes(width, height, quality)


def adaptive_rig(kbps, **settings):
    """A rig whose camera sizes follow quality and frame size, on a link that takes its air time for each byte."""
    rig = Rig(frames=(synthetic_jpeg(300_000),), **settings)
    rig.fake_camera = FakeCamera([synthetic_jpeg(300_000)], frame_size="HD", quality=6, sizes=model_sizes)
    rig.camera._open_camera = lambda **kw: rig.fake_camera
    rig.camera.close()
    rig.camera.open()
    rig.link_model = FakeLink(rig.clock, kbps)
    rig.server["link"] = rig.link_model
    return rig


def test_rate_control_raises_the_quality_number_until_the_link_carries_the_target(capsys):
    rig = adaptive_rig(1000, CAMSTREAM_TARGET_FPS="20")
    rig.steps(200)
    assert rig.camera.frame_size == "HD" and 18 <= rig.camera.quality <= 30
    assert "Adapt: HD q6 -> HD q" in capsys.readouterr().out
    start, sent = rig.clock.ms, rig.streamer.stats.frames_sent
    rig.steps(100)
    assert (rig.streamer.stats.frames_sent - sent) * 1000 / (rig.clock.ms - start) >= 18


def test_heartbeats_report_picture_link_and_settings():
    rig = adaptive_rig(300, CAMSTREAM_TARGET_FPS="20", CAMSTREAM_HEARTBEAT_S="2")
    rig.steps(120)
    beat = rig.control.heartbeats[-1]
    assert beat["frameSize"] == rig.camera.frame_size and beat["quality"] == rig.camera.quality
    assert beat["adapt"]["policy"] == "fps" and 200 <= beat["adapt"]["linkKBps"] <= 330
    assert beat["adapt"]["reconfigures"] == rig.camera.reconfigures >= 1 and beat["adapt"]["reason"]
    assert beat["settings"] == {"version": 0, "applied": {}, "refused": {}} and beat["targetFps"] == 20


def test_stats_block_shows_picture_link_and_the_last_change(capsys):
    rig = adaptive_rig(250, CAMSTREAM_TARGET_FPS="20", CAMSTREAM_STATS_S="5")
    rig.steps(150)
    out = capsys.readouterr().out
    block = out[out.rindex(HEADER) :].splitlines()
    picture = next(text for text in block if text.startswith("Picture: "))
    assert picture.startswith(f"Picture: {rig.camera.frame_size} q{rig.camera.quality} (adapt fps; ")
    assert next(text for text in block if text.startswith("Link: ")).startswith("Link: ~")
    assert "s ago: link ~" in next(text for text in block if text.startswith("Last change: "))


def test_settings_in_a_heartbeat_answer_are_applied_and_reported_at_once(capsys):
    rig = Rig(CAMSTREAM_TARGET_FPS="10", CAMSTREAM_HEARTBEAT_S="5")
    rig.control.answers = [{"ok": True, "settings": {"version": 4, "values": {"vflip": True, "targetFps": 5}}}]
    rig.steps(60)  # the first heartbeat is due 5 s after registering
    beats = rig.control.heartbeats
    assert beats[0]["settings"]["version"] == 0
    assert beats[1]["settings"] == {"version": 4, "applied": {"vflip": True, "targetFps": 5}, "refused": {}}
    assert rig.fake_camera.vflip is True and rig.streamer.target_fps == 5
    assert rig.clock.sleeps[-1] == pytest.approx(0.2)  # paced to the new target
    assert "Hub settings v4: applied targetFps=5, vflip=True" in capsys.readouterr().out
    # reported at once: the second heartbeat came right after the first, not 5 s later (the run lasts ~7 s)
    assert len(beats) == 2


def test_settings_the_firmware_cannot_read_are_ignored_in_one_line(capsys):
    rig = Rig(CAMSTREAM_TARGET_FPS="10", CAMSTREAM_HEARTBEAT_S="1")
    rig.control.answers = [{"settings": "everything"}, {"settings": "everything"}]
    rig.steps(40)
    out = capsys.readouterr().out
    assert out.count("Hub: settings in the heartbeat answer ignored: settings must be an object") == 1
    assert rig.streamer.stats.errors == {} and rig.streamer.stats.frames_sent >= 30
