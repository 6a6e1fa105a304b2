"""camstream.camera: init causes and retries, LATEST with two buffers, quality stepping, re-init."""

import pytest

from camstream import camera as camera_mod
from camstream.camera import Camera, explain_init_error, grab_mode
from camstream.errors import CameraInitError, CameraTimeout
from testkit.fakes import FakeCamera


class Opener:
    def __init__(self, results):
        self.results = list(results)
        self.calls = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


def test_two_buffers_grab_latest_one_buffer_when_empty():
    assert grab_mode(2) == "LATEST" and grab_mode(1) == "WHEN_EMPTY"
    opener = Opener([FakeCamera([b"\xff\xd8jpeg"])])
    Camera(opener, "HD", 6, 2, True, lambda s: None, lambda: None).open()
    assert opener.calls == [dict(frame_size="HD", jpeg_quality=6, framebuffer_count=2, grab_mode="LATEST")]


def test_init_retries_then_succeeds(capsys):
    sleeps = []
    opener = Opener([OSError("Requested resource not found"), FakeCamera([b"\xff\xd8x"])])
    cam = Camera(opener, "HD", 6, 2, True, sleeps.append, lambda: None)
    cam.open()
    out = capsys.readouterr().out
    assert "init attempt 1/3 failed: camera sensor not detected: check the ribbon cable" in out
    assert "OV5640 ready" in out and sleeps == [1.0]
    assert len(cam.take()) == 3


def test_init_gives_up_with_the_cause():
    opener = Opener([MemoryError("no mem")] * 3)
    cam = Camera(opener, "UXGA", 6, 2, True, lambda s: None, lambda: None)
    with pytest.raises(CameraInitError, match="not enough PSRAM for 2 frame buffer"):
        cam.open()
    assert len(opener.calls) == 3


@pytest.mark.parametrize(
    "exc,has_psram,cause",
    [
        (RuntimeError("x"), False, "no PSRAM"),
        (RuntimeError("No pull up found on SDA or SCL; check your wiring"), True, "unpowered or its ribbon"),
        (ValueError("CAMERA_DATA in use"), True, "CAMSTREAM_PINS"),
        (OSError("Unknown ESP-IDF error 0x20001"), True, "sensor not detected"),
        (RuntimeError("odd"), True, "check pins, power and the ribbon cable"),
    ],
)
def test_explain_init_error(exc, has_psram, cause):
    assert cause in explain_init_error(exc, has_psram, "HD", 2)


def test_empty_frames_raise_quality_number_step_by_step(capsys):
    fake = FakeCamera([None])
    cam = Camera(Opener([fake]), "HD", 6, 2, True, lambda s: None, lambda: None)
    cam.open()
    for _ in range(6):
        with pytest.raises(CameraTimeout):
            cam.take()
    assert cam.quality == 10 and fake.quality == 10
    assert "JPEG quality number 6 -> 8" in capsys.readouterr().out
    assert fake.timeouts == [camera_mod.TAKE_TIMEOUT_S] * 6


def test_a_good_frame_resets_the_streak():
    fake = FakeCamera([None, None, b"\xff\xd8ok", None, None, b"\xff\xd8ok"])
    cam = Camera(Opener([fake]), "HD", 6, 2, True, lambda s: None, lambda: None)
    cam.open()
    for _ in range(2):
        for _ in range(2):
            with pytest.raises(CameraTimeout):
                cam.take()
        assert cam.take() is not None
    assert cam.quality == 6


def test_many_empty_frames_reinitialise_the_camera():
    first, second = FakeCamera([None]), FakeCamera([b"\xff\xd8ok"])
    opener = Opener([first, second])
    cam = Camera(opener, "HD", 6, 2, True, lambda s: None, lambda: None)
    cam.open()
    for _ in range(camera_mod.REOPEN_AFTER):
        with pytest.raises(CameraTimeout):
            cam.take()
    assert first.deinited and cam.reopens == 1
    assert cam.take() is not None
    assert opener.calls[1]["jpeg_quality"] == 6 + camera_mod.QUALITY_STEP * (
        camera_mod.REOPEN_AFTER // camera_mod.EMPTY_STEP_AFTER
    )


def test_close_deinits():
    fake = FakeCamera([b"\xff\xd8"])
    cam = Camera(Opener([fake]), "HD", 6, 2, True, lambda s: None, lambda: None)
    cam.open()
    cam.close()
    cam.close()
    assert fake.deinited
