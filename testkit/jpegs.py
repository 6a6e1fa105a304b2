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


def scene_jpegs(count: int, size: tuple[int, int] = (1280, 720), quality: int = 85) -> list[bytes]:
    """`count` frames of camera-like footage: a fixed textured scene, a ball moving across it, sensor noise and a
    frame counter, so H.264 sees what it sees from a real camera (mostly still, some motion, grain)."""
    width, height = size
    rng = random.Random(width * height + count)
    scene = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(scene)
    for _ in range(40):  # furniture: blocks of colour with texture
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(width // 20, width // 4), rng.randrange(height // 20, height // 4)
        draw.rectangle((x, y, x + w, y + h), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    scene = Image.blend(scene, Image.effect_noise(size, 40).convert("RGB"), 0.05)
    frames = []
    radius = height // 10
    for i in range(count):
        image = scene.copy()
        grain = Image.effect_noise((width // 4, height // 4), 8 + i % 5).convert("RGB").resize(size)
        image = Image.blend(image, grain, 0.03)
        draw = ImageDraw.Draw(image)
        x = (i * width // 90) % (width + 2 * radius) - radius
        y = height // 2 + round(height / 4 * ((i % 60) / 30 - 1))
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(230, 60, 40))
        draw.text((10, 10), f"{i:06d}", fill=(255, 255, 255), font_size=max(12, height // 20))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        frames.append(out.getvalue())
    return frames
