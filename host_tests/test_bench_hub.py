"""The hub benchmark's parts: stamped frames, the HTTP/MJPEG reader, the table, and a tiny real run of each server.

The runs are smoke checks with 2 cameras and 3 viewers for about a second: they prove the load generator and
the servers move real frames and that every reported number is sane, never how fast anything is.
"""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from bench import hub_load, stamped_jpeg
from bench.wire import ChunkedBody, MjpegParts, boundary_of, parse_head, read_response


def test_built_frame_is_a_complete_jpeg_of_the_exact_size() -> None:
    frame = stamped_jpeg.build(40_000)
    assert len(frame) == 40_000
    assert frame[:2] == b"\xff\xd8" and frame[-2:] == b"\xff\xd9"
    stamped_jpeg.stamp(frame, stamped_jpeg.stamp_offset(frame), 1_234_567_890_123)
    with Image.open(io.BytesIO(bytes(frame))) as image:
        image.load()
        assert image.format == "JPEG" and image.width >= 100
    assert stamped_jpeg.read_stamp(bytes(frame)) == 1_234_567_890_123


def test_read_stamp_ignores_foreign_jpegs() -> None:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(out, "JPEG")
    assert stamped_jpeg.read_stamp(out.getvalue()) is None


def test_build_refuses_sizes_it_cannot_hit() -> None:
    with pytest.raises(ValueError, match="too small"):
        stamped_jpeg.build(500)


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=1 << 20)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def _chunked(data: bytes, size: int) -> bytes:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


FRAMES = [b"\xff\xd8" + bytes([n]) * (300 + n) + b"\xff\xd9" for n in range(3)]


async def test_mjpeg_parts_with_lengths_inside_chunked_encoding() -> None:
    body = b"--b\r\n" + b"".join(
        b"Content-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n--b\r\n" % (len(f), f) for f in FRAMES
    )
    parts = MjpegParts(ChunkedBody(_reader(_chunked(body, 97))), b"b")
    assert [await parts.next_part() for _ in FRAMES] == FRAMES
    with pytest.raises(asyncio.IncompleteReadError):
        await parts.next_part()


async def test_mjpeg_parts_without_lengths_end_at_the_boundary() -> None:
    body = b"".join(b"--frame\r\nContent-Type: image/jpeg\r\n\r\n%s\r\n" % f for f in FRAMES)
    parts = MjpegParts(_reader(body), b"frame")
    assert [await parts.next_part() for _ in FRAMES[:2]] == FRAMES[:2]  # the last has no boundary after it yet


async def test_read_response_leaves_the_connection_at_the_next_response() -> None:
    reader = _reader(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + _chunked(b'{"ok":true}', 4)
        + b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n\r\nno"
    )
    assert await read_response(reader) == (200, {"transfer-encoding": "chunked"}, b'{"ok":true}')
    status, _, body = await read_response(reader)
    assert (status, body) == (401, b"no")


def test_head_and_boundary_parsing() -> None:
    assert parse_head(b"HTTP/1.0 404 Not Found\r\nX-A: 1\r\n\r\n") == (404, {"x-a": "1"})
    with pytest.raises(ValueError):
        parse_head(b"garbage\r\n\r\n")
    assert boundary_of('multipart/x-mixed-replace; boundary="frame"') == b"frame"
    with pytest.raises(ValueError):
        boundary_of("image/jpeg")


def _row(server: str, fps: float, cpu: float, p50: float) -> dict:
    return {
        "server": server,
        "cameras": 2,
        "viewers": 3,
        "frame_bytes": 40_000,
        "window_s": 1.0,
        "ingest_fps": fps,
        "cpu_ms_per_frame": cpu,
        "latency_p50_ms": p50,
        "latency_p99_ms": 2 * p50,
        "peak_rss_mb": 40.0,
    }


def test_ratios_and_table() -> None:
    rows = [
        _row("hub", 600.0, 0.5, 2.0),
        _row("flask", 200.0, 1.5, 20.0),
        _row("loopback", 6000.0, 0.05, 0.2),
        {"server": "hub", "cameras": 9, "viewers": 9, "frame_bytes": 40_000, "error": "hub exited with 1"},
    ]
    hub_load.add_ratios(rows)
    assert rows[0]["ratios"]["flask"]["ingest_fps"] == 3.0
    assert rows[0]["ratios"]["flask"]["latency_p50_ms"] == 0.1
    assert rows[0]["ratios"]["loopback"]["ingest_fps"] == 0.1
    assert rows[0]["ratios"]["loopback"]["cpu_ms_per_frame"] == 10.0
    assert "ratios" not in rows[3]
    table = hub_load.format_table(rows)
    assert "hub/flask" in table and "ingest x3.00" in table and "hub/loopback" in table
    assert "9/9     hub       FAILED: hub exited with 1" in table
    assert "cores shared" in table


def _check_sane(row: dict) -> None:
    assert "error" not in row, row.get("error")
    assert row["ingest_fps"] > 0 and row["ingested_frames"] > 0
    assert row["view_fps"] > 0
    assert row["cpu_ms_per_frame"] > 0 and row["server_cpu_s"] > 0
    assert row["peak_rss_mb"] > 5
    assert 0 < row["latency_p50_ms"] <= row["latency_p99_ms"] < 10_000
    assert row["latency_samples"] > 0
    assert 0 < row["client_cpu_util"] < 4 and 0 < row["machine_busy"] <= 1
    assert row["errors"] == 0, row["error_kinds"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("server", ["loopback", "flask", "hub"])
def test_tiny_run_reports_sane_numbers(server: str) -> None:
    [row] = hub_load.run(cases=((2, 3),), seconds=1.0, warmup=0.3, servers=(server,))
    assert (row["server"], row["cameras"], row["viewers"]) == (server, 2, 3)
    _check_sane(row)
