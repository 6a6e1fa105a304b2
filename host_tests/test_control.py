"""camstream.control: register and heartbeat through the real adafruit_requests over fake sockets."""

import json

import pytest

from camstream.errors import HTTPStatusError
from testkit.fakes import http_response

OK = http_response(200, b'{"ok":true}')
NOT_FOUND = http_response(404, b'{"error": "unknown device"}')
UNAUTHORIZED = http_response(401, b'{"error": "invalid API key"}')


def requests_sent(sock):
    parts = bytes(sock.sent).split(b"POST ")[1:]
    out = []
    for part in parts:
        head, body = part.split(b"\r\n\r\n", 1)
        out.append((b"POST " + head, json.loads(body)))
    return out


def test_register_posts_the_spec_fields_with_the_key(control_rig, capsys):
    control_rig.control.register("Front door", "192.168.1.77", {"frameSize": "HD"})
    assert control_rig.control.registered
    head, body = requests_sent(control_rig.sockets[0])[0]
    assert head.startswith(b"POST /api/v1/devices/register HTTP/1.1")
    assert b"X-API-Key: secret" in head and b"X-Device-Id: ESP32-CAM-ABCDEF" in head
    assert body == {
        "deviceId": "ESP32-CAM-ABCDEF",
        "deviceName": "Front door",
        "deviceType": "camera",
        "ipAddress": "192.168.1.77",
        "capabilities": ["jpeg", "multipart", "raw", "heartbeat", "settings"],
        "frameSize": "HD",
    }
    assert "registered ESP32-CAM-ABCDEF" in capsys.readouterr().out


def test_heartbeat_fields_and_socket_reuse(control_rig):
    control_rig.control.register("cam", "1.2.3.4", {})
    control_rig.control.heartbeat({"uptime": 1234, "freeHeap": 99, "wifiRssi": -60})
    control_rig.control.heartbeat({"uptime": 2234, "freeHeap": 98, "wifiRssi": -61})
    assert len(control_rig.sockets) == 1  # body read before close: the keep-alive socket stays usable
    sent = requests_sent(control_rig.sockets[0])
    assert sent[1][0].startswith(b"POST /api/v1/devices/heartbeat HTTP/1.1")
    assert sent[2][1] == {
        "deviceId": "ESP32-CAM-ABCDEF",
        "status": "online",
        "uptime": 2234,
        "freeHeap": 98,
        "wifiRssi": -61,
    }


def test_heartbeat_404_asks_for_registration(control_rig):
    control_rig.responses["list"] = [OK, NOT_FOUND]
    control_rig.control.register("cam", "1.2.3.4", {})
    control_rig.control.heartbeat({})
    assert control_rig.control.registered is False


def test_401_raises_with_the_hub_message(control_rig):
    control_rig.responses["list"] = [UNAUTHORIZED]
    with pytest.raises(HTTPStatusError) as info:
        control_rig.control.register("cam", "1.2.3.4", {})
    assert info.value.status == 401 and "invalid API key" in str(info.value)
    assert control_rig.control.registered is False


def test_failure_resets_pooled_sockets_so_the_next_request_works(control_rig):
    control_rig.responses["list"] = [b"HTTP/1.1 200 OK\r\nContent-Le"]  # dies while headers are parsed
    with pytest.raises((OSError, RuntimeError)):  # adafruit_requests: OutOfRetries or the socket's error
        control_rig.control.heartbeat({})
    assert control_rig.resets
    control_rig.responses["list"] = [OK]
    control_rig.control.heartbeat({})
