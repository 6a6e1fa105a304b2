"""JPEG sanity checks: a frame is stored and shown only if it is a complete SOI..EOI image."""

from __future__ import annotations

import re
from dataclasses import dataclass

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
_SOS = 0xDA
# Markers that carry no length field.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# Start-of-frame markers (all but DHT 0xC4, JPG 0xC8 and DAC 0xCC) hold the image size.
_SOF = frozenset({*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC})
_FILL = re.compile(rb"\xff+")  # a marker's 0xFF and any fill bytes before it, skipped in C
# Cameras write about 10 segments before the scan, phones about 20; crafted frames of millions of empty
# segments must not keep the event loop walking them.
MAX_SEGMENTS = 128


class JpegError(ValueError):
    """The bytes are not a complete JPEG; the message says why."""


@dataclass(frozen=True)
class JpegInfo:
    width: int
    height: int


def inspect(data: bytes) -> JpegInfo:
    """Walks the header segments up to the scan, so truncated or foreign data is refused cheaply."""
    if len(data) < 4 or not data.startswith(SOI):
        raise JpegError("not a JPEG: the body does not start with the SOI marker FFD8")
    if not data.endswith(EOI):
        raise JpegError(f"truncated JPEG: {len(data)} bytes without the EOI marker FFD9 at the end")
    width = height = 0
    pos, end = 2, len(data) - 2
    for _ in range(MAX_SEGMENTS):
        fill = _FILL.match(data, pos, end)
        if fill is None or fill.end() + 3 > end:
            raise JpegError(f"corrupt JPEG: expected a marker at byte {pos}")
        pos = fill.end() - 1  # the marker's own 0xFF
        marker = data[pos + 1]
        if marker in _STANDALONE:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > end:
            raise JpegError(f"truncated JPEG: segment FF{marker:02X} at byte {pos} runs past the end")
        if marker in _SOF and length >= 7:
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
        if marker == _SOS:
            break
        pos += 2 + length
    else:
        raise JpegError(f"corrupt JPEG: more than {MAX_SEGMENTS} segments before the image data")
    if not width or not height:
        raise JpegError("corrupt JPEG: no frame header (SOF) with the image size before the scan")
    return JpegInfo(width, height)
