"""The virtual OV5640's pictures: JPEG sizes that follow quality and frame size like the sensor's, and the knobs."""

import io
from itertools import pairwise

import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat

from camhub.jpeg import inspect
from hostsim import frames
from hostsim.frames import Look, apply_look, frame_note, ov5640_jpeg_bytes, pad_to

LADDER = [(320, 240), (640, 480), (800, 600), (1024, 768), (1280, 720), (1600, 1200)]


def test_model_follows_the_published_ratios():
    """q ** -0.75 (OV5640 measurements, adafruit/Adafruit_CircuitPython_OV5640#2) and the pixel count."""
    assert ov5640_jpeg_bytes(800, 600, 6) / ov5640_jpeg_bytes(800, 600, 10) == pytest.approx(1.47, abs=0.01)
    assert ov5640_jpeg_bytes(1280, 720, 20) / ov5640_jpeg_bytes(640, 480, 20) == pytest.approx(3.0, abs=0.01)
    assert 60_000 <= ov5640_jpeg_bytes(1280, 720, 6) <= 120_000  # what boards give at CamStream's defaults
    assert ov5640_jpeg_bytes(1280, 720, 4) <= 1280 * 720 // 5 < ov5640_jpeg_bytes(1280, 720, 2)  # FB-OVF at 2


def test_frames_have_the_models_size_and_a_note_naming_them():
    pattern = frames.TestPattern("test")
    for index in (0, 1, 17):
        jpeg = pattern.jpeg(index, 1280, 720, 12, 30.0)
        assert len(jpeg) == ov5640_jpeg_bytes(1280, 720, 12, index, 30.0)
        assert frame_note(jpeg) == {"frame": str(index), "size": "1280x720", "quality": "12"}
        assert (inspect(jpeg).width, inspect(jpeg).height) == (1280, 720)
        assert Image.open(io.BytesIO(jpeg)).size == (1280, 720)


def test_sizes_fall_with_the_quality_number_and_grow_with_the_frame_size():
    pattern = frames.TestPattern("test")
    for width, height in LADDER:
        sizes = [len(pattern.jpeg(5, width, height, q, 30.0)) for q in (4, 6, 10, 15, 21, 30)]
        assert all(a > b for a, b in pairwise(sizes)), (width, height, sizes)
    for q in (6, 12, 25):
        sizes = [len(pattern.jpeg(5, w, h, q, 30.0)) for w, h in LADDER]
        assert all(a < b for a, b in pairwise(sizes)), (q, sizes)


def test_where_the_encoder_cannot_get_that_small_the_frame_keeps_its_floor():
    pattern = frames.TestPattern("test")
    tiny = pattern.jpeg(3, 160, 120, 55, 30.0)
    assert len(tiny) > ov5640_jpeg_bytes(160, 120, 55, 3, 30.0)
    assert len(tiny) < 2 * len(pattern.jpeg(3, 160, 120, 30, 30.0))
    assert frame_note(tiny)["quality"] == "55"


def test_picture_gets_worse_with_the_quality_number():
    pattern = frames.TestPattern("test")
    reference = pattern.picture(2, 640, 480, 6, 30.0)

    def error(q: int) -> float:
        decoded = Image.open(io.BytesIO(pattern.jpeg(2, 640, 480, q, 30.0))).convert("RGB")
        difference = ImageChops.difference(decoded, pattern.picture(2, 640, 480, q, 30.0))
        return sum(ImageStat.Stat(difference).mean)

    assert pattern.picture(2, 640, 480, 6, 30.0).size == reference.size
    assert error(6) < error(20) < error(45)


def test_vflip_and_hmirror_turn_the_picture_around():
    pattern = frames.TestPattern("test")
    upright = pattern.picture(4, 320, 240, 10, 30.0)
    flipped = apply_look(upright, Look(vflip=True))
    mirrored = apply_look(upright, Look(hmirror=True))
    both = apply_look(upright, Look(vflip=True, hmirror=True))
    assert ImageChops.difference(flipped, ImageOps.flip(upright)).getbbox() is None
    assert ImageChops.difference(mirrored, ImageOps.mirror(upright)).getbbox() is None
    assert ImageChops.difference(both, upright.rotate(180)).getbbox() is None
    assert flipped.getpixel((10, 5)) != upright.getpixel((10, 5))  # bars on top, the grey ramp at the bottom
    assert mirrored.getpixel((5, 5)) == upright.getpixel((319 - 5, 5))


@pytest.mark.parametrize(
    ("look", "check"),
    [
        (Look(brightness=2), lambda new, old: new > old),
        (Look(ae_level=-3), lambda new, old: new < old),
        (Look(special_effect=1), lambda new, old: abs(new - (765 - old)) < 6),
        (Look(brightness=9), lambda new, old: new == old),  # the OV5640 writes 0 outside -3..3
    ],
)
def test_brightness_exposure_and_effects_change_pixels(look, check):
    picture = frames.TestPattern("test").picture(1, 320, 240, 10, 30.0)
    point = (100, 200)  # on the grey ramp
    assert check(sum(apply_look(picture, look).getpixel(point)), sum(picture.getpixel(point)))


def test_grayscale_effect_and_saturation():
    picture = frames.TestPattern("test").picture(1, 320, 240, 10, 30.0)
    red, green, blue = apply_look(picture, Look(special_effect=2)).getpixel((10, 10))
    assert red == green == blue
    assert len(set(apply_look(picture, Look(saturation=-4)).getpixel((230, 10)))) == 1


def test_padding_keeps_a_valid_jpeg_of_exactly_that_size():
    small = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(small, "JPEG")
    data = small.getvalue()
    for size in (len(data) + 70, len(data) + 65537 + 3, len(data) + 200_000):
        padded = pad_to(data, size, b"hostsim note=1")
        assert len(padded) == size
        assert frame_note(padded) == {"note": "1"}
        assert Image.open(io.BytesIO(padded)).getpixel((3, 3)) == Image.open(io.BytesIO(data)).getpixel((3, 3))
