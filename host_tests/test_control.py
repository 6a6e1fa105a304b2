"""camstream.control: register and heartbeat through the real adafruit_requests over fake sockets."""

import json

import adafruit_connection_manager
import adafruit_requests
import pytest
from fakes import FakeSocket, FakeSocketPool

from camstream.control import Control
from camstream.errors import HTTPStatusError
from camstream.urls import parse



def response(status, body):
    return b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        status, len(body), body
    )


OK = response(b"200 OK", b'{"ok":true}')
NOT_FOUND = response(b"404 Not Found", b'{"error": "unknown device"}')
UNAUTHORIZED = response(b"401 Unauthorized", b'{"error": "invalid API key"}')


@pytest.fixture
def rig():
    sockets = []
    responses = {"list": [OK]}

    def factory():
        sock = FakeSocket(responses["list"], eagain_every=0, keep=True)
        sockets.append(sock)
        return sock

    pool = FakeSocketPool(factory)
    resets = []

    def reset():
        resets.append(1)
        adafruit_connection_manager.connection_manager_close_all(pool)

    session = adafruit_requests.Session(pool, None)
    control = Control(session, parse("http://127.0.0.1:9005"), "secret", "ESP32-CAM-ABCDEF", reset)
    yield control, sockets, responses, resets
    adafruit_connection_manager._global_connection_managers.pop(pool, None)


def requests_sent(sock):
    parts = bytes(sock.sent).split(b"POST ")[1:]
    out = []
    for part in parts:
        head, body = part.split(b"\r\n\r\n", 1)
        out.append((b"POST " + head, json.loads(body)))
    return out


def test_register_posts_the_spec_fields_with_the_key(rig, capsys):
    control, sockets, responses, resets = rig
    control.register("Front door", "192.168.1.77", {"frameSize": "HD"})
    assert control.registered
    head, body = requests_sent(sockets[0])[0]
    assert head.startswith(b"POST /api/v1/devices/register HTTP/1.1")
    assert b"X-API-Key: secret" in head and b"X-Device-Id: ESP32-CAM-ABCDEF" in head
    assert body == {
        "deviceId": "ESP32-CAM-ABCDEF",
        "deviceName": "Front door",
        "deviceType": "camera",
        "ipAddress": "192.168.1.77",
        "capabilities": ["jpeg", "multipart", "raw", "heartbeat"],
        "frameSize": "HD",
    }
    assert "registered ESP32-CAM-ABCDEF" in capsys.readouterr().out


def test_heartbeat_fields_and_socket_reuse(rig):
    control, sockets, responses, resets = rig
    control.register("cam", "1.2.3.4", {})
    control.heartbeat({"uptime": 1234, "freeHeap": 99, "wifiRssi": -60})
    control.heartbeat({"uptime": 2234, "freeHeap": 98, "wifiRssi": -61})
    assert len(sockets) == 1  # body read before close: the keep-alive socket stays usable
    sent = requests_sent(sockets[0])
    assert sent[1][0].startswith(b"POST /api/v1/devices/heartbeat HTTP/1.1")
    assert sent[2][1] == {"deviceId": "ESP32-CAM-ABCDEF", "status": "online", "uptime": 2234, "freeHeap": 98, "wifiRssi": -61}


def test_heartbeat_404_asks_for_registration(rig):
    control, sockets, responses, resets = rig
    responses["list"] = [OK, NOT_FOUND]
    control.register("cam", "1.2.3.4", {})
    control.heartbeat({})
    assert control.registered is False


def test_401_raises_with_the_hub_message(rig):
    control, sockets, responses, resets = rig
    responses["list"] = [UNAUTHORIZED]
    with pytest.raises(HTTPStatusError) as info:
        control.register("cam", "1.2.3.4", {})
    assert info.value.status == 401 and "invalid API key" in str(info.value)
    assert control.registered is False


def test_failure_resets_pooled_sockets_so_the_next_request_works(rig):
    control, sockets, responses, resets = rig
    responses["list"] = [b"HTTP/1.1 200 OK\r\nContent-Le"]  # dies while headers are parsed
    with pytest.raises(Exception):
        control.heartbeat({})
    assert resets
    responses["list"] = [OK]
    control.heartbeat({})
