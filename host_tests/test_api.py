"""camhub.api: the device API contract (docs/architecture.md section 2) on a real socket, every bad input."""

import asyncio
import http.client
import json
import logging
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from camhub.errors import json_errors
from testkit.hubs import (
    HEARTBEAT,
    JPEG,
    KEY,
    REGISTER,
    devices,
    get_json,
    hub_config,
    post_frame,
    post_json,
    running_hub,
)
from testkit.jpegs import make_jpeg


async def test_register_then_update(hub, client):
    url = hub.url
    assert await post_json(client, url, "/api/v1/devices/register", REGISTER) == (
        200,
        {"ok": True, "deviceId": "cam1", "created": True, "heartbeatIntervalS": 10.0, "maxFrameBytes": 4194304},
    )
    status, body = await post_json(client, url, "/api/v1/devices/register", {**REGISTER, "deviceName": "Porch"})
    assert (status, body["created"]) == (200, False)
    status, device = await get_json(client, url, "/api/v1/devices/cam1")
    assert status == 200
    assert (device["name"], device["ipAddress"], device["capabilities"]) == (
        "Porch",
        "192.168.1.20",
        ["jpeg", "heartbeat"],
    )
    assert device["online"] and not device["implicit"]


async def test_heartbeat_updates_known_device_and_404s_unknown(hub, client):
    url = hub.url
    status, body = await post_json(client, url, "/api/v1/devices/heartbeat", HEARTBEAT)
    assert status == 404 and "unknown device 'cam1'" in body["error"]
    assert await devices(client, url) == []
    await post_json(client, url, "/api/v1/devices/register", REGISTER)
    assert await post_json(client, url, "/api/v1/devices/heartbeat", HEARTBEAT) == (
        200,
        {"ok": True, "deviceId": "cam1"},
    )
    _, device = await get_json(client, url, "/api/v1/devices/cam1")
    assert (device["uptimeMs"], device["freeHeap"], device["wifiRssi"]) == (123456, 2_000_000, -58)
    assert device["heartbeatExtra"] == {"fps": 14.5} and device["lastHeartbeat"] is not None


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/api/v1/devices/register", {}, 400, "'deviceId' is required"),
        ("/api/v1/devices/register", {"deviceId": 7}, 400, "'deviceId' must be a string"),
        ("/api/v1/devices/register", {"deviceId": "a/b"}, 400, "'deviceId'"),
        ("/api/v1/devices/register", {"deviceId": "cam1", "deviceName": 5}, 400, "'deviceName' must be a string"),
        ("/api/v1/devices/register", {"deviceId": "cam1", "ipAddress": []}, 400, "'ipAddress' must be a string"),
        ("/api/v1/devices/register", {"deviceId": "cam1", "capabilities": "jpeg"}, 400, "'capabilities'"),
        ("/api/v1/devices/register", {"deviceId": "cam1", "capabilities": [1]}, 400, "'capabilities'"),
        ("/api/v1/devices/register", ["cam1"], 400, "must be a JSON object"),
        ("/api/v1/devices/heartbeat", {**HEARTBEAT, "uptime": "long"}, 400, "'uptime' must be a number"),
        ("/api/v1/devices/heartbeat", {**HEARTBEAT, "freeHeap": True}, 400, "'freeHeap' must be a number"),
        ("/api/v1/devices/heartbeat", {**HEARTBEAT, "freeHeap": -1}, 400, "'freeHeap' must be a number from 0 to"),
        ("/api/v1/devices/heartbeat", {**HEARTBEAT, "wifiRssi": "-50"}, 400, "'wifiRssi' must be a number"),
        ("/api/v1/devices/heartbeat", {**HEARTBEAT, "status": 1}, 400, "'status' must be a string"),
        ("/api/v1/devices/heartbeat", {"uptime": 5}, 400, "'deviceId' is required"),
    ],
)
async def test_json_field_errors_name_the_field(hub, client, path, body, status, message):
    url = hub.url
    if path.endswith("heartbeat"):
        await post_json(client, url, "/api/v1/devices/register", REGISTER)
        before = await get_json(client, url, "/api/v1/devices/cam1")
    got_status, got = await post_json(client, url, path, body)
    assert got_status == status and message in got["error"]
    if path.endswith("heartbeat"):
        assert await get_json(client, url, "/api/v1/devices/cam1") == before  # nothing changed
    else:
        assert await devices(client, url) == []


@pytest.mark.parametrize("path", ["/api/v1/devices/register", "/api/v1/devices/heartbeat"])
async def test_json_endpoints_refuse_bad_bodies_and_keys(hub, client, path):
    url = hub.url
    for key, status, message in ((None, 401, "missing X-API-Key header"), ("nope", 401, "invalid API key")):
        assert await post_json(client, url, path, REGISTER, key=key) == (status, {"error": message})
    cases = [
        ({"Content-Type": "application/json"}, b'{"deviceId": ', 400, "not valid JSON"),
        ({"Content-Type": "application/json"}, b"\xff\xfe", 400, "not valid JSON"),
        ({"Content-Type": "text/plain"}, b"{}", 415, "send application/json"),
        ({"Content-Type": "application/json"}, b" " * 70_000, 413, "exceeds"),
    ]
    for headers, data, status, message in cases:
        async with client.post(f"{url}{path}", data=data, headers={"X-API-Key": KEY, **headers}) as response:
            assert response.status == status
            assert message in (await response.json())["error"]
    assert await devices(client, url) == []


async def test_frame_answer_is_short_on_the_wire(hub):
    """It crosses the camera's radio once per frame: no charset, no aiohttp version banner, compact JSON."""
    host, port = hub.url.removeprefix("http://").split(":")

    def one_frame():
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.request(
            "POST",
            "/api/v1/stream/stream",
            body=JPEG,
            headers={"X-API-Key": KEY, "Content-Type": "image/jpeg", "X-Device-Id": "cam1", "X-Frame-Seq": "7"},
        )
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response, body

    response, body = await asyncio.to_thread(one_frame)
    assert response.status == 200
    assert (response.getheader("Content-Type"), response.getheader("Server")) == ("application/json", "camhub")
    assert response.getheader("Date")
    assert body == b'{"ok":true,"seq":7,"bytes":%d}' % len(JPEG)


@pytest.mark.parametrize("multipart", [False, True])
async def test_frame_registers_implicitly_and_is_served(hub, client, multipart):
    url = hub.url
    status, body = await post_frame(client, url, seq=1, multipart=multipart, **{"X-Capture-Ms": "1000"})
    assert (status, body) == (200, {"ok": True, "seq": 1, "bytes": len(JPEG)})
    [device] = await devices(client, url)
    assert (device["deviceId"], device["implicit"], device["online"]) == ("cam1", True, True)
    assert (device["frames"], device["bytes"], device["width"], device["height"]) == (1, len(JPEG), 160, 120)
    async with client.get(f"{url}/devices/cam1/snapshot.jpg") as response:
        assert response.content_type == "image/jpeg" and await response.read() == JPEG


async def test_seq_gaps_count_as_drops_and_capture_ms_gives_latency(hub, client):
    url = hub.url
    for seq, capture in ((1, 100), (2, 200), (5, 500), (6, 600)):
        assert (await post_frame(client, url, seq=seq, **{"X-Capture-Ms": str(capture)}))[0] == 200
    _, device = await get_json(client, url, "/api/v1/devices/cam1")
    assert (device["frames"], device["drops"], device["lastFrameSeq"]) == (4, 2, 6)
    assert device["latencyMs"] is not None and device["latencyMs"] >= 0


async def test_frames_use_keep_alive(hub):
    url = hub.url
    host, port = url.removeprefix("http://").split(":")

    def two_frames_on_one_socket():
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        sockets, statuses = [], []
        for seq in (1, 2):
            conn.request(
                "POST",
                "/api/v1/stream/stream",
                body=JPEG,
                headers={
                    "X-API-Key": KEY,
                    "Content-Type": "image/jpeg",
                    "X-Device-Id": "cam1",
                    "X-Frame-Seq": str(seq),
                },
            )
            response = conn.getresponse()
            statuses.append((response.status, json.loads(response.read())["ok"]))
            sockets.append(conn.sock)
        conn.close()
        return statuses, sockets

    statuses, sockets = await asyncio.to_thread(two_frames_on_one_socket)
    assert statuses == [(200, True), (200, True)]
    assert sockets[0] is sockets[1] is not None


def _multipart(parts: list[tuple[str, str, bytes]], **headers: str) -> tuple[dict[str, str], bytes]:
    """A hand-made multipart body, so the server sees exactly the malformation under test."""
    body = (
        b"".join(
            f'--XyZ\r\nContent-Disposition: form-data; name="{name}"\r\nContent-Type: {kind}\r\n\r\n'.encode()
            + data
            + b"\r\n"
            for name, kind, data in parts
        )
        + b"--XyZ--\r\n"
    )
    return {"Content-Type": "multipart/form-data; boundary=XyZ", **headers}, body


BAD_FRAMES = [
    # (description, headers, body, status, message fragment)
    (
        "no key",
        {"X-API-Key": None, "Content-Type": "image/jpeg", "X-Device-Id": "cam1"},
        JPEG,
        401,
        "missing X-API-Key",
    ),
    (
        "wrong key",
        {"X-API-Key": "wrong", "Content-Type": "image/jpeg", "X-Device-Id": "cam1"},
        JPEG,
        401,
        "invalid API key",
    ),
    ("text", {"Content-Type": "text/plain", "X-Device-Id": "cam1"}, JPEG, 415, "unsupported content type"),
    ("png", {"Content-Type": "image/png", "X-Device-Id": "cam1"}, JPEG, 415, "unsupported content type"),
    ("truncated", {"Content-Type": "image/jpeg", "X-Device-Id": "cam1"}, JPEG[:-100], 400, "truncated JPEG"),
    ("not jpeg", {"Content-Type": "image/jpeg", "X-Device-Id": "cam1"}, b"GIF89a" + b"\0" * 100, 400, "not a JPEG"),
    ("empty", {"Content-Type": "image/jpeg", "X-Device-Id": "cam1"}, b"", 400, "not a JPEG"),
    ("no id", {"Content-Type": "image/jpeg"}, JPEG, 400, "missing device id"),
    ("bad id", {"Content-Type": "image/jpeg", "X-Device-Id": "../etc"}, JPEG, 400, "deviceId"),
    (
        "bad seq",
        {"Content-Type": "image/jpeg", "X-Device-Id": "cam1", "X-Frame-Seq": "ten"},
        JPEG,
        400,
        "X-Frame-Seq must be an integer from 0 to 9007199254740991",
    ),
    (
        "seq past int64",  # issue 10: 2**63 made SQLite overflow in the recorder's commit and cost other frames
        {"Content-Type": "image/jpeg", "X-Device-Id": "cam1", "X-Frame-Seq": str(2**63)},
        JPEG,
        400,
        "X-Frame-Seq must be an integer from 0 to 9007199254740991",
    ),
    (
        "bad capture",
        {"Content-Type": "image/jpeg", "X-Device-Id": "cam1", "X-Capture-Ms": "-5"},
        JPEG,
        400,
        "X-Capture-Ms must be an integer from 0 to 9007199254740991",
    ),
    (
        "capture not ascii",
        {"Content-Type": "image/jpeg", "X-Device-Id": "cam1", "X-Capture-Ms": "\u0663"},
        JPEG,
        400,
        "X-Capture-Ms must be an integer",
    ),
    (
        "garbage multipart",
        {"Content-Type": "multipart/form-data; boundary=XyZ"},
        b"this is not multipart",
        400,
        "malformed multipart",
    ),
    ("multipart without boundary", {"Content-Type": "multipart/form-data"}, JPEG, 400, "malformed multipart"),
    ("multipart without image", *_multipart([("deviceId", "text/plain", b"cam1")]), 400, "no 'image' part"),
    (
        "multipart truncated image",
        *_multipart([("deviceId", "text/plain", b"cam1"), ("image", "image/jpeg", JPEG[:500])]),
        400,
        "truncated",
    ),
    (
        "multipart png part",
        *_multipart([("deviceId", "text/plain", b"cam1"), ("image", "image/png", JPEG)]),
        415,
        "must be image/jpeg",
    ),
    (
        "multipart ids differ",
        *_multipart([("deviceId", "text/plain", b"cam2"), ("image", "image/jpeg", JPEG)], **{"X-Device-Id": "cam1"}),
        400,
        "does not match",
    ),
]


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"), [case[1:] for case in BAD_FRAMES], ids=[case[0] for case in BAD_FRAMES]
)
async def test_bad_frames_are_refused_and_nothing_is_stored(hub, client, headers, body, status, message):
    url = hub.url
    headers = {k: v for k, v in {"X-API-Key": KEY, **headers}.items() if v is not None}
    async with client.post(f"{url}/api/v1/stream/stream", data=body, headers=headers) as response:
        assert response.status == status
        assert response.content_type == "application/json"
        assert message in (await response.json())["error"]
    assert await devices(client, url) == []
    async with client.get(f"{url}/devices/cam1/snapshot.jpg") as response:
        assert response.status == 404
    async with client.get(f"{url}/metrics") as response:
        assert f'camhub_rejected_requests_total{{status="{status}"}} 1' in await response.text()


@pytest.mark.parametrize("how", ["raw", "chunked", "multipart"])
async def test_oversize_frames_get_413(hub_factory, client, how):
    url = (await hub_factory(max_frame_bytes=20_000)).url
    big = make_jpeg("big", size=(640, 480), noise=60)
    assert len(big) > 20_000
    if how == "multipart":
        status, body = await post_frame(client, url, big, multipart=True)
    elif how == "chunked":

        async def chunks():
            for start in range(0, len(big), 8192):
                yield big[start : start + 8192]

        async with client.post(
            f"{url}/api/v1/stream/stream",
            data=chunks(),
            headers={"X-API-Key": KEY, "Content-Type": "image/jpeg", "X-Device-Id": "cam1"},
        ) as response:
            status, body = response.status, await response.json()
    else:
        status, body = await post_frame(client, url, big)
    assert status == 413 and "limit" in body["error"]
    assert await devices(client, url) == []
    assert (await post_frame(client, url))[0] == 200  # a frame within the limit still works


async def test_rejects_of_known_device_are_counted(hub, client):
    url = hub.url
    await post_json(client, url, "/api/v1/devices/register", REGISTER)
    assert (await post_frame(client, url, JPEG[:-10]))[0] == 400
    _, device = await get_json(client, url, "/api/v1/devices/cam1")
    assert (device["rejects"], device["frames"]) == (1, 0)


async def test_errors_are_json(hub, client):
    url = hub.url
    assert await get_json(client, url, "/api/v1/devices/ghost") == (404, {"error": "unknown device 'ghost'"})
    assert await get_json(client, url, "/nowhere") == (404, {"error": "Not Found: GET /nowhere"})
    async with client.get(f"{url}/api/v1/stream/stream") as response:
        assert response.status == 405 and "Method Not Allowed" in (await response.json())["error"]
    for path in ("/devices/ghost", "/devices/ghost/stream.mjpg", "/devices/ghost/snapshot.jpg"):
        assert (await get_json(client, url, path))[0] == 404


async def test_a_client_that_left_mid_answer_is_not_logged_as_an_error(caplog):
    """Found by the fuzzer: playback to a connection already gone logged a traceback for every such client."""

    async def handler(request):
        raise ConnectionResetError("Cannot write to closing transport")

    response = await json_errors(make_mocked_request("GET", "/devices/cam1/playback.mjpg"), handler)
    assert response.status == 499
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


async def test_healthz(hub, client):
    url = hub.url
    await post_frame(client, url)
    status, body = await get_json(client, url, "/healthz")
    assert status == 200 and (body["status"], body["devices"], body["online"]) == ("ok", 1, 1)


async def test_registry_survives_restart(client, tmp_path):
    config = hub_config(tmp_path / "persist")
    async with running_hub(config) as server:
        await post_json(client, server.url, "/api/v1/devices/register", REGISTER)
        await post_json(client, server.url, "/api/v1/devices/heartbeat", HEARTBEAT)
        for seq in (1, 2, 4):
            await post_frame(client, server.url, seq=seq)
    # Counters live in memory between flushes: shutdown wrote them.
    assert Path(config.data_dir, "registry.sqlite3").exists()
    async with running_hub(config) as server:
        _, device = await get_json(client, server.url, "/api/v1/devices/cam1")
    assert (device["name"], device["frames"], device["drops"], device["wifiRssi"]) == ("Front door", 3, 1, -58)
