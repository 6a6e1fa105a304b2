"""The fake espcamera: validation, the frame-buffer contract of take(), overflow and faults."""

import gc
import io
import time
from itertools import pairwise

import pytest
from PIL import Image, ImageStat

from hostsim.faults import parse_fault


def camera_kwargs(board_module, espcamera, prefix="CAMERA", **overrides):
    """espcamera.Camera()'s arguments from the board's pin names (`prefix` CAMERA_* or CAM_*), as a QVGA JPEG."""
    pins = {
        name: getattr(board_module, f"{prefix}_{pin}")
        for name, pin in (
            ("data_pins", "DATA"),
            ("external_clock_pin", "XCLK"),
            ("pixel_clock_pin", "PCLK"),
            ("vsync_pin", "VSYNC"),
            ("href_pin", "HREF"),
        )
    }
    kwargs = dict(
        pins,
        i2c=board_module.I2C(),
        pixel_format=espcamera.PixelFormat.JPEG,
        frame_size=espcamera.FrameSize.QVGA,
        jpeg_quality=12,
        framebuffer_count=1,
    )
    kwargs.update(overrides)
    return kwargs


def make_camera(board, **overrides):
    """A camera on a booted board; FrameSize/GrabMode may be given by name."""
    if board.world is None:
        board.boot(sensor_fps=60)
    espcamera = board.module("espcamera")
    for key, kind in (("frame_size", espcamera.FrameSize), ("grab_mode", espcamera.GrabMode)):
        if isinstance(overrides.get(key), str):
            overrides[key] = getattr(kind, overrides[key])
    return espcamera, espcamera.Camera(**camera_kwargs(board.module("board"), espcamera, **overrides))


def test_take_returns_a_readonly_b_memoryview_of_a_jpeg(board):
    espcamera, cam = make_camera(board, frame_size="HD")
    frame = cam.take(1)
    assert isinstance(frame, memoryview)
    assert frame.readonly and frame.format == "b"
    assert frame[0] == -1 and frame[1] == -40  # FF D8 seen as signed bytes
    assert bytes(frame[-2:]) == b"\xff\xd9"
    with pytest.raises(TypeError):
        frame[0] = 0
    assert (cam.width, cam.height, cam.sensor_name) == (1280, 720, "OV5640")
    assert Image.open(io.BytesIO(bytes(frame))).size == (1280, 720)


def test_the_next_take_overwrites_the_buffer(board):
    _, cam = make_camera(board)
    first = cam.take(1)
    copy = bytes(first)
    second = cam.take(1)
    assert second.obj is first.obj  # one frame buffer, reused
    assert bytes(first[: len(copy)]) != copy


def test_with_two_buffers_the_given_back_one_is_overwritten_too(board):
    espcamera, cam = make_camera(board, framebuffer_count=2, grab_mode="LATEST")
    first = cam.take(1)
    copy = bytes(first)
    second = cam.take(1)
    assert second.obj is not first.obj
    assert bytes(first) != copy


def test_frame_numbers_advance_at_the_sensor_rate(board):
    _, cam = make_camera(board)
    start = time.monotonic()
    frames = [cam.take(1) for _ in range(12)]
    assert all(f is not None for f in frames)
    elapsed = time.monotonic() - start
    # one buffer: each take waits for a frame that starts after the buffer came back (1-2 periods at 60 fps)
    assert 12 / 60 <= elapsed < 12 * 2.5 / 60 + 0.3


def test_too_low_quality_overflows_the_frame_buffer(board):
    _, cam = make_camera(board, frame_size="HD", jpeg_quality=2)
    assert cam.take(0.1) is None
    assert board.world.stats.fb_overflows >= 1
    cam.quality = 10
    good = cam.take(1)
    assert good is not None and len(good) <= 1280 * 720 // 5
    big = len(good)
    cam.quality = 30
    assert len(cam.take(1)) < big


def test_camera_fault_makes_take_time_out(board):
    board.boot(faults=[parse_fault("camera@0+60")])
    _, cam = make_camera(board)
    start = time.monotonic()
    assert cam.take(0.2) is None
    assert time.monotonic() - start >= 0.19
    assert board.world.stats.camera_timeouts == 1


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"data_pins": ()}, ValueError, "data_pins length must be 8"),
        ({"jpeg_quality": 1}, ValueError, "jpeg_quality must be 2-55"),
        ({"jpeg_quality": 56}, ValueError, "jpeg_quality must be 2-55"),
        ({"framebuffer_count": 3}, ValueError, "framebuffer_count must be 1-2"),
        ({"i2c": object()}, TypeError, "i2c must be of type I2C"),
    ],
)
def test_constructor_validates_like_the_board(board, overrides, error, message):
    board.boot()
    espcamera = board.module("espcamera")
    with pytest.raises(error, match=message):
        espcamera.Camera(**camera_kwargs(board.module("board"), espcamera, **overrides))


def test_arguments_are_keyword_only(board):
    board.boot()
    espcamera = board.module("espcamera")
    with pytest.raises(TypeError):
        espcamera.Camera(board.module("board").CAMERA_DATA)


def test_only_one_camera_and_deinit_frees_it(board):
    espcamera, cam = make_camera(board)
    with pytest.raises(ValueError, match="in use"):
        make_camera(board)
    cam.deinit()
    with pytest.raises(ValueError, match="deinitialized"):
        cam.take()
    _, again = make_camera(board)
    assert again.take(1) is not None


def test_wrong_wiring_fails_the_sensor_probe(board):
    board.boot(board="seeed_xiao_esp32_s3_sense")
    espcamera = board.module("espcamera")
    board_module = board.module("board")
    busio = board.module("busio")
    kwargs = dict(
        data_pins=board_module.CAM_DATA,
        external_clock_pin=board_module.CAM_XCLK,
        pixel_clock_pin=board_module.CAM_PCLK,
        vsync_pin=board_module.CAM_VSYNC,
        href_pin=board_module.CAM_HREF,
        pixel_format=espcamera.PixelFormat.JPEG,
    )
    espidf = board.module("espidf")
    with pytest.raises(espidf.IDFError, match="not found"):
        espcamera.Camera(i2c=board_module.I2C(), **kwargs)  # the XIAO's camera is NOT on board.I2C()
    bus = busio.I2C(board_module.CAM_SCL, board_module.CAM_SDA)
    # common-hal/espcamera/Camera.c: the failed init keeps its pins until the half-built object is collected.
    with pytest.raises(ValueError, match="pixel_clock_pin in use"):
        espcamera.Camera(i2c=bus, **kwargs)
    gc.collect()
    cam = espcamera.Camera(i2c=bus, **kwargs)
    assert cam.take(1) is not None


def test_a_pin_in_use_fails_before_anything_is_claimed(board):
    board.boot()
    espcamera, board_module = board.module("espcamera"), board.module("board")
    busio = board.module("busio")
    held = busio.I2C(board_module.CAMERA_HREF, board_module.CAMERA_VSYNC)
    with pytest.raises(ValueError, match="vsync_pin in use"):
        espcamera.Camera(**camera_kwargs(board_module, espcamera))
    held.deinit()
    assert espcamera.Camera(**camera_kwargs(board_module, espcamera)).take(1) is not None


def test_without_psram_there_is_no_espcamera(board):
    """ports/espressif/mpconfigport.mk: CIRCUITPY_ESPCAMERA = 0 when CIRCUITPY_ESP_PSRAM_SIZE is 0."""
    board.boot(psram=False)
    assert board.module("espidf").get_total_psram() == 0
    with pytest.raises(ImportError, match="no module named 'espcamera'"):
        board.module("espcamera")


def test_firebeetle_camera_needs_its_axp313a_rails(board):
    """The FireBeetle 2 powers the camera from an AXP313A: no sensor answers until its LDOs are on."""
    board.boot(board="firebeetle2_esp32s3")
    espcamera, board_module, espidf = board.module("espcamera"), board.module("board"), board.module("espidf")
    kwargs = camera_kwargs(board_module, espcamera, prefix="CAM")
    with pytest.raises(espidf.IDFError, match="not found"):
        espcamera.Camera(**kwargs)
    gc.collect()
    axp313a = board.module("AXP313A")
    chip = axp313a.AXP313A(kwargs["i2c"])
    assert chip.begin()
    assert axp313a.enable_camera(chip, axp313a.camera_voltages.OV2640)
    cam = espcamera.Camera(**kwargs)
    assert cam.take(1) is not None
    cam.deinit()
    axp313a.disable_camera(chip)
    with pytest.raises(espidf.IDFError, match="not found"):
        espcamera.Camera(**kwargs)


def test_axp313a_exists_only_where_circuitpython_freezes_it(board):
    board.boot()
    with pytest.raises(ImportError, match="no module named 'AXP313A'"):
        board.module("AXP313A")


def test_reconfigure_changes_size_and_frees_the_old_buffer(board):
    espcamera, cam = make_camera(board)
    old = cam.take(1)
    cam.reconfigure(frame_size=espcamera.FrameSize.VGA, framebuffer_count=2)
    assert (cam.width, cam.height, cam.framebuffer_count) == (640, 480, 2)
    assert not any(bytes(old))  # given back and overwritten
    assert cam.take(1) is not None


def test_frames_folder_is_played_in_name_order(board, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    colours = {"c.jpg": (0, 0, 255), "a.jpg": (255, 0, 0), "b.jpg": (0, 255, 0)}
    for name, colour in colours.items():
        Image.new("RGB", (64, 48), colour).save(folder / name, "JPEG")
    board.boot(frames=folder, sensor_fps=60)
    _, cam = make_camera(board, framebuffer_count=2, grab_mode="LATEST")
    seen = []
    for _ in range(6):
        pixel = Image.open(io.BytesIO(bytes(cam.take(1)))).convert("RGB").getpixel((5, 5))
        seen.append(max(range(3), key=lambda i: pixel[i]))  # 0 red (a), 1 green (b), 2 blue (c)
    steps = {(b - a) % 3 for a, b in pairwise(seen)}
    assert set(seen) == {0, 1, 2}
    assert steps <= {1, 2}  # forward through a, b, c (skipping frames the firmware was too slow for)


def test_hang_fault_freezes_take_until_interrupted(board):
    import _thread
    import threading

    board.boot(faults=[parse_fault("hang@0")])
    _, cam = make_camera(board)
    threading.Timer(0.3, _thread.interrupt_main).start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        cam.take(0.05)
    assert time.monotonic() - start >= 0.25


def test_frame_size_follows_quality_and_frame_size_like_an_ov5640(board):
    from hostsim.frames import frame_note, ov5640_jpeg_bytes

    espcamera, cam = make_camera(board, frame_size="HD", jpeg_quality=12, framebuffer_count=2, grab_mode="LATEST")
    first = bytes(cam.take(1))
    note = frame_note(first)
    assert note["size"] == "1280x720" and note["quality"] == "12"
    assert len(first) == ov5640_jpeg_bytes(1280, 720, 12, int(note["frame"]), 60.0)
    cam.quality = 30
    cam.take(1)  # the other buffer may still hold a frame exposed before the change
    assert frame_note(bytes(cam.take(1)))["quality"] == "30"
    cam.reconfigure(frame_size=espcamera.FrameSize.VGA)
    vga = bytes(cam.take(1))
    assert frame_note(vga)["size"] == "640x480" and len(vga) < len(first) / 3
    assert board.world.stats.reconfigures == 1


def test_vflip_and_hmirror_turn_the_frames_around(board):
    _, cam = make_camera(board, framebuffer_count=2, grab_mode="LATEST")

    def picture():
        cam.take(1)  # a frame exposed before the change may still wait in the other buffer
        return Image.open(io.BytesIO(bytes(cam.take(1)))).convert("L")

    upright = picture()
    cam.vflip = True
    flipped = picture()
    cam.vflip, cam.hmirror = False, True
    mirrored = picture()
    top, bottom = (0, 0, 320, 40), (0, 200, 320, 240)
    # colour bars on top, the grey ramp at the bottom: flipping swaps them, mirroring reverses the ramp
    assert (
        abs(_mean(flipped, top) - _mean(upright, bottom)) < 12
        and abs(_mean(flipped, bottom) - _mean(upright, top)) < 12
    )
    left, right = (0, 215, 40, 225), (280, 215, 320, 225)
    assert _mean(upright, left) < 60 < 200 < _mean(upright, right)
    assert _mean(mirrored, left) > 200 > 60 > _mean(mirrored, right)
    assert cam.vflip is False and cam.hmirror is True


def _mean(image, box):
    return ImageStat.Stat(image.crop(box)).mean[0]


@pytest.mark.parametrize(
    ("knob", "good", "bad"),
    [("contrast", 3, 4), ("saturation", -4, -5), ("ae_level", 5, 6), ("special_effect", 6, 7), ("sharpness", -3, -4)],
)
def test_knobs_take_the_ov5640s_ranges(board, knob, good, bad):
    """common-hal/espcamera/Camera.c raises ValueError("invalid setting") when the sensor's setter fails."""
    _, cam = make_camera(board)
    setattr(cam, knob, good)
    assert getattr(cam, knob) == good
    with pytest.raises(ValueError, match="invalid setting"):
        setattr(cam, knob, bad)
    assert getattr(cam, knob) == good
    cam.brightness = 7  # the OV5640's setter accepts any level (and writes 0 outside -3..3)
    assert cam.brightness == 7


def test_reconfigure_to_buffers_the_psram_cannot_hold_fails_and_keeps_the_old_ones(board):
    """The MEMENTO has 2 MB of PSRAM, shared with CircuitPython's heap: two QSXGA buffers (1.97 MB) do not fit."""
    espcamera, cam = make_camera(board, frame_size="HD", framebuffer_count=2, grab_mode="LATEST")
    espidf = board.module("espidf")
    with pytest.raises(espidf.MemoryError, match="needs 2 x 983040 byte frame buffers"):
        cam.reconfigure(frame_size=espcamera.FrameSize.QSXGA)
    assert (cam.width, cam.height, cam.framebuffer_count) == (1280, 720, 2)
    assert cam.take(1) is not None
    cam.reconfigure(frame_size=espcamera.FrameSize.QHD)
    assert (cam.width, cam.height) == (2560, 1440)


def test_frame_sizes_agree_with_the_firmwares_table(board):
    from camstream import framesize

    board.boot()
    espcamera = board.module("espcamera")
    assert {name: getattr(espcamera.FrameSize, name).size for name in framesize.NAMES} == framesize.DIMENSIONS
