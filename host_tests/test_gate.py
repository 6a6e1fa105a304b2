"""camhub.gate: past the connection cap a newcomer gets a 503 at once; a request head must arrive in time."""

import asyncio
import resource
import time

from camhub.gate import raise_fd_limit
from testkit.hubs import post_frame
from testkit.rawhttp import read_answer, send


async def open_idle(url, count):
    host, port = url.split("//")[1].split(":")
    return [await asyncio.open_connection(host, int(port)) for _ in range(count)]


async def test_past_the_cap_newcomers_get_503_and_those_inside_keep_working(hub_factory, client):
    hub = await hub_factory(max_connections=20)
    assert (await post_frame(client, hub.url))[0] == 200  # the client session keeps this connection open
    idle = await open_idle(hub.url, 19)
    try:
        await asyncio.sleep(0.1)
        started = time.monotonic()
        answer = await send(hub.url, "GET", "/healthz", {})
        assert answer.status == 503 and answer.headers["retry-after"] == "5"
        assert b"connection limit" in answer.body and time.monotonic() - started < 1.0
        assert (await post_frame(client, hub.url, seq=2))[0] == 200  # the camera's kept-alive connection
        assert hub.server.gate.refused == 1
    finally:
        for _, writer in idle:
            writer.close()
    await asyncio.sleep(0.2)
    assert (await send(hub.url, "GET", "/healthz", {})).status == 200
    assert hub.server.gate.open <= 2


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
