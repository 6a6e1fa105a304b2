"""Writing frames into a container with PyAV (FFmpeg's libraries, bundled in its wheel): the recorded JPEGs as they
are (MJPEG in Matroska or AVI), or decoded and re-encoded to H.264 in MP4. Every frame carries its own timestamp, so
a camera whose rate varied gives a variable-frame-rate file that plays at the speed it was recorded."""

from __future__ import annotations

import abc
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
import av.filter

from ..jpeg import inspect
from .formats import Format

MS = Fraction(1, 1000)
CRF = 23  # x264's default quality: visually clean camera footage at a fraction of the JPEG bytes
PRESET = "veryfast"
KEYFRAME_S = 2.0  # at most this far to the previous keyframe, so players seek quickly
MAX_AVI_RATE = 120


class Output(abc.ABC):
    """An open export file; ``write`` each frame with its start and duration in milliseconds, then ``close``."""

    def __init__(self, path: Path, fmt: Format, metadata: dict[str, str]) -> None:
        options = {"movflags": "+faststart"} if fmt.container == "mp4" else {}
        self.container = av.open(str(path), "w", format=fmt.container, options=options)
        self.container.metadata.update(metadata)

    @abc.abstractmethod
    def write(self, jpeg: bytes, at_ms: int, duration_ms: int) -> bool:
        """Add one frame; False when it cannot be used (a JPEG the decoder refuses), and nothing was written."""

    def close(self) -> None:
        self.container.close()

    def abort(self) -> None:
        """Close without caring whether the file is complete (it is deleted after)."""
        try:
            self.container.close()
        except (av.FFmpegError, OSError):
            pass


class Remux(Output):
    """The recorded JPEGs, byte for byte, as MJPEG packets. Matroska keeps millisecond timestamps; AVI has one
    frame rate (``rate``), so each frame goes to the nearest slot of it and skipped slots become empty frames,
    which players show as the previous picture."""

    def __init__(self, path: Path, fmt: Format, metadata: dict[str, str], first: bytes, rate: int) -> None:
        super().__init__(path, fmt, metadata)
        info = inspect(first)
        self.time_base = MS if fmt.container != "avi" else Fraction(1, max(1, min(MAX_AVI_RATE, rate)))
        self.stream = self.container.add_stream("mjpeg", rate=max(1, rate))
        self.stream.width, self.stream.height = info.width, info.height
        self.stream.pix_fmt = "yuvj420p"
        self.stream.time_base = self.time_base
        self.last_pts = -1

    def write(self, jpeg: bytes, at_ms: int, duration_ms: int) -> bool:
        pts = max(self.last_pts + 1, round(at_ms * MS / self.time_base))
        end = max(pts + 1, round((at_ms + duration_ms) * MS / self.time_base))
        packet = av.Packet(jpeg)
        packet.stream = self.stream
        packet.time_base = self.time_base
        packet.pts = packet.dts = pts
        packet.duration = end - pts
        packet.is_keyframe = True
        self.container.mux(packet)
        self.last_pts = pts
        return True


class H264(Output):
    """Decodes each JPEG, fits it into the first frame's size (later frames of another size are scaled and
    padded, keeping their shape), converts to limited-range 4:2:0 (what browsers and phones decode) and encodes
    with x264, each frame at its own millisecond."""

    def __init__(self, path: Path, fmt: Format, metadata: dict[str, str], first: bytes, rate: int) -> None:
        super().__init__(path, fmt, metadata)
        info = inspect(first)
        self.width, self.height = max(2, info.width & ~1), max(2, info.height & ~1)
        gop = max(1, round(rate * KEYFRAME_S))
        self.stream = self.container.add_stream(
            "libx264", rate=max(1, rate), options={"crf": str(CRF), "preset": PRESET, "g": str(gop)}
        )
        self.stream.width, self.stream.height = self.width, self.height
        self.stream.pix_fmt = "yuv420p"
        self.stream.time_base = MS
        context = self.stream.codec_context
        context.time_base = MS
        context.color_range = 1  # MPEG (limited)
        context.colorspace = 6  # SMPTE 170M, the BT.601 matrix JPEG uses
        context.thread_type = "FRAME"  # x264's frame threads use every core; its slice threads hardly two
        self.decoder = av.CodecContext.create("mjpeg", "r")
        self.graphs: dict[tuple[int, int, str], av.filter.Graph] = {}
        self.durations: dict[int, int] = {}  # pts -> duration, for the packets x264 hands back later

    def write(self, jpeg: bytes, at_ms: int, duration_ms: int) -> bool:
        try:
            decoded = self.decoder.decode(av.Packet(jpeg))
        except av.FFmpegError:
            return False
        if not decoded:
            return False
        picture = self._fit(decoded[0])
        picture.pts = at_ms
        picture.time_base = MS
        self.durations[at_ms] = max(1, duration_ms)
        self._mux(self.stream.encode(picture))
        return True

    def close(self) -> None:
        self._mux(self.stream.encode(None))
        super().close()

    def _fit(self, picture: av.VideoFrame) -> av.VideoFrame:
        key = (picture.width, picture.height, picture.format.name)
        graph = self.graphs.get(key)
        if graph is None:
            graph = self.graphs[key] = self._graph(picture.width, picture.height, picture.format)
        picture.pts = 0
        graph.vpush(picture)
        return graph.vpull()

    def _graph(self, width: int, height: int, pix_fmt: av.VideoFormat) -> av.filter.Graph:
        graph = av.filter.Graph()
        chain = [
            graph.add_buffer(width=width, height=height, format=pix_fmt, time_base=MS),
            graph.add(
                "scale",
                f"{self.width}:{self.height}:force_original_aspect_ratio=decrease:force_divisible_by=2"
                ":out_range=tv:out_color_matrix=bt601",
            ),
            graph.add("pad", f"{self.width}:{self.height}:(ow-iw)/2:(oh-ih)/2"),
            graph.add("format", "yuv420p"),
            graph.add("buffersink"),
        ]
        for a, b in pairwise(chain):
            a.link_to(b)
        graph.configure()
        return graph

    def _mux(self, packets: list[av.Packet[Any]]) -> None:
        for packet in packets:
            if packet.pts is not None:
                packet.duration = self.durations.pop(packet.pts, packet.duration)
            self.container.mux(packet)


def open_output(path: Path, fmt: Format, metadata: dict[str, str], first: bytes, rate: int) -> Output:
    """An export file of ``fmt`` at ``path``, laid out for the first frame and a typical rate (frames/s)."""
    kind = H264 if fmt.reencode else Remux
    return kind(path, fmt, metadata, first, rate)
