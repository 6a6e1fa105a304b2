"""camhub.framing: the one MJPEG layout the live stream and playback share, and how a stream ends."""

import pytest

from camhub.framing import CLOSE, PREAMBLE, last_part, live_part, recorded_part_header

JPEG = b"\xff\xd8JPEG\xff\xd9"


@pytest.mark.parametrize("seq", [1, 123456])
def test_live_part_layout(seq):
    assert (
        live_part(JPEG, seq, 1700000000.5)
        == (
            f"Content-Type: image/jpeg\r\nContent-Length: 8\r\nX-Frame-Seq: {seq}\r\n"
            f"X-Timestamp: 1700000000.500\r\n\r\n"
        ).encode()
        + JPEG
        + b"\r\n--camhubframe\r\n"
    )


def test_a_live_stream_ends_with_a_complete_marked_part_and_the_close_delimiter():
    stream = PREAMBLE + live_part(JPEG, 1, 1.0) + last_part(JPEG, 1, 1.0, "camera offline")
    assert stream.endswith(b"X-End-Of-Stream: camera offline\r\n\r\n" + JPEG + b"\r\n--camhubframe--\r\n")
    assert CLOSE == b"\r\n--camhubframe--\r\n"
    # Read as RFC 2046 says: between the opening delimiter and the close delimiter, two complete body parts.
    body = b"\r\n" + stream
    inner, _, epilogue = body.partition(CLOSE)
    parts = inner.split(b"\r\n--camhubframe\r\n")[1:]
    assert epilogue == b"" and len(parts) == 2
    for part in parts:
        head, _, data = part.partition(b"\r\n\r\n")
        assert data == JPEG and b"Content-Length: 8" in head


def test_recorded_parts_open_with_their_boundary():
    assert recorded_part_header(8, None, 2.5, True) == (
        b"--camhubframe\r\nContent-Type: image/jpeg\r\nContent-Length: 8\r\nX-Timestamp: 2.500000\r\n\r\n"
    )
    assert recorded_part_header(8, 7, 2.5, False).startswith(b"\r\n--camhubframe\r\n")
    assert b"X-Frame-Seq: 7\r\n" in recorded_part_header(8, 7, 2.5, False)
