"""What the virtual OV5640 sees: a moving test pattern drawn with Pillow, or JPEG files played in a loop."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

_BARS = ((192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192), (192, 0, 0), (0, 0, 192))


def preload() -> None:
    """Load Pillow's format plugins now (it does on the first save), before code.py runs: hostsim.runner
    forgets the modules a run of code.py imported, and the camera's encoder must survive a reload."""
    Image.init()
    import hostsim.sensor  # noqa: F401


def pillow_quality(esp_quality: int) -> int:
    """esp32-camera quality (2..55, lower = better = bigger) to Pillow's (1..95, higher = better).

    Tuned so the test pattern behaves like the OV5640: at HD, quality 10 gives ~95 KB, 4 still fits the
    width*height/5 frame buffer and 2 overflows it.
    """
    return max(10, min(95, round(100 - 2 * esp_quality)))


class TestPattern:
    """Colour bars, a sweeping block, sensor noise and the frame number; backgrounds cached per size."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._backgrounds: dict[tuple[int, int], tuple[Image.Image, Image.Image, ImageFont.FreeTypeFont]] = {}

    def _background(self, width: int, height: int) -> tuple[Image.Image, Image.Image, ImageFont.FreeTypeFont]:
        cached = self._backgrounds.get((width, height))
        if cached is None:
            image = Image.new("RGB", (width, height))
            draw = ImageDraw.Draw(image)
            bar_bottom = height * 2 // 3
            for i, colour in enumerate(_BARS):
                draw.rectangle((i * width // 7, 0, (i + 1) * width // 7, bar_bottom), fill=colour)
            for x in range(width):
                shade = 255 * x // max(1, width - 1)
                draw.line((x, bar_bottom, x, height), fill=(shade, shade, shade))
            strip = max(2, height * 15 * min(width, 1280) // 128000)  # less sensor noise at low resolution
            noise = Image.merge("RGB", [Image.effect_noise((width * 2, strip), 32) for _ in range(3)])
            font = ImageFont.load_default(size=max(10, height // 6))
            if not isinstance(font, ImageFont.FreeTypeFont):
                raise RuntimeError("hostsim's test pattern needs Pillow built with FreeType")
            cached = (image, noise, font)
            self._backgrounds[(width, height)] = cached
        return cached

    def jpeg(self, index: int, width: int, height: int, esp_quality: int, fps: float) -> bytes:
        background, noise, font = self._background(width, height)
        image = background.copy()
        strip = noise.height
        shift = (index * 7) % width
        image.paste(noise.crop((shift, 0, shift + width, strip)), (0, height - strip))
        draw = ImageDraw.Draw(image)
        period = 2 * width
        x = (index * max(1, width // 45)) % period
        x = x if x < width else period - x
        block = max(4, width // 10)
        draw.rectangle((x - block // 2, height // 3, x + block // 2, height // 3 + block), fill=(255, 255, 255))
        draw.text(
            (width // 20, height // 20),
            f"{index:06d}",
            font=font,
            fill=(255, 255, 255),
            stroke_width=max(1, height // 180),
            stroke_fill=(0, 0, 0),
        )
        small = max(8, height // 24)
        draw.text(
            (width // 20, height // 20 + height // 5),
            f"{self.label}  {width}x{height}  q{esp_quality}  t={index / fps:.2f}s",
            font=font.font_variant(size=small),
            fill=(255, 255, 255),
            stroke_width=1,
            stroke_fill=(0, 0, 0),
        )
        out = io.BytesIO()
        image.save(out, "JPEG", quality=pillow_quality(esp_quality))
        return out.getvalue()


class JpegFolder:
    """The JPEG files of a folder in name order, looping; size and quality are whatever the files have."""

    def __init__(self, folder: Path) -> None:
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg") and p.is_file())
        if not self.files:
            raise ValueError(f"--frames {folder}: no .jpg/.jpeg files in that folder")
        self._cache: dict[int, bytes] = {}
        self._cached_bytes = 0

    def jpeg(self, index: int, width: int, height: int, esp_quality: int, fps: float) -> bytes:
        slot = index % len(self.files)
        data = self._cache.get(slot)
        if data is None:
            data = self.files[slot].read_bytes()
            if self._cached_bytes + len(data) <= 64_000_000:
                self._cache[slot] = data
                self._cached_bytes += len(data)
        return data
