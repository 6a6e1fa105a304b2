"""MJPEG multipart framing shared by the live stream and playback: one boundary, one part layout, one ending."""

from __future__ import annotations

BOUNDARY = "camhubframe"
CONTENT_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
# The live stream opens with a boundary and every part ends with the next one, so a browser sees each frame's
# terminating boundary at once and shows it without waiting for the following frame.
PREAMBLE = f"--{BOUNDARY}\r\n".encode()
_TRAILER = f"\r\n--{BOUNDARY}\r\n".encode()
# Ends a stream: the close delimiter. Every stream ends with it, live or played back, so a client that reads to
# the end (ffmpeg, VLC, OpenCV, GStreamer) stops cleanly instead of waiting on a silent connection.
CLOSE = f"\r\n--{BOUNDARY}--\r\n".encode()
END_HEADER = "X-End-Of-Stream"


def _head(size: int, seq: int | None, timestamp: str, extra: str = "") -> bytes:
    seq_line = "" if seq is None else f"X-Frame-Seq: {seq}\r\n"
    return (
        f"Content-Type: image/jpeg\r\nContent-Length: {size}\r\n{seq_line}X-Timestamp: {timestamp}\r\n{extra}\r\n"
    ).encode()


def live_part(jpeg: bytes, seq: int, received_at: float) -> bytes:
    """One frame of the endless stream: headers, JPEG, and the boundary that opens the next part."""
    return b"".join((_head(len(jpeg), seq, f"{received_at:.3f}"), jpeg, _TRAILER))


def last_part(jpeg: bytes, seq: int, received_at: float, reason: str) -> bytes:
    """The camera's last frame again, marked with why the stream ends, followed by the close delimiter: every
    client sees a complete final part and then a well-formed end, the browser keeps showing the last picture."""
    extra = f"{END_HEADER}: {reason}\r\n"
    return b"".join((_head(len(jpeg), seq, f"{received_at:.3f}", extra), jpeg, CLOSE))


def recorded_part_header(size: int, seq: int | None, recorded_at: float, first: bool) -> bytes:
    """Boundary and headers of one recorded part. Each starts with its boundary, so the last one can be followed
    by CLOSE and a download is a complete multipart file."""
    lead = f"--{BOUNDARY}\r\n" if first else f"\r\n--{BOUNDARY}\r\n"
    return lead.encode() + _head(size, seq, f"{recorded_at:.6f}")
