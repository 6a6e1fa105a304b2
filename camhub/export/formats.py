"""The export formats: which container, whether the frames are re-encoded, and what to expect of the size."""

from __future__ import annotations

from dataclasses import dataclass

CONTAINER_BYTES = 64 * 1024  # headers, index and cues of a short file
MP4_RATIO = 0.25  # H.264 (CRF 23) bytes per recorded JPEG byte on camera-like footage (make bench: 0.23-0.25)


@dataclass(frozen=True)
class Format:
    name: str
    container: str  # FFmpeg's muxer
    extension: str
    mime: str
    reencode: bool
    per_frame_bytes: int  # container overhead per frame

    def estimate(self, frames: int, source_bytes: int) -> int:
        """Expected file size for ``frames`` recorded frames of ``source_bytes`` in all."""
        payload = round(source_bytes * MP4_RATIO) if self.reencode else source_bytes
        return payload + frames * self.per_frame_bytes + CONTAINER_BYTES


FORMATS = {
    fmt.name: fmt
    for fmt in (
        Format("mp4", "mp4", ".mp4", "video/mp4", True, 16),
        Format("mkv", "matroska", ".mkv", "video/x-matroska", False, 16),
        Format("avi", "avi", ".avi", "video/x-msvideo", False, 24),
    )
}


def get(name: str) -> Format:
    """The format called ``name``; ValueError listing the choices otherwise."""
    try:
        return FORMATS[name.lower()]
    except KeyError:
        raise ValueError(f"format={name!r} is not one of {', '.join(FORMATS)}") from None


def for_path(path: str) -> Format | None:
    """The format a file name's extension asks for, if any."""
    lower = path.lower()
    return next((fmt for fmt in FORMATS.values() if lower.endswith(fmt.extension)), None)
