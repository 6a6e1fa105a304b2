"""What the virtual OV5640 sees: a moving test pattern drawn with Pillow, or JPEG files played in a loop.

The test pattern's JPEG size follows the OV5640's (`ov5640_jpeg_bytes`), so rate control meets the frame sizes a
board would give it; the picture follows the sensor's knobs (flip, mirror, brightness, contrast, saturation,
exposure level, special effect).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

_BARS = ((192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192), (192, 0, 0), (0, 0, 192))

# JPEG bytes of an OV5640 frame ~= width * height / (SCENE * quality ** 0.75):
# - the 0.75 power of the quality number and the pixel count: Jeff Epler's measurements of OV5640 JPEGs over a
#   range of qualities and frame sizes (adafruit/Adafruit_CircuitPython_OV5640 issue #2, 2021: size grows as
#   q ** -0.75, and w * h / (2 * q ** 0.75) came out about 10% above his files, hence SCENE = 2.2);
# - the same exponent in ESPHome's user report (esphome/issues issue #3570, 2022): SVGA frames of about 40 KB at
#   quality 6 and 27 KB at quality 10, a ratio of 1.48 where (10 / 6) ** 0.75 = 1.47;
# - at HD and quality 6 (CamStream's defaults) that is 109 KB, inside the 60-120 KB boards give there, and every
#   size fits the w * h / 5 frame buffer esp32-camera allocates (cam_hal.c) from quality 4 up, as on the board.
SCENE = 2.2
QUALITY_EXPONENT = 0.75
_DRIFT = 0.03  # a scene is never still: sizes wander this much, slowly, plus 1% from frame to frame


def ov5640_jpeg_bytes(width: int, height: int, quality: int, index: int = 0, fps: float = 30.0) -> int:
    """The size of frame `index` of a busy scene at this frame size and quality number (2..63)."""
    base = width * height / (SCENE * math.pow(max(1, quality & 0x3F), QUALITY_EXPONENT))
    t = index / fps
    wander = _DRIFT * math.sin(2 * math.pi * t / 7.0) + 0.01 * math.sin(index * 2.399)
    return round(base * (1.0 + wander))


def preload() -> None:
    """Load Pillow's format plugins now (it does on the first save), before code.py runs: hostsim.runner
    forgets the modules a run of code.py imported, and the camera's encoder must survive a reload."""
    Image.init()
    import hostsim.sensor  # noqa: F401


@dataclass(frozen=True)
class Look:
    """The sensor knobs that change the picture, with the OV5640's ranges (esp32-camera sensors/ov5640.c)."""

    vflip: bool = False
    hmirror: bool = False
    brightness: int = 0  # -3..3; the sensor writes 0 for other values
    contrast: int = 0  # -3..3
    saturation: int = 0  # -4..4
    ae_level: int = 0  # -5..5: the exposure target
    special_effect: int = 0  # 0 none, 1 negative, 2 grayscale, 3 red, 4 green, 5 blue tint, 6 sepia


_TINTS = {3: (1.0, 0.55, 0.55), 4: (0.55, 1.0, 0.55), 5: (0.55, 0.55, 1.0), 6: (1.0, 0.85, 0.6)}


def apply_look(image: Image.Image, look: Look) -> Image.Image:
    """The picture as the sensor's image processor would deliver it with these knobs."""
    if look == Look():
        return image
    if look.vflip:
        image = ImageOps.flip(image)
    if look.hmirror:
        image = ImageOps.mirror(image)
    brightness = look.brightness if -3 <= look.brightness <= 3 else 0
    gain = 1.12**look.ae_level
    if brightness or look.ae_level:
        offset = 16 * brightness
        image = image.point([max(0, min(255, round(v * gain) + offset)) for v in range(256)] * 3)
    if look.contrast:
        image = ImageEnhance.Contrast(image).enhance(1.0 + 0.25 * look.contrast)
    if look.saturation:
        image = ImageEnhance.Color(image).enhance(max(0.0, 1.0 + 0.25 * look.saturation))
    effect = look.special_effect
    if effect == 1:
        image = ImageOps.invert(image)
    elif effect == 2:
        image = ImageOps.grayscale(image).convert("RGB")
    elif effect in _TINTS:
        grey = ImageOps.grayscale(image)
        image = Image.merge("RGB", [grey.point(lambda v, k=k: round(v * k)) for k in _TINTS[effect]])
    return image


def _after_app0(jpeg: bytes) -> int:
    """Where the segments after SOI and a JFIF APP0 start."""
    if jpeg[2:4] == b"\xff\xe0":
        return 4 + int.from_bytes(jpeg[4:6], "big")
    return 2


def pad_to(jpeg: bytes, size: int, note: bytes) -> bytes:
    """`jpeg` with comment (COM) segments after its JFIF header, the first holding `note`, grown to `size` bytes
    (or just big enough for the note)."""
    missing = max(size - len(jpeg), 4 + len(note))
    segments = []
    content = note
    while missing >= 4:
        body = min(missing - 4, 65533)
        if 0 < missing - 4 - body < 4:
            body -= 4  # leave room for a whole last segment
        segments.append(b"\xff\xfe" + (body + 2).to_bytes(2, "big") + content[:body] + bytes(body - len(content)))
        missing -= body + 4
        content = b""
    at = _after_app0(jpeg)
    return jpeg[:at] + b"".join(segments) + jpeg[at:]


class TestPattern:
    """Colour bars, a sweeping block, sensor noise and the frame number; backgrounds cached per size.

    Each frame is encoded with Pillow at the quality that lands just under the OV5640's size for that frame
    (`ov5640_jpeg_bytes`) and padded to it with a comment segment that names frame, size and quality (read it
    with `frame_note`). Pillow's quality is kept per frame size and quality number and nudged frame by frame, so
    a frame costs one encode; where even Pillow's lowest quality is bigger (tiny frames at high quality numbers:
    headers and one coefficient per block), the frame keeps that size, as a real encoder's floor.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self._backgrounds: dict[tuple[int, int], tuple[Image.Image, Image.Image, ImageFont.FreeTypeFont]] = {}
        self._pillow: dict[tuple[int, int, int], int] = {}

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

    def picture(self, index: int, width: int, height: int, esp_quality: int, fps: float) -> Image.Image:
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
        return image

    def jpeg(self, index: int, width: int, height: int, esp_quality: int, fps: float, look: Look = Look()) -> bytes:
        image = apply_look(self.picture(index, width, height, esp_quality, fps), look)
        target = ov5640_jpeg_bytes(width, height, esp_quality, index, fps)
        note = f"hostsim frame={index} size={width}x{height} quality={esp_quality}".encode()
        data = self._encode_under(image, (width, height, esp_quality), target - 4 - len(note))
        return pad_to(data, target, note)

    def _encode_under(self, image: Image.Image, key: tuple[int, int, int], target: int) -> bytes:
        pillow = self._pillow.get(key)
        if pillow is None:
            pillow = self._search(image, target)
        data = _encode(image, pillow)
        while len(data) > target and pillow > 1:
            pillow = max(1, pillow - 3)
            data = _encode(image, pillow)
        if len(data) < 0.9 * target and pillow < 95:
            pillow += 1  # the scene got simpler: try a little better next frame
        self._pillow[key] = pillow
        return data

    @staticmethod
    def _search(image: Image.Image, target: int) -> int:
        """The highest Pillow quality whose encoding of `image` fits `target` bytes (1 if none does)."""
        low, high = 1, 95
        while low < high:
            middle = (low + high + 1) // 2
            if len(_encode(image, middle)) <= target:
                low = middle
            else:
                high = middle - 1
        return low


def _encode(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def frame_note(jpeg: bytes) -> dict[str, str]:
    """The fields of the test pattern's comment segment (`frame`, `size`, `quality`), or {} if it has none."""
    at = _after_app0(jpeg)
    if jpeg[at : at + 2] != b"\xff\xfe":
        return {}
    length = int.from_bytes(jpeg[at + 2 : at + 4], "big")
    text = jpeg[at + 4 : at + 2 + length].split(b"\x00", 1)[0].decode("ascii", "replace")
    if not text.startswith("hostsim "):
        return {}
    return dict(item.split("=", 1) for item in text.split()[1:] if "=" in item)


class JpegFolder:
    """The JPEG files of a folder in name order, looping; size, quality and look are whatever the files have."""

    def __init__(self, folder: Path) -> None:
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg") and p.is_file())
        if not self.files:
            raise ValueError(f"--frames {folder}: no .jpg/.jpeg files in that folder")
        self._cache: dict[int, bytes] = {}
        self._cached_bytes = 0

    def jpeg(self, index: int, width: int, height: int, esp_quality: int, fps: float, look: Look = Look()) -> bytes:
        slot = index % len(self.files)
        data = self._cache.get(slot)
        if data is None:
            data = self.files[slot].read_bytes()
            if self._cached_bytes + len(data) <= 64_000_000:
                self._cache[slot] = data
                self._cached_bytes += len(data)
        return data
