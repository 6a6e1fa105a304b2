"""A real JPEG of an exact size whose COM segment carries its send time.

Viewers read the time back from the bytes they receive, so capture-to-viewer latency is measured the same way
through any server, without trusting headers the server may drop or rewrite.
"""

from __future__ import annotations

import io
import random
import struct

from PIL import Image

MAGIC = b"CSBENCH1"
_STAMP = struct.Struct("<Q")
_COM_FIXED = 2 + 2 + len(MAGIC) + _STAMP.size  # marker, length field, magic, stamp
_SEARCH_SPAN = 128  # the COM segment sits right after SOI and APP0, well inside this


def _scene(width: int, height: int) -> Image.Image:
    """Smooth colour blobs with mild grain: compresses like a camera picture, not like noise or a flat fill."""
    rng = random.Random(5640)
    coarse = Image.frombytes("RGB", (16, 12), rng.randbytes(16 * 12 * 3))
    picture = coarse.resize((width, height), Image.Resampling.BICUBIC)
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height)).convert("RGB")
    return Image.blend(picture, grain, 0.12)


def _encode_at_most(limit: int) -> bytes:
    """The best-quality baseline JPEG of the scene that fits in `limit` bytes."""
    width, height = 800, 600
    while width >= 16:
        scene = _scene(width, height)
        for quality in range(95, 4, -5):
            out = io.BytesIO()
            scene.save(out, "JPEG", quality=quality)
            data = out.getvalue()
            if len(data) <= limit:
                return data
        width, height = width // 2, height // 2
    raise ValueError(f"cannot make a JPEG of at most {limit} bytes")


def build(size: int) -> bytearray:
    """A complete JPEG (SOI..EOI) of exactly `size` bytes with a zeroed stamp, ready for `stamp()`."""
    if size < 1024:
        raise ValueError(f"frame size {size} is too small for a JPEG with a stamp (minimum 1024)")
    jpeg = _encode_at_most(size - _COM_FIXED)
    if jpeg[:4] != b"\xff\xd8\xff\xe0":
        raise ValueError("Pillow did not write a JFIF APP0 segment after SOI")
    after_app0 = 4 + int.from_bytes(jpeg[4:6], "big")
    padding = size - len(jpeg) - _COM_FIXED
    body = MAGIC + bytes(_STAMP.size) + b" " * padding
    if len(body) + 2 > 0xFFFF:
        raise ValueError(f"frame size {size} needs more padding than one COM segment holds")
    com = b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body
    return bytearray(jpeg[:after_app0] + com + jpeg[after_app0:])


def stamp_offset(frame: bytes | bytearray) -> int:
    """Where `stamp()` writes in a frame made by `build()`."""
    at = frame.find(MAGIC, 0, _SEARCH_SPAN)
    if at < 0:
        raise ValueError("frame has no bench stamp")
    return at + len(MAGIC)


def stamp(frame: bytearray, offset: int, t_ns: int) -> None:
    _STAMP.pack_into(frame, offset, t_ns)


def read_stamp(data: bytes) -> int | None:
    """The send time in a received frame, or None when the frame carries no stamp."""
    at = data.find(MAGIC, 0, _SEARCH_SPAN)
    if at < 0:
        return None
    return _STAMP.unpack_from(data, at + len(MAGIC))[0]
