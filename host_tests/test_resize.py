"""camhub.resize: reduced frames keep their aspect, are never enlarged, and a bad frame is a clear error."""

import asyncio
import io

import pytest
from PIL import Image

from camhub.resize import ResizeError, Sizes, parse_width, shrink
from testkit.jpegs import make_jpeg

HD = make_jpeg("hd", size=(1280, 720), quality=60, noise=20)


@pytest.mark.parametrize(("width", "size"), [(320, (320, 180)), (641, (641, 361)), (16, (16, 9))])
def test_shrink_keeps_the_aspect(width, size):
    assert Image.open(io.BytesIO(shrink(HD, width))).size == size


def test_shrink_never_enlarges():
    assert shrink(HD, 1280) is HD and shrink(HD, 4096) is HD


def test_a_frame_pillow_cannot_decode_is_a_resize_error():
    with pytest.raises(ResizeError, match="cannot decode"):
        shrink(b"\xff\xd8\xff\xdb" + bytes(100) + b"\xff\xd9", 320)


@pytest.mark.parametrize(
    ("raw", "message"), [("0", "between 16 and 4096"), ("5000", "between 16 and 4096"), ("wide", "whole number")]
)
def test_parse_width_refuses_what_it_cannot_make(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_width(raw)
    assert parse_width(None) is None and parse_width("320") == 320


async def test_sizes_make_each_copy_once_for_concurrent_askers():
    calls = []

    def make():
        calls.append(1)
        return b"small", b"part"

    sizes = Sizes()
    results = await asyncio.gather(*(sizes.get(1, 320, make) for _ in range(8)))
    assert results == [(b"small", b"part")] * 8 and len(calls) == 1
    await sizes.get(2, 320, make)
    assert len(calls) == 2
