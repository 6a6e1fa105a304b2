"""Hub end to end: virtual-board firmware -> the real hub (a subprocess) -> an MJPEG viewer gets the camera's bytes."""

from __future__ import annotations

import asyncio
import re
from itertools import pairwise

import aiohttp

from testkit.boards import Board, stats_blocks
from testkit.hubs import KEY as API_KEY
from testkit.jpegs import make_frames
from testkit.kill9 import kill_rounds

FILES = 7


def board_for(hub: str, device_id: str, seconds: float, *args: str) -> Board:
    return Board(
        "--seconds",
        str(seconds),
        *args,
        "--set",
        f"CAMSTREAM_SERVER_URL={hub}",
        f"CAMSTREAM_API_KEY={API_KEY}",
        f"CAMSTREAM_DEVICE_ID={device_id}",
    )


async def read_parts(response: aiohttp.ClientResponse, count: int) -> list[tuple[dict[str, str], bytes]]:
    """The first `count` parts of a multipart/x-mixed-replace stream, checked against its boundary."""
    boundary = re.search(r"boundary=([^;]+)", response.headers["Content-Type"]).group(1).encode()
    stream = response.content
    assert await stream.readline() == b"--" + boundary + b"\r\n"
    parts = []
    while len(parts) < count:
        headers = {}
        while (line := await stream.readline()) != b"\r\n":
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await stream.readexactly(int(headers["content-length"]))
        assert await stream.readexactly(len(boundary) + 6) == b"\r\n--" + boundary + b"\r\n"
        parts.append((headers, body))
    return parts


async def test_viewer_receives_the_bytes_the_camera_produced(hub_process, tmp_path):
    files = make_frames(tmp_path / "frames", FILES)
    board = board_for(
        hub_process.url, "hub-e2e-cam", 12, "--frames", str(tmp_path / "frames"), "--set", "CAMSTREAM_HEARTBEAT_S=2"
    )
    try:
        board.wait_line("Hub: registered hub-e2e-cam", 15)
        timeout = aiohttp.ClientTimeout(total=20)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(f"{hub_process.url}/devices/hub-e2e-cam/stream.mjpg") as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
                parts = await read_parts(response, 60)
            for headers, body in parts:
                assert headers["content-type"] == "image/jpeg"
                assert body in files, f"a {len(body)}-byte part is none of the camera's files"
            order = [files.index(body) for _, body in parts]
            steps = [(b - a) % FILES for a, b in pairwise(order)]
            assert all(1 <= step <= 3 for step in steps), f"parts out of the camera's order: {order}"
            seqs = [int(headers["x-frame-seq"]) for headers, _ in parts]
            assert seqs == sorted(set(seqs))

            async def device() -> dict:
                async with session.get(f"{hub_process.url}/api/v1/devices/hub-e2e-cam") as reply:
                    assert reply.status == 200
                    return await reply.json()

            async with asyncio.timeout(10):  # the first heartbeat is due 2 s after registering
                while (info := await device())["lastHeartbeat"] is None:
                    await asyncio.sleep(0.2)
        assert info["online"] is True and info["status"] == "online" and info["reportedStatus"] == "online"
        assert info["deviceType"] == "camera" and info["ipAddress"] == "127.0.0.1"
        assert "jpeg" in info["capabilities"] and info["implicit"] is False
        assert isinstance(info["wifiRssi"], int) and -90 < info["wifiRssi"] < -30
        assert info["freeHeap"] > 0 and info["uptimeMs"] > 1000
        assert (info["width"], info["height"]) == (320, 240) and info["frames"] >= 60
        assert info["heartbeatExtra"]["resetReason"] == "POWER_ON"
    finally:
        board.stop()
    assert "Error " not in board.text and "Traceback" not in board.text, board.text


async def test_hd_rate_against_the_hub(hub_process):
    """Records fps, frame size and KB/s of the virtual board at HD (quality 6, 2 buffers, target 30) over 15 s."""
    board = board_for(hub_process.url, "hub-hd-cam", 15, "--set", "CAMSTREAM_FRAME_SIZE=HD")
    assert await asyncio.to_thread(board.finish, 35) == 0, board.text
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.get(f"{hub_process.url}/api/v1/devices/hub-hd-cam") as reply:
            info = await reply.json()
    assert (info["width"], info["height"]) == (1280, 720) and info["frames"] > 0
    assert "HD q6 x2 buffer(s), 30 fps target" in board.text and "Error " not in board.text, board.text
    streaming_s = info["lastFrameAt"] - info["firstSeen"]
    blocks = stats_blocks(board.text)
    assert blocks, board.text
    print(
        f"\nHD on the virtual board -> hub over 15 s: {info['frames'] / streaming_s:.1f} fps, "
        f"average frame {info['bytes'] / info['frames'] / 1024:.1f} KB, "
        f"{info['bytes'] / streaming_s / 1024:.0f} KB/s (hub side, {info['frames']} frames in {streaming_s:.1f} s); "
        "firmware stats blocks: "
        + "; ".join(f"{b['FPS']} {b['Average frame']} {b['Throughput']} {b['Rating']}" for b in blocks)
    )


async def test_kill_9_while_ten_cameras_record_loses_no_acknowledged_frame(tmp_path):
    """Three rounds here; `make soak` runs twenty."""
    report = await kill_rounds(tmp_path / "data", cameras=10, rounds=3)
    assert report.kills == 3
    assert report.acked > 300 and report.missing == 0, report
