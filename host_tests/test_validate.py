"""camhub.validate: what a client sends is bounded at the edge, so storage, arithmetic and JSON views never see it."""

import asyncio
import json
import time

import pytest

from camhub import validate
from camhub.server import LINGER_S
from testkit.hubs import KEY, REGISTER, devices, get_json, post_json
from testkit.rawhttp import read_answer, request_bytes, send


@pytest.mark.parametrize(
    "text", ["NaN", "Infinity", "-Infinity", '{"a": NaN}', "1e400", "-1e999", "[" * 30_000 + "]" * 30_000]
)
def test_loads_refuses_what_json_cannot_carry_back(text):
    with pytest.raises(ValueError):
        validate.loads(text)


async def post_raw_json(url, path, raw: bytes):
    headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
    return await send(url, "POST", path, headers, raw)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"deviceId": "cam1", "uptime": NaN}', b"not valid JSON"),
        (b'{"deviceId": "cam1", "uptime": 1e300}', b"'uptime' must be a number from 0 to"),
        (b'{"deviceId": "cam1", "wifiRssi": -Infinity}', b"not valid JSON"),
        (b'{"deviceId": "cam1", "fps": NaN}', b"not valid JSON"),
        (b'{"deviceId": "cam1", "fps": 1e400}', b"not valid JSON"),
        (b'{"deviceId": "cam1", "note": "' + b"x" * 5000 + b'"}', b"heartbeat fields"),
        (b'{"deviceId": "cam1", "deep": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", b"nested too deeply"),
        (json.dumps({"deviceId": "cam1", **{f"f{n}": n for n in range(40)}}).encode(), b"heartbeat fields"),
        (json.dumps({"deviceId": "cam1", "d": {"e": {"f": {"g": [1]}}}}).encode(), b"nested deeper"),
    ],
)
async def test_heartbeats_that_would_break_storage_or_json_views_are_400(hub, client, body, message):
    assert (await post_json(client, hub.url, "/api/v1/devices/register", REGISTER))[0] == 200
    before = await get_json(client, hub.url, "/api/v1/devices/cam1")
    answer = await post_raw_json(hub.url, "/api/v1/devices/heartbeat", body)
    assert answer.status == 400 and message in answer.body, answer.body
    async with client.get(f"{hub.url}/api/v1/devices") as response:
        json.loads(await response.text(), parse_constant=lambda name: pytest.fail(f"{name} in /api/v1/devices"))
    assert await get_json(client, hub.url, "/api/v1/devices/cam1") == before


async def test_a_name_cannot_forge_log_lines(hub, client, caplog):
    body = {**REGISTER, "deviceName": "cam\n2026-01-01 00:00:00 INFO camhub: admin logged in"}
    status, answer = await post_json(client, hub.url, "/api/v1/devices/register", body)
    assert status == 400 and "'deviceName' contains control characters" in answer["error"]
    assert all("\n" not in record.getMessage() for record in caplog.records)
    assert await devices(client, hub.url) == []


async def test_a_stalled_body_gets_408_and_frees_its_connection(hub_factory, client):
    hub = await hub_factory(body_timeout_s=0.5)
    host, port = hub.url.split("//")[1].split(":")
    for path, headers in (
        ("/api/v1/devices/register", {"X-API-Key": KEY, "Content-Type": "application/json"}),
        ("/api/v1/stream/stream", {"X-API-Key": KEY, "Content-Type": "image/jpeg", "X-Device-Id": "cam1"}),
        ("/api/v1/devices/cam1/recording", {"Content-Type": "application/json"}),  # no credentials needed to stall
    ):
        reader, writer = await asyncio.open_connection(host, int(port))
        started = time.monotonic()
        writer.write(request_bytes("POST", path, {"Host": "127.0.0.1", "Content-Length": "60000", **headers}, b"{"))
        answer = await asyncio.wait_for(read_answer(reader), 5)
        assert answer.status == 408 and b"did not arrive within 0.5 s" in answer.body, path
        assert 0.4 < time.monotonic() - started < 3
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed after the 2 s linger
        assert time.monotonic() - started < 0.5 + LINGER_S + 2
        writer.close()
    assert await devices(client, hub.url) == []
