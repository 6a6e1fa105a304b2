"""Reduced copies of frames for thumbnails, dashboards and detectors (`?width=`).

libjpeg's DCT scaling (Pillow's draft mode) decodes a 720p frame straight at 1/2, 1/4 or 1/8 size, so shrinking
costs a few ms instead of a full decode; each size of a camera's newest frame is made once, in a worker thread,
however many viewers ask for it.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

from PIL import Image

MIN_WIDTH = 16
MAX_WIDTH = 4096
QUALITY = 80


def parse_width(raw: str | None) -> int | None:
    """`?width=` as a whole number of pixels in [MIN_WIDTH, MAX_WIDTH]; None when absent."""
    if raw is None:
        return None
    try:
        width = int(raw)
    except ValueError:
        raise ValueError(f"width={raw[:40]!r} is not a whole number of pixels") from None
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise ValueError(f"width={width} must be between {MIN_WIDTH} and {MAX_WIDTH} pixels")
    return width


def shrink(jpeg: bytes, width: int) -> bytes:
    """`jpeg` scaled to `width` pixels wide, aspect kept; the frame itself when it is not wider than that."""
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            if image.width <= width:
                return jpeg
            height = max(1, round(image.height * width / image.width))
            image.draft("RGB", (width, height))  # DCT scaling: decodes at the smallest 1/2^n size >= the target
            small = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR, reducing_gap=2.0)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ResizeError(f"cannot decode the frame to resize it: {exc}") from None
    out = io.BytesIO()
    small.save(out, "JPEG", quality=QUALITY)
    return out.getvalue()


class ResizeError(Exception):
    """A frame whose markers were fine but whose picture Pillow cannot decode."""


# A reduced frame and its multipart part, made together so that viewers and snapshots share one copy.
Variant = tuple[bytes, bytes]


class Sizes:
    """The reduced copies of one camera's newest frame, by width: made once per frame and width, on demand."""

    def __init__(self) -> None:
        self._made: dict[int, tuple[int, asyncio.Future[Variant]]] = {}

    def clear(self) -> None:
        self._made.clear()

    async def get(self, seq: int, width: int, make: Callable[[], Variant]) -> Variant:
        """The copy of frame `seq` at `width`, from `make()` in a worker thread unless another viewer asked first."""
        made = self._made.get(width)
        if made is None or made[0] != seq:
            future = asyncio.ensure_future(asyncio.to_thread(make))
            made = self._made[width] = (seq, future)
        return await asyncio.shield(made[1])
