"""devserver: the end-to-end tests' scriptable device-API server must itself judge uploads and misbehave on cue."""

import http.client
import json
import socket
import time

import pytest

from testkit.devserver import DevServer, frame_of, parse_multipart

JPEG = b"\xff\xd8jpeg-body\xff\xd9"
BOUNDARY = "b0undary"


def multipart(jpeg=JPEG, device="cam-1", image_type="image/jpeg"):
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="deviceId"\r\n\r\n{device}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="f.jpg"\r\n'
            f"Content-Type: {image_type}\r\n\r\n"
        ).encode()
        + jpeg
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


HEADERS = {"content-type": f"multipart/form-data; boundary={BOUNDARY}", "x-device-id": "cam-1"}


def test_multipart_parts_by_name():
    parts = parse_multipart(multipart(), HEADERS["content-type"])
    assert parts["deviceId"][1] == b"cam-1" and parts["image"][1] == JPEG
    assert parts["image"][0]["content-type"] == "image/jpeg"


@pytest.mark.parametrize(
    ("body", "headers", "error", "message"),
    [
        (multipart(), HEADERS, None, ""),
        (JPEG, {"content-type": "image/jpeg"}, None, ""),
        (multipart()[:-4], HEADERS, ValueError, "closing boundary"),
        (multipart(device="cam-2"), HEADERS, ValueError, "differs from X-Device-Id"),
        (multipart(image_type="image/png"), HEADERS, ValueError, "not image/jpeg"),
        (multipart(jpeg=JPEG[:-1]), HEADERS, ValueError, "not a complete JPEG"),
        (JPEG, {"content-type": "application/octet-stream"}, LookupError, "unsupported content type"),
    ],
)
def test_frame_of_accepts_only_well_formed_uploads(body, headers, error, message):
    if error is None:
        assert frame_of(headers, body) == JPEG
    else:
        with pytest.raises(error, match=message):
            frame_of(headers, body)


def post(conn, path, body, key="test-key", content_type="application/json"):
    conn.request("POST", path, body, {"X-API-Key": key, "Content-Type": content_type, "X-Device-Id": "cam-1"})
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def test_keep_alive_api_and_recording():
    with DevServer() as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        register = json.dumps({"deviceId": "cam-1"})
        assert post(conn, "/api/v1/devices/heartbeat", register)[0] == 404  # unknown device
        assert post(conn, "/api/v1/devices/register", register, key="wrong")[0] == 401
        assert post(conn, "/api/v1/devices/register", register) == (200, {"ok": True, "deviceId": "cam-1"})
        assert post(conn, "/api/v1/devices/heartbeat", register)[0] == 200
        assert post(conn, "/api/v1/stream/stream", JPEG, content_type="image/jpeg")[0] == 200
        assert post(conn, "/api/v1/stream/stream", JPEG, content_type="text/plain")[0] == 415
        conn.close()
        requests = server.requests()
        assert [r.endpoint for r in requests] == ["heartbeat", "register", "register", "heartbeat", "frame", "frame"]
        assert {r.conn for r in requests} == {requests[0].conn}, "one keep-alive connection"
        assert [f.jpeg for f in server.frames()] == [JPEG]


def test_rules_answer_reset_and_stall_on_cue():
    with DevServer() as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        rule = server.script("frame", status=503, times=2, content_type="image/")
        statuses = [post(conn, "/api/v1/stream/stream", JPEG, content_type="image/jpeg")[0] for _ in range(3)]
        assert statuses == [503, 503, 200] and rule.hits == 2

        server.script("frame", reset=True, times=1)
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
            post(conn, "/api/v1/stream/stream", JPEG, content_type="image/jpeg")
        assert server.requests()[-1].outcome == "reset" and len(server.requests()[-1].body) == len(JPEG) // 2

        server.script("frame", stall_s=10, times=1)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=0.3)
        with pytest.raises(TimeoutError):
            post(conn, "/api/v1/stream/stream", JPEG, content_type="image/jpeg")
        conn.sock.sendall(b"POST /api/v1/stream/stream HTTP/1.1\r\n")  # pipelined behind it: still no answer
        time.sleep(0.3)
        assert server.requests()[-1].outcome == "reset"
        conn.close()  # the client gives up: the stall ends at once
        server.wait_for(lambda s: s.requests()[-1].outcome == "stalled", 5, "the stall to end")
        stalled = server.requests()[-1]
        assert stalled.status is None and stalled.ended_at - stalled.at < 2


def test_listener_closes_and_reopens_on_the_same_port():
    with DevServer() as server:
        port = server.port
        server.close_listener()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2)
        server.open_listener()
        assert server.port == port
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
