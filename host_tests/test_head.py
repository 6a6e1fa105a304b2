"""camhub.head: HEAD on every route answers headers only, and the same connection then answers the next request."""

import http.client
import socket

from testkit.hubs import KEY
from testkit.jpegs import make_jpeg


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return data


def test_head_on_every_route_sends_no_body_and_keeps_the_connection(threaded_hub):
    host, port = "127.0.0.1", threaded_hub.port
    camera = http.client.HTTPConnection(host, port, timeout=5)
    headers = {"X-API-Key": KEY, "X-Device-Id": "cam1", "Content-Type": "image/jpeg"}
    camera.request("POST", "/api/v1/stream/stream", make_jpeg("head"), headers)
    assert camera.getresponse().status == 200
    paths = ["/devices/cam1/playback.mjpg?start=0&end=1", "/devices/cam1/stream.mjpg?fps=2&width=64"]
    for resource in threaded_hub.app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter") or f"{info['prefix']}/style.css"
        paths.append(path.replace("{device_id}", "cam1"))
    statuses = {}
    for path in paths:
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(f"HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = _read_head(sock)
            assert head.startswith(b"HTTP/1.1 ") and head.endswith(b"\r\n\r\n"), (path, head)  # and no body
            statuses[path] = int(head.split()[1])
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            after = _read_head(sock)
            assert after.startswith(b"HTTP/1.1 200 "), (path, head, after[:300])
    assert statuses["/devices/cam1/stream.mjpg"] == 200 and statuses["/devices/cam1/snapshot.jpg"] == 200
    assert statuses["/favicon.ico"] == 200 and statuses["/metrics"] == 200
    assert len(statuses) >= 15
