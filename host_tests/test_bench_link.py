"""bench.link_use: the counting proxy's HTTP splitting and JPEG location, the frames, and one short real run.

The run is a smoke check (about 5 s at 500 KB/s): it proves hostsim, the proxy and the hub move real frames and
that every reported number is sane, never how fast anything is.
"""

from __future__ import annotations

import pytest

from bench import link_use
from camstream.uplink import BOUNDARY

JPEG = b"\xff\xd8" + bytes(range(256)) * 4 + b"\xff\xd9"


def multipart_request(device: bytes = b"cam1") -> bytes:
    body = (
        b"--"
        + BOUNDARY
        + b'\r\nContent-Disposition: form-data; name="deviceId"\r\n\r\n'
        + device
        + b"\r\n--"
        + BOUNDARY
        + b'\r\nContent-Disposition: form-data; name="image"; filename="frame.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + JPEG + b"\r\n--" + BOUNDARY + b"--\r\n"
    )
    head = (
        b"POST /api/v1/stream/stream HTTP/1.1\r\nHost: h\r\nX-Device-Id: " + device + b"\r\n"
        b"Content-Type: multipart/form-data; boundary=" + BOUNDARY + b"\r\nContent-Length: %d\r\n\r\n"
    ) % len(body)
    return head + body


def test_splitter_cuts_pipelined_messages_at_any_chunk_boundary() -> None:
    raw = (
        b"POST /api/v1/stream/stream HTTP/1.1\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(JPEG)
        + JPEG
    )
    stream = multipart_request() + raw
    for step in (1, 7, 100, len(stream)):
        splitter = link_use.MessageSplitter()
        messages = []
        for at in range(0, len(stream), step):
            messages += splitter.feed(stream[at : at + step], float(at))
        assert [len(head) + len(body) for head, body, _ in messages] == [len(multipart_request()), len(raw)]
    assert messages[1][2] == 0.0  # the second message started in the same chunk as the first ended


def test_payload_is_the_jpeg_inside_either_upload_kind() -> None:
    head, _, body = multipart_request().partition(b"\r\n\r\n")
    _, headers = link_use._headers(head + b"\r\n\r\n")
    assert link_use.jpeg_payload(headers, body) == len(JPEG)
    assert link_use.jpeg_payload({"content-type": "image/jpeg"}, JPEG) == len(JPEG)
    assert link_use.jpeg_payload({"content-type": "application/json"}, b"{}") == 0
    with pytest.raises(ValueError, match="complete JPEG"):
        link_use.jpeg_payload({"content-type": "image/jpeg"}, JPEG[:-1])


def test_frames_land_near_the_target_size(tmp_path) -> None:
    sizes = link_use.make_frames(tmp_path, count=2)
    assert len(set((tmp_path / f"frame{i:02d}.jpg").read_bytes() for i in range(2))) == 2
    assert all(abs(size - link_use.FRAME_TARGET) < 0.03 * link_use.FRAME_TARGET for size in sizes)


@pytest.mark.timeout(90)
def test_short_real_run_reports_sane_numbers() -> None:
    [row] = link_use.run(quick=True)
    assert "error" not in row, row["error"]
    assert (row["mode"], row["link_kBps"]) == ("multipart", 500)
    assert row["frames"] >= 3 and 0 < row["fps"] < 60
    assert 30 < row["link_pct"] <= 103  # the bucket lets one 5744-byte send buffer out ahead of the rate
    assert 0 < row["overhead_pct"] < 5 and row["request_overhead_b"] > 200 and row["response_b"] > 50
    assert 0 < row["idle_ms"] < 1000
    assert "multipart" in link_use.format_table([row])
