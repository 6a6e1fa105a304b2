"""camhub.jpeg: complete frames pass with their size; truncated, foreign or corrupt bytes are refused."""

import io

import pytest
from PIL import Image, ImageDraw

from camhub.jpeg import JpegError, inspect


def make_jpeg(label: str = "", size: tuple[int, int] = (160, 120), quality: int = 80, noise: int = 0) -> bytes:
    """A real JPEG (Pillow) with `label` drawn in; `noise` > 0 adds texture to reach realistic frame sizes."""
    if noise:
        image = Image.effect_noise(size, noise).convert("RGB")
    else:
        image = Image.new("RGB", size, (30, 60, 90))
    draw = ImageDraw.Draw(image)
    draw.rectangle((4, 4, size[0] - 5, 40), fill=(250, 250, 250))
    draw.text((10, 10), label, fill=(0, 0, 0), font_size=24)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def test_complete_jpeg_reports_its_size():
    info = inspect(make_jpeg("1", size=(320, 240)))
    assert (info.width, info.height) == (320, 240)


def test_progressive_jpeg_is_accepted():
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, "JPEG", progressive=True)
    assert inspect(out.getvalue()).width == 64


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "not a JPEG"),
        (make_jpeg("t")[:-200], "truncated JPEG"),
        (make_jpeg("t")[:300] + b"\xff\xd9", "truncated JPEG"),
        (b"\xff\xd8\xff\xd9", "corrupt JPEG"),
        (b"\xff\xd8" + b"\x00" * 40 + b"\xff\xd9", "corrupt JPEG"),
        (b"\xff\xd8\xff\xda\x00\x02" + b"\x00" * 10 + b"\xff\xd9", "no frame header"),
    ],
)
def test_bad_bytes_are_refused_with_a_reason(data, message):
    with pytest.raises(JpegError, match=message):
        inspect(data)
