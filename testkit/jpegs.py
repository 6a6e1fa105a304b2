"""Real JPEGs (Pillow) for tests and benchmarks: labelled images, noise frames as files, seeded ones, tagged ones.

(The guest-side probes make their own fake JPEG bytes, `fakes.synthetic_jpeg`: Pillow does not run in a guest.)
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw


def make_jpeg(label: str = "", size: tuple[int, int] = (160, 120), quality: int = 80, noise: int = 0) -> bytes:
    """A real JPEG with `label` drawn in; `noise` > 0 adds texture to reach realistic frame sizes."""
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


def seeded_jpeg(seed: int, size: int = 48) -> bytes:
    """A small square JPEG of random pixels: the same seed, the same bytes."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (size, size), bytes(rng.randrange(256) for _ in range(size * size * 3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def tagged(jpeg: bytes, tag: str, pad: int = 0) -> bytes:
    """`jpeg` made unique by a COM segment after SOI (still a valid image)."""
    body = tag.encode() + b" " * pad
    return jpeg[:2] + b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]


def make_frames(folder: Path, count: int, size: tuple[int, int] = (320, 240)) -> list[bytes]:
    """`count` distinct JPEG files frame000.jpg... (noise makes every one different); returns their bytes in order."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(count)
    frames = []
    for i in range(count):
        image = Image.effect_noise(size, 40 + i).convert("RGB")
        ImageDraw.Draw(image).rectangle((8, 8, 8 + 12 * i, 40), fill=(rng.randrange(256), 60, 200))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=70)
        data = out.getvalue()
        (folder / f"frame{i:03d}.jpg").write_bytes(data)
        frames.append(data)
    assert len(set(frames)) == count
    return frames
