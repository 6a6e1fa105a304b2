"""camstream.remote: the hub's settings checked against the sensor and the board, applied, reported, undone."""

import pytest

from camstream.camera import Camera
from camstream.ratecontrol import RateControl
from camstream.remote import KEYS, RemoteSettings, base_settings
from camstream.settings import load
from testkit.fakes import FakeCamera, FakeClock

JPEG = b"\xff\xd8" + bytes(3000) + b"\xff\xd9"
MB = 1024 * 1024


class Loop:
    """What RemoteSettings retimes."""

    def __init__(self):
        self.retimed = []

    def retime(self, target_fps, heartbeat_s):
        self.retimed.append((target_fps, heartbeat_s))


class PickyCamera(FakeCamera):
    """A sensor stricter than its driver's table: contrast beyond -2..2 raises like the sensor's setter."""

    _contrast = 0

    @property
    def contrast(self):
        return self._contrast

    @contrast.setter
    def contrast(self, value):
        if not -2 <= value <= 2:
            raise ValueError("invalid setting")
        self._contrast = value


class Rig:
    def __init__(self, sensor="OV5640", free=1 * MB, **settings):
        values = {"CAMSTREAM_SERVER_URL": "http://127.0.0.1:9005", "CAMSTREAM_API_KEY": "k", **settings}
        self.cfg = cfg = load(lambda key, default=None: values.get(key, default), b"\x00\x00\x00\xab\xcd\xef")
        clock = FakeClock()
        self.fake = PickyCamera([JPEG], frame_size=cfg.frame_size, quality=cfg.jpeg_quality, sensor_name=sensor)
        self.camera = Camera(
            lambda **kw: self.fake, cfg.frame_size, cfg.jpeg_quality, cfg.framebuffers, True, clock.sleep, lambda: 0
        )
        self.camera.open()
        self.rate = RateControl(
            self.camera, cfg.adapt, cfg.target_fps, cfg.min_frame_size, cfg.max_quality, lambda: free
        )
        self.loop = Loop()
        self.remote = RemoteSettings(cfg, self.camera, self.rate, self.loop, lambda: free)


def rig(sensor="OV5640", free=1 * MB, **settings):
    r = Rig(sensor, free, **settings)
    return r.remote, r.camera, r.fake, r.rate, r.loop


def test_nothing_from_the_hub_changes_nothing():
    remote, camera, fake, rate, loop = rig()
    assert remote.report() == {"version": 0, "applied": {}, "refused": {}}
    assert remote.apply({"version": 0, "values": {}}) is False
    assert fake.reconfigured == [] and loop.retimed == [] and camera.knobs == {}


def test_settings_are_applied_and_reported(capsys):
    remote, camera, fake, rate, loop = rig()
    values = {"frameSize": "VGA", "quality": 12, "vflip": True, "brightness": -2, "targetFps": 15, "adapt": "quality"}
    assert remote.apply({"version": 3, "values": values}) is True
    assert remote.report() == {"version": 3, "applied": values, "refused": {}}
    assert fake.reconfigured == ["VGA"] and camera.reconfigures == 1 and fake.quality == 12
    assert fake.vflip is True and fake.brightness == -2 and camera.knobs == {"vflip": True, "brightness": -2}
    assert loop.retimed == [(15, 10)] and rate.target_fps == 15 and rate.policy == "quality"
    assert (rate.best_size, rate.best_quality) == ("VGA", 12)
    out = capsys.readouterr().out
    assert "Hub settings v3: applied adapt=quality, frameSize=VGA, quality=12, targetFps=15, vflip=True" in out
    assert remote.apply({"version": 3, "values": values}) is False  # the same version again: nothing to do


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("frameSize", "HUGE", "expected an espcamera frame size name"),
        ("quality", 1, "1 is outside 2..55"),
        ("quality", 7.5, "expected a whole number"),
        ("quality", True, "expected a whole number"),
        ("targetFps", 61, "61 is outside 1..60"),
        ("heartbeatS", 0, "0 is outside 1..3600"),
        ("adapt", "bitrate", "expected one of fps, quality, off"),
        ("vflip", 1, "expected true or false"),
        ("saturation", 5, "5 is outside -4..4 for the OV5640"),
        ("aeLevel", -6, "-6 is outside -5..5 for the OV5640"),
        ("specialEffect", 7, "7 is outside 0..6"),
        ("minFrameSize", "P_HD", "expected a landscape frame size"),
        ("minFrameSize", "UXGA", "UXGA is larger than the frame size HD"),
        ("maxQuality", 4, "4 is a better quality number than quality (6)"),
        ("zoom", 2, "not a setting of this firmware"),
    ],
)
def test_a_bad_value_is_refused_with_its_reason_and_the_rest_applies(key, value, reason):
    remote, camera, fake, rate, loop = rig()
    assert remote.apply({"version": 1, "values": {key: value, "hmirror": True}})
    report = remote.report()
    assert reason in report["refused"][key]
    assert report["applied"] == {"hmirror": True} and fake.hmirror is True
    assert fake.reconfigured == []


def test_the_sensor_decides_its_ranges():
    remote, *_ = rig(sensor="OV2640")
    remote.apply({"version": 1, "values": {"brightness": 3, "frameSize": "QSXGA"}})
    refused = remote.report()["refused"]
    assert refused["brightness"] == "3 is outside -2..2 for the OV2640"
    assert refused["frameSize"] == "the OV2640 makes at most UXGA"


def test_a_frame_size_whose_buffers_the_psram_cannot_hold_is_refused():
    remote, camera, fake, *_ = rig(free=1 * MB)
    remote.apply({"version": 1, "values": {"frameSize": "QSXGA"}})
    reason = remote.report()["refused"]["frameSize"]
    assert reason.startswith("2 frame buffer(s) of QSXGA need 1920 KB of PSRAM") and "KB short" in reason
    assert fake.reconfigured == [] and camera.frame_size == "HD"
    remote.apply({"version": 2, "values": {"frameSize": "UXGA"}})  # 2 x 375 KB fits beside the freed HD buffers
    assert remote.report()["applied"] == {"frameSize": "UXGA"} and fake.reconfigured == ["UXGA"]


def test_a_value_the_sensor_refuses_is_reported_as_such():
    r = Rig(sensor="custom")  # a sensor the firmware has no table for: the OV5640's ranges are assumed
    r.remote.apply({"version": 1, "values": {"contrast": 3, "saturation": 1}})
    report = r.remote.report()
    assert report["refused"] == {"contrast": "the sensor refused it: invalid setting"}
    assert report["applied"] == {"saturation": 1} and r.camera.knobs == {"saturation": 1} and r.fake.contrast == 0


def test_keys_the_hub_drops_go_back_to_settings_toml():
    r = Rig(CAMSTREAM_FRAME_SIZE="SVGA", CAMSTREAM_JPEG_QUALITY="10")
    r.remote.apply({"version": 1, "values": {"frameSize": "VGA", "vflip": True, "targetFps": 10}})
    r.remote.apply({"version": 2, "values": {}})
    assert r.fake.reconfigured == ["VGA", "SVGA"] and r.fake.vflip is False
    assert r.loop.retimed == [(10, 10), (30, 10)]
    assert r.remote.live == base_settings(r.cfg) and (r.camera.frame_size, r.camera.quality) == ("SVGA", 10)
    assert r.remote.report() == {"version": 2, "applied": {}, "refused": {}}


def test_limits_the_hub_leaves_follow_its_frame_size_and_quality():
    remote, camera, fake, rate, loop = rig()
    remote.apply({"version": 1, "values": {"frameSize": "QQVGA", "quality": 50}})
    assert remote.report()["refused"] == {}
    assert (rate.min_size, rate.worst_quality) == ("QQVGA", 50)


def test_holding_policies_bring_the_adapted_picture_back():
    remote, camera, fake, rate, loop = rig()
    camera.resize("VGA")  # where rate control had taken it
    camera.set_quality(30)
    remote.apply({"version": 1, "values": {"adapt": "off"}})
    assert (camera.frame_size, camera.quality) == ("HD", 6) and rate.policy == "off"


def test_answers_that_are_not_settings_raise_value_error():
    remote, *_ = rig()
    for bad in ([], {"version": "3", "values": {}}, {"version": -1, "values": {}}, {"version": 1, "values": []}):
        with pytest.raises(ValueError):
            remote.apply(bad)
    assert remote.report()["version"] == 0


def test_every_key_has_a_base_value():
    assert set(KEYS) == set(base_settings(Rig().cfg))


def test_a_refused_value_keeps_what_the_camera_runs():
    remote, camera, fake, rate, loop = rig()
    remote.apply({"version": 1, "values": {"frameSize": "VGA", "quality": 12}})
    remote.apply({"version": 2, "values": {"frameSize": "QSXGA", "quality": 12}})
    assert "KB short" in remote.report()["refused"]["frameSize"]
    assert (camera.frame_size, camera.quality) == ("VGA", 12) and fake.reconfigured == ["VGA"]


class BrokenReconfigure(PickyCamera):
    def reconfigure(self, frame_size=None, **kwargs):
        raise MemoryError("memory allocation failed")


def test_a_failed_resize_is_refused_and_the_quality_still_holds(capsys):
    r = Rig()
    r.fake.__class__ = BrokenReconfigure
    r.remote.apply({"version": 1, "values": {"frameSize": "VGA", "quality": 12}})
    report = r.remote.report()
    assert report["refused"]["frameSize"] == "reconfigure failed: MemoryError: memory allocation failed"
    assert report["applied"] == {"quality": 12}
    assert (r.camera.frame_size, r.camera.quality, r.rate.best_quality) == ("HD", 12, 12)
    r.fake = PickyCamera([JPEG], frame_size="HD", quality=6, sensor_name="OV5640")  # the driver, built again
    capsys.readouterr()
    r.camera.take()
    assert capsys.readouterr().out == "Camera: OV5640 ready, HD, quality 12, 2 buffer(s), grab LATEST\n"
