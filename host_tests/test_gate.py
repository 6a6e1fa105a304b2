"""camhub.gate: past the connection cap a newcomer gets a 503 at once; a request head must arrive in time."""

import asyncio
import resource
import socket
import time

import aiohttp

from camhub.gate import raise_fd_limit
from testkit.hubs import KEY, HubProcess, post_frame
from testkit.rawhttp import read_answer, request_bytes, send

BUSY_HEADERS = {"Host": "127.0.0.1", "X-API-Key": KEY, "Content-Type": "application/json", "Content-Length": "100"}


async def open_idle(url, count):
    host, port = url.split("//")[1].split(":")
    return [await asyncio.open_connection(host, int(port)) for _ in range(count)]


async def test_at_the_cap_a_newcomer_takes_the_place_of_an_idle_connection(hub_factory, client):
    hub = await hub_factory(max_connections=20)
    idle = await open_idle(hub.url, 19)
    try:
        assert (await post_frame(client, hub.url))[0] == 200  # the camera: the 20th, kept alive and active
        await asyncio.sleep(0.1)
        started = time.monotonic()
        assert (await send(hub.url, "GET", "/healthz", {})).status == 200
        assert time.monotonic() - started < 1.0
        assert (await post_frame(client, hub.url, seq=2))[0] == 200  # on the camera's own connection still
        assert (hub.server.gate.evicted, hub.server.gate.refused) == (1, 0)
        assert hub.server.gate.open <= 20
        assert await idle[0][0].read() == b""  # the one idle longest made room
    finally:
        for _, writer in idle:
            writer.close()


async def test_when_every_connection_is_busy_a_newcomer_gets_503(hub_factory):
    hub = await hub_factory(max_connections=10, body_timeout_s=5)
    busy = await open_idle(hub.url, 10)
    try:
        for _, writer in busy:  # each one's body still arriving: a request in progress
            writer.write(request_bytes("POST", "/api/v1/devices/register", BUSY_HEADERS, b"{"))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        answer = await send(hub.url, "GET", "/healthz", {})
        assert answer.status == 503 and answer.headers["retry-after"] == "5"
        assert b"connection limit" in answer.body and time.monotonic() - started < 1.0
        assert hub.server.gate.refused == 1
    finally:
        for _, writer in busy:
            writer.close()
    await asyncio.sleep(0.2)
    assert (await send(hub.url, "GET", "/healthz", {})).status == 200


async def test_a_thousand_idle_connections_do_not_keep_three_cameras_out(hub, client):
    """Issue 10: at the descriptor limit new cameras, viewers and /healthz got nothing and the CPU sat at 99%."""
    idle = await open_idle(hub.url, 1000)
    try:
        for _, writer in idle:  # one request each, then kept alive and silent
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for reader, _ in idle:
            assert (await read_answer(reader)).status == 200
        assert hub.server.gate.open >= 1000

        async def camera(n):
            sent = 0
            async with aiohttp.ClientSession() as session:
                ends = time.monotonic() + 3
                while time.monotonic() < ends:
                    assert (await post_frame(session, hub.url, device=f"cam{n}", seq=sent))[0] == 200
                    sent += 1
            return sent

        counts = await asyncio.gather(*(camera(n) for n in range(3)))
        assert min(counts) >= 50, counts
        started = time.monotonic()
        assert (await send(hub.url, "GET", "/healthz", {})).status == 200
        assert time.monotonic() - started < 1.0
        assert hub.server.gate.open >= 997 and hub.server.gate.refused == 0
    finally:
        for _, writer in idle:
            writer.close()


async def test_a_head_that_trickles_is_cut_at_the_deadline(hub_factory):
    hub = await hub_factory(header_timeout_s=0.5)
    host, port = hub.url.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    started = time.monotonic()
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    for _ in range(20):
        await asyncio.sleep(0.1)
        writer.write(b"X-Slow: 1\r\n")
        if reader.at_eof():
            break
    assert await reader.read() == b""
    assert 0.4 < time.monotonic() - started < 3.0
    assert hub.server.gate.slow_heads == 1
    writer.close()


async def test_the_deadline_restarts_for_each_request_on_a_kept_alive_connection(hub_factory):
    hub = await hub_factory(header_timeout_s=0.5)
    host, port = hub.url.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    for _ in range(3):  # slower overall than one deadline, each head in time
        await asyncio.sleep(0.3)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_answer(reader)).status == 200
    writer.close()
    assert hub.server.gate.slow_heads == 0


def test_the_fd_limit_is_raised_to_the_hard_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert raise_fd_limit() == resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= soft
    assert hard == resource.RLIM_INFINITY or resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard


async def test_at_a_1024_descriptor_limit_the_hub_still_answers(tmp_path, client):
    """Issue 10: past the open-file limit new cameras, viewers and /healthz got nothing and the log flooded."""
    hub = HubProcess(tmp_path / "data", env={"CAMHUB_API_KEYS": KEY}, fd_limit=1024)
    idle = []
    try:
        host, port = hub.url.split("//")[1].split(":")
        for _ in range(1100):
            idle.append(socket.create_connection((host, int(port)), timeout=5))
        await asyncio.sleep(0.5)
        started = time.monotonic()
        assert (await send(hub.url, "GET", "/healthz", {}, timeout_s=5)).status == 200
        assert (await post_frame(client, hub.url))[0] == 200
        assert time.monotonic() - started < 3.0
    finally:
        for sock in idle:
            sock.close()
        hub.stop()
    assert hub.proc.returncode == 0
    assert len(hub.text) < 20_000 and "Traceback" not in hub.text, hub.text[-2000:]
