"""camstream.ratecontrol: decisions against a simulated link (lwIP's one send buffer draining at a scheduled rate)
and a camera whose JPEG sizes follow the virtual OV5640's (hostsim.frames)."""

import pytest

from camstream import framesize
from camstream.camera import Camera
from camstream.ratecontrol import SIZE_AT, RateControl, predict
from hostsim.frames import ov5640_jpeg_bytes
from testkit.fakes import FakeCamera, FakeClock, synthetic_jpeg

SEND_BUFFER = 5744
BIG = synthetic_jpeg(1_000_000)


def ov5640(size, quality):
    width, height = framesize.DIMENSIONS[size]
    return ov5640_jpeg_bytes(width, height, quality)


class Sim:
    """The firmware's frame loop reduced to what rate control sees: take, send into lwIP's buffer, pace."""

    def __init__(self, schedule, size="HD", quality=6, fps=20, policy="fps", floor="QVGA", worst=40, **options):
        self.schedule = schedule  # [(from second, KB/s), ...]
        self.clock = FakeClock(1000)
        self.fake = FakeCamera([BIG], frame_size=size, quality=quality, sizes=options.get("sizes", ov5640))
        self.camera = Camera(lambda **kw: self.fake, size, quality, 2, True, self.clock.sleep, lambda: None)
        self.camera.open()
        free = options.get("free", 6 * 1024 * 1024)
        self.rate = RateControl(self.camera, policy, fps, floor, worst, lambda: free)
        self.fps = fps
        self.drained_at = 0.0
        self.delivered = []  # (second, size, quality) of each frame, when its last byte left
        self.t = 0.0

    def kbps(self, t):
        return [rate for start, rate in self.schedule if start <= t][-1]

    def run(self, seconds):
        interval = 1.0 / self.fps
        while self.t < seconds:
            t = self.t
            nbytes = len(self.camera.take()) + 500
            rate = self.kbps(t) * 1000.0
            start = max(t, self.drained_at)
            self.drained_at = start + nbytes / rate
            written = max(t, self.drained_at - SEND_BUFFER / rate)
            self.delivered.append((self.drained_at, self.camera.frame_size, self.camera.quality))
            self.clock.ms = 1000 + int(written * 1000)
            self.rate.sent(nbytes, int(written * 1000) - int(t * 1000))  # what a millisecond clock reads
            self.rate.tick(self.clock())
            self.t = max(t + interval, written + 0.002)
        return self

    def fps_between(self, a, b):
        return sum(1 for t, _, _ in self.delivered if a <= t < b) / (b - a)

    def settings_between(self, a, b):
        return {(size, quality) for t, size, quality in self.delivered if a <= t < b}


def test_size_law_table_and_prediction():
    assert SIZE_AT[2] == 256 and SIZE_AT[6] == 112 and SIZE_AT[40] == 27
    assert predict(109_000, "HD", 6, "HD", 12) == pytest.approx(109_000 * (6 / 12) ** 0.75, rel=0.02)
    assert predict(60_000, "HD", 20, "VGA", 20) == pytest.approx(60_000 / 3, rel=0.02)
    assert predict(180_000, "QSXGA", 2, "QSXGA", 55) < 2**30  # stays in MicroPython's small ints


def test_steady_link_settles_on_one_picture_and_keeps_it():
    sim = Sim([(0, 1000)]).run(60)
    assert sim.fps_between(5, 60) >= 0.9 * 20
    late = sim.settings_between(10, 60)
    assert len(late) == 1, late
    size, quality = late.pop()
    assert size == "HD" and 18 <= quality <= 30  # quality first: 1000 KB/s carries HD at 20 fps
    assert sim.camera.reconfigures == 0 and sim.rate.changes <= 2


def test_stepping_link_recovers_fps_then_picture_with_one_reconfigure_per_step():
    sim = Sim([(0, 1000), (20, 250), (40, 1000)]).run(60)
    for step in (20, 40):
        assert sim.fps_between(step + 10, step + 20) >= 0.9 * 20, (step, sim.delivered[-5:])
    assert sim.fps_between(5, 20) >= 0.9 * 20
    low = sim.settings_between(30, 40)
    assert len(low) == 1 and framesize.rung(low.pop()[0]) < framesize.rung("HD")
    high = sim.settings_between(50, 60)
    assert len(high) == 1 and high.pop()[0] == "HD"
    assert sim.camera.reconfigures == 2
    assert "link ~" in sim.rate.reason or "room" in sim.rate.reason


def test_quality_policy_measures_but_holds_the_picture():
    sim = Sim([(0, 250)], policy="quality").run(15)
    assert sim.settings_between(0, 15) == {("HD", 6)}
    assert 200 <= sim.rate.link_kbps * 1024 // 1000 <= 260 and sim.rate.busy_pct > 90
    assert sim.fps_between(5, 15) < 3


def test_off_policy_does_not_even_measure():
    sim = Sim([(0, 250)], policy="off").run(5)
    assert sim.settings_between(0, 5) == {("HD", 6)} and sim.rate.link_kbps == 0
    assert sim.rate.describe_link() == "not measured (CAMSTREAM_ADAPT = off)"


def test_a_link_too_slow_for_the_target_goes_to_the_floor_and_says_so(capsys):
    sim = Sim([(0, 20)], floor="VGA", worst=30).run(20)
    assert sim.settings_between(12, 20) == {("VGA", 30)}
    assert "cannot carry 20 fps even at VGA q30" in sim.rate.reason and "fps will fall" in capsys.readouterr().out


def test_every_change_is_one_console_line(capsys):
    sim = Sim([(0, 1000), (10, 250)]).run(20)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Adapt: ")]
    assert len(lines) == sim.rate.changes >= 2
    assert any("(reconfigure #1)" in line and line.startswith("Adapt: HD q") for line in lines)


def test_scene_that_grows_more_than_predicted_does_not_oscillate():
    """Bigger frame sizes cost 60% more than the pixel count says: the first step up fails, then it is barred."""

    def greedy(size, quality):
        return int(ov5640(size, quality) * (1.6 if framesize.rung(size) >= framesize.rung("SVGA") else 1.0))

    sim = Sim([(0, 250)], sizes=greedy).run(120)
    assert sim.fps_between(20, 120) >= 0.85 * 20
    late = sim.settings_between(60, 120)
    assert len(late) <= 2, late
    assert sim.rate.changes <= 8


def test_frame_sizes_the_psram_cannot_hold_are_never_stepped_up_to():
    sim = Sim([(0, 250), (15, 2000)], free=200_000).run(40)
    late = [size for t, size, _ in sim.delivered if t > 20]
    assert late and all(framesize.rung(size) < framesize.rung("HD") for size in late), set(late)


def test_portrait_size_adapts_quality_only():
    sim = Sim([(0, 400)], size="P_HD").run(20)
    assert {size for _, size, _ in sim.delivered} == {"P_HD"} and sim.camera.reconfigures == 0
    assert max(quality for _, _, quality in sim.delivered) > 6


def test_small_frames_step_up_one_rung_at_a_time_when_the_link_cannot_be_measured():
    sim = Sim([(0, 5000)], size="HD", quality=10, floor="QQVGA").run(1)
    sim.camera.resize("QQVGA")
    sim.rate.restart()
    sim.run(25)
    assert sim.camera.frame_size == "HD"
    assert [size for size in dict.fromkeys(s for _, s, _ in sim.delivered)][:3] == ["HD", "QQVGA", "QCIF"]


def test_a_step_down_never_picks_a_bigger_frame_size_the_psram_cannot_hold():
    """From SVGA q6 under an HD ceiling the step down's search starts at HD, where a worse quality number is fewer
    bytes than SVGA q6."""
    sim = Sim([(0, 700)], free=100_000).run(1)  # SVGA's buffers freed, HD's are 75 KB short
    sim.camera.resize("SVGA")
    sim.camera.quality = 6
    sim.rate.restart()
    start, taken = sim.t, len(sim.delivered)
    sim.run(start + 20)
    late = [size for _, size, _ in sim.delivered[taken:]]
    assert late and "HD" not in late, set(late)
    assert sim.fps_between(start + 5, start + 20) >= 0.9 * 20
