"""camhub.api: the device API contract (docs/architecture.md section 2) on a real socket, every bad input."""

import asyncio
import http.client
import json
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from camhub.app import init
from camhub.config import Config
from camhub.server import Server
from test_jpeg import make_jpeg

KEY = "test-key"
JPEG = make_jpeg("api")


@pytest.fixture
async def start_hub(tmp_path):
    """Starts real hubs on 127.0.0.1 ephemeral ports: `app, url = await start_hub(**config_overrides)`."""
    servers: list[Server] = []

    async def start(**overrides) -> tuple[web.Application, str]:
        settings = {"host": "127.0.0.1", "port": 0, "data_dir": tmp_path / "data", "api_keys": (KEY,), **overrides}
        config = Config(**settings)
        app = init(config)
        server = Server(app, config.host, config.port)
        await server.start()
        servers.append(server)
        return app, server.url

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def hub(start_hub):
    return await start_hub()


@pytest.fixture
async def client():
    async with aiohttp.ClientSession() as session:
        yield session


async def post_frame(client, url, jpeg=JPEG, device="cam1", seq=None, key=KEY, multipart=False, **headers):
    headers = {"X-API-Key": key, **headers} if key is not None else dict(headers)
    if seq is not None:
        headers["X-Frame-Seq"] = str(seq)
    if multipart:
        form = aiohttp.FormData()
        form.add_field("deviceId", device)
        form.add_field("image", jpeg, content_type="image/jpeg", filename="frame.jpg")
        data = form
    else:
        headers.setdefault("Content-Type", "image/jpeg")
        if device is not None:
            headers["X-Device-Id"] = device
        data = jpeg
    async with client.post(f"{url}/api/v1/stream/stream", data=data, headers=headers) as response:
        return response.status, await response.json()


async def post_json(client, url, path, body, key=KEY):
    headers = {"X-API-Key": key} if key is not None else {}
    async with client.post(f"{url}{path}", json=body, headers=headers) as response:
        return response.status, await response.json()


async def get_json(client, url, path):
    async with client.get(f"{url}{path}") as response:
        return response.status, await response.json()


async def devices(client, url):
    return (await get_json(client, url, "/api/v1/devices"))[1]["devices"]


REGISTER = {"deviceId": "cam1", "deviceName": "Front door", "deviceType": "camera", "ipAddress": "192.168.1.20",
            "capabilities": ["jpeg", "heartbeat"]}
HEARTBEAT = {"deviceId": "cam1", "uptime": 123456, "freeHeap": 2_000_000, "wifiRssi": -58, "status": "online",
             "fps": 14.5}


async def test_register_then_update(hub, client):
    _, url = hub
    assert await post_json(client, url, "/api/v1/devices/register", REGISTER) == (
        200, {"ok": True, "deviceId": "cam1", "created": True, "heartbeatIntervalS": 10.0, "maxFrameBytes": 4194304})
    status, body = await post_json(client, url, "/api/v1/devices/register", {**REGISTER, "deviceName": "Porch"})
    assert (status, body["created"]) == (200, False)
    status, device = await get_json(client, url, "/api/v1/devices/cam1")
    assert status == 200
    assert (device["name"], device["ipAddress"], device["capabilities"]) == ("Porch", "192.168.1.20",
                                                                              ["jpeg", "heartbeat"])
    assert device["online"] and not device["implicit"]


async def test_heartbeat_updates_known_device_and_404s_unknown(hub, client):
    _, url = hub
    status, body = await post_json(client, url, "/api/v1/devices/heartbeat", HEARTBEAT)
    assert status == 404 and "unknown device 'cam1'" in body["error"]
    assert await devices(client, url) == []
    await post_json(client, url, "/api/v1/devices/register", REGISTER)
    assert await post_json(client, url, "/api/v1/devices/heartbeat", HEARTBEAT) == (200, {"ok": True,
                                                                                          "deviceId": "cam1"})
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
        ("/api/v1/devices/heartbeat", {**HEARTBEAT, "freeHeap": -1}, 400, "'freeHeap' must be >= 0"),
        ("/api/v1/devices/heartbeat", {**HEARTBEAT, "wifiRssi": "-50"}, 400, "'wifiRssi' must be a number"),
        ("/api/v1/devices/heartbeat", {**HEARTBEAT, "status": 1}, 400, "'status' must be a string"),
        ("/api/v1/devices/heartbeat", {"uptime": 5}, 400, "'deviceId' is required"),
    ],
)
async def test_json_field_errors_name_the_field(hub, client, path, body, status, message):
    _, url = hub
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
    _, url = hub
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
    host, port = hub[1].removeprefix("http://").split(":")

    def one_frame():
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.request("POST", "/api/v1/stream/stream", body=JPEG, headers={
            "X-API-Key": KEY, "Content-Type": "image/jpeg", "X-Device-Id": "cam1", "X-Frame-Seq": "7"})
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
    _, url = hub
    status, body = await post_frame(client, url, seq=1, multipart=multipart, **{"X-Capture-Ms": "1000"})
    assert (status, body) == (200, {"ok": True, "seq": 1, "bytes": len(JPEG)})
    [device] = await devices(client, url)
    assert (device["deviceId"], device["implicit"], device["online"]) == ("cam1", True, True)
    assert (device["frames"], device["bytes"], device["width"], device["height"]) == (1, len(JPEG), 160, 120)
    async with client.get(f"{url}/devices/cam1/snapshot.jpg") as response:
        assert response.content_type == "image/jpeg" and await response.read() == JPEG


async def test_seq_gaps_count_as_drops_and_capture_ms_gives_latency(hub, client):
    _, url = hub
    for seq, capture in ((1, 100), (2, 200), (5, 500), (6, 600)):
        assert (await post_frame(client, url, seq=seq, **{"X-Capture-Ms": str(capture)}))[0] == 200
    _, device = await get_json(client, url, "/api/v1/devices/cam1")
    assert (device["frames"], device["drops"], device["lastFrameSeq"]) == (4, 2, 6)
    assert device["latencyMs"] is not None and device["latencyMs"] >= 0


async def test_frames_use_keep_alive(hub):
    _, url = hub
    host, port = url.removeprefix("http://").split(":")

    def two_frames_on_one_socket():
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        sockets, statuses = [], []
        for seq in (1, 2):
            conn.request("POST", "/api/v1/stream/stream", body=JPEG, headers={
                "X-API-Key": KEY, "Content-Type": "image/jpeg", "X-Device-Id": "cam1", "X-Frame-Seq": str(seq)})
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
    body = b"".join(
        f'--XyZ\r\nContent-Disposition: form-data; name="{name}"\r\nContent-Type: {kind}\r\n\r\n'.encode()
        + data + b"\r\n" for name, kind, data in parts) + b"--XyZ--\r\n"
    return {"Content-Type": "multipart/form-data; boundary=XyZ", **headers}, body


BAD_FRAMES = [
    # (description, headers, body, status, message fragment)
    ("no key", {"X-API-Key": None, "Content-Type": "image/jpeg", "X-Device-Id": "cam1"}, JPEG, 401,
     "missing X-API-Key"),
    ("wrong key", {"X-API-Key": "wrong", "Content-Type": "image/jpeg", "X-Device-Id": "cam1"}, JPEG, 401,
     "invalid API key"),
    ("text", {"Content-Type": "text/plain", "X-Device-Id": "cam1"}, JPEG, 415, "unsupported content type"),
    ("png", {"Content-Type": "image/png", "X-Device-Id": "cam1"}, JPEG, 415, "unsupported content type"),
    ("truncated", {"Content-Type": "image/jpeg", "X-Device-Id": "cam1"}, JPEG[:-100], 400, "truncated JPEG"),
    ("not jpeg", {"Content-Type": "image/jpeg", "X-Device-Id": "cam1"}, b"GIF89a" + b"\0" * 100, 400,
     "not a JPEG"),
    ("empty", {"Content-Type": "image/jpeg", "X-Device-Id": "cam1"}, b"", 400, "not a JPEG"),
    ("no id", {"Content-Type": "image/jpeg"}, JPEG, 400, "missing device id"),
    ("bad id", {"Content-Type": "image/jpeg", "X-Device-Id": "../etc"}, JPEG, 400, "deviceId"),
    ("bad seq", {"Content-Type": "image/jpeg", "X-Device-Id": "cam1", "X-Frame-Seq": "ten"}, JPEG, 400,
     "X-Frame-Seq must be a non-negative integer"),
    ("bad capture", {"Content-Type": "image/jpeg", "X-Device-Id": "cam1", "X-Capture-Ms": "-5"}, JPEG, 400,
     "X-Capture-Ms must be a non-negative integer"),
    ("garbage multipart", {"Content-Type": "multipart/form-data; boundary=XyZ"}, b"this is not multipart", 400,
     "malformed multipart"),
    ("multipart without boundary", {"Content-Type": "multipart/form-data"}, JPEG, 400, "malformed multipart"),
    ("multipart without image", *_multipart([("deviceId", "text/plain", b"cam1")]), 400,
     "no 'image' part"),
    ("multipart truncated image",
     *_multipart([("deviceId", "text/plain", b"cam1"), ("image", "image/jpeg", JPEG[:500])]), 400, "truncated"),
    ("multipart png part",
     *_multipart([("deviceId", "text/plain", b"cam1"), ("image", "image/png", JPEG)]), 415, "must be image/jpeg"),
    ("multipart ids differ", *_multipart([("deviceId", "text/plain", b"cam2"), ("image", "image/jpeg", JPEG)],
                                            **{"X-Device-Id": "cam1"}), 400, "does not match"),
]


@pytest.mark.parametrize(("headers", "body", "status", "message"), [case[1:] for case in BAD_FRAMES],
                         ids=[case[0] for case in BAD_FRAMES])
async def test_bad_frames_are_refused_and_nothing_is_stored(hub, client, headers, body, status, message):
    app, url = hub
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
async def test_oversize_frames_get_413(start_hub, client, how):
    _, url = await start_hub(max_frame_bytes=20_000)
    big = make_jpeg("big", size=(640, 480), noise=60)
    assert len(big) > 20_000
    if how == "multipart":
        status, body = await post_frame(client, url, big, multipart=True)
    elif how == "chunked":
        async def chunks():
            for start in range(0, len(big), 8192):
                yield big[start:start + 8192]
        async with client.post(f"{url}/api/v1/stream/stream", data=chunks(), headers={
                "X-API-Key": KEY, "Content-Type": "image/jpeg", "X-Device-Id": "cam1"}) as response:
            status, body = response.status, await response.json()
    else:
        status, body = await post_frame(client, url, big)
    assert status == 413 and "limit" in body["error"]
    assert await devices(client, url) == []
    assert (await post_frame(client, url))[0] == 200  # a frame within the limit still works


async def test_rejects_of_known_device_are_counted(hub, client):
    _, url = hub
    await post_json(client, url, "/api/v1/devices/register", REGISTER)
    assert (await post_frame(client, url, JPEG[:-10]))[0] == 400
    _, device = await get_json(client, url, "/api/v1/devices/cam1")
    assert (device["rejects"], device["frames"]) == (1, 0)


async def test_errors_are_json(hub, client):
    _, url = hub
    assert await get_json(client, url, "/api/v1/devices/ghost") == (404, {"error": "unknown device 'ghost'"})
    assert await get_json(client, url, "/nowhere") == (404, {"error": "Not Found: GET /nowhere"})
    async with client.get(f"{url}/api/v1/stream/stream") as response:
        assert response.status == 405 and "Method Not Allowed" in (await response.json())["error"]
    for path in ("/devices/ghost", "/devices/ghost/stream.mjpg", "/devices/ghost/snapshot.jpg"):
        assert (await get_json(client, url, path))[0] == 404


async def test_healthz(hub, client):
    _, url = hub
    await post_frame(client, url)
    status, body = await get_json(client, url, "/healthz")
    assert status == 200 and (body["status"], body["devices"], body["online"]) == ("ok", 1, 1)


async def test_registry_survives_restart(client, tmp_path):  # noqa: F811
    config = Config(host="127.0.0.1", port=0, data_dir=tmp_path / "persist", api_keys=(KEY,))
    async with Server(init(config), config.host, config.port) as server:
        await post_json(client, server.url, "/api/v1/devices/register", REGISTER)
        await post_json(client, server.url, "/api/v1/devices/heartbeat", HEARTBEAT)
        for seq in (1, 2, 4):
            await post_frame(client, server.url, seq=seq)
    # Counters live in memory between flushes: shutdown wrote them.
    assert Path(config.data_dir, "registry.sqlite3").exists()
    async with Server(init(config), config.host, config.port) as server:
        _, device = await get_json(client, server.url, "/api/v1/devices/cam1")
    assert (device["name"], device["frames"], device["drops"], device["wifiRssi"]) == ("Front door", 3, 1, -58)
