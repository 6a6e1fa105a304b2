"""Property tests (hypothesis) over every endpoint and header of one real hub: whatever a client sends, the answer
is a 2xx or a JSON 4xx naming the problem, never a 500; the JSON views stay strict JSON; and a camera's frames
answered 200 all stay playable from the recording."""

from __future__ import annotations

import http.client
import json
import math
import string
from collections import Counter
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from testkit.hubs import JPEG, KEY, ThreadedHub, hub_config

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def fuzzed_hub(tmp_path_factory):
    config = hub_config(tmp_path_factory.mktemp("props"), record=frozenset({"all"}), auth_failures_per_minute=10**6)
    with ThreadedHub(config) as hub:
        hub.acked = Counter()  # frames answered 200, by device
        yield hub


def request(hub, method, path, headers=None, body=b""):
    parts = urlsplit(hub.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body or method in ("POST", "PUT"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        conn.close()


def check_answer(status, content_type, body):
    assert status < 500, (status, body[:300])
    if status >= 400:
        assert content_type.startswith("application/json"), (status, content_type, body[:200])
        error = json.loads(body)["error"]
        assert isinstance(error, str) and error


def strict_json(body):
    return json.loads(body, parse_constant=lambda name: pytest.fail(f"{name} in a JSON view"))


def check_views(hub):
    status, _, body = request(hub, "GET", "/api/v1/devices")
    assert status == 200
    for device in strict_json(body)["devices"]:
        status, _, one = request(hub, "GET", f"/api/v1/devices/{quote(device['deviceId'], safe='')}")
        assert status == 200 and strict_json(one)["deviceId"] == device["deviceId"]
    status, _, metrics = request(hub, "GET", "/metrics")
    assert status == 200 and all(not math.isnan(float(line.rsplit(" ", 1)[1])) for line in _samples(metrics))


def _samples(metrics):
    return [line for line in metrics.decode().splitlines() if line and not line.startswith("#")]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
ids = st.sampled_from(["cam1", "cam2", "x" * 64, "x" * 65, "", "a/b", "../etc", "é", "ok.id:1"]) | st.text(max_size=70)
header_bytes = st.binary(max_size=40).filter(lambda b: b"\r" not in b and b"\n" not in b and b"\0" not in b)
numberish = st.sampled_from(
    [b"0", b"1", b"9007199254740991", b"9007199254740992", str(2**63).encode(), b"-1", b"1e3", b"\xd9\xa3", b" 5"]
)
header_values = header_bytes | numberish


@SETTINGS
@given(
    device=ids,
    body=st.dictionaries(
        st.sampled_from(["deviceName", "deviceType", "ipAddress", "capabilities", "extra"]), json_values
    ),
)
def test_register(fuzzed_hub, device, body):
    raw = json.dumps({"deviceId": device, **body}).encode()
    check_answer(
        *request(
            fuzzed_hub, "POST", "/api/v1/devices/register", {"X-API-Key": KEY, "Content-Type": "application/json"}, raw
        )
    )


@SETTINGS
@given(
    device=st.sampled_from(["cam1", "cam2"]) | ids,
    fields=st.dictionaries(
        st.sampled_from(["uptime", "freeHeap", "wifiRssi", "status"]) | st.text(max_size=12), json_values, max_size=8
    ),
)
def test_heartbeat(fuzzed_hub, device, fields):
    request(
        fuzzed_hub,
        "POST",
        "/api/v1/devices/register",
        {"X-API-Key": KEY, "Content-Type": "application/json"},
        json.dumps({"deviceId": "cam1"}).encode(),
    )
    raw = json.dumps({"deviceId": device, **fields}).encode()  # allow_nan: NaN and Infinity go out as written
    check_answer(
        *request(
            fuzzed_hub, "POST", "/api/v1/devices/heartbeat", {"X-API-Key": KEY, "Content-Type": "application/json"}, raw
        )
    )
    check_views(fuzzed_hub)


@SETTINGS
@given(
    headers=st.dictionaries(
        st.sampled_from(["X-Device-Id", "X-Frame-Seq", "X-Capture-Ms", "X-API-Key", "Content-Type", "Authorization"]),
        header_values,
    ),
    body=st.sampled_from([JPEG, JPEG[:-2], b"", b"\xff\xd8" + b"\xff" * 5000 + b"\xff\xd9"]) | st.binary(max_size=300),
)
@example(headers={"X-Device-Id": b" 5"}, body=JPEG)
def test_frame_headers(fuzzed_hub, headers, body):
    headers = {"X-API-Key": KEY, "Content-Type": "image/jpeg", "X-Device-Id": "fuzz", **headers}
    status, content_type, answer = request(fuzzed_hub, "POST", "/api/v1/stream/stream", headers, body)
    check_answer(status, content_type, answer)
    if status == 200:
        device = headers["X-Device-Id"]
        # HTTP drops the spaces and tabs around a field value: b" 5" names device "5".
        fuzzed_hub.acked[device.strip(b" \t").decode() if isinstance(device, bytes) else device] += 1


@SETTINGS
@given(
    parts=st.lists(
        st.tuples(
            st.sampled_from(["image", "deviceId", "other"]) | st.text(string.printable, max_size=8),
            st.sampled_from(["image/jpeg", "text/plain", "", "image/png"]),
            st.sampled_from([JPEG, b"cam1", b""]) | st.binary(max_size=50),
        ),
        max_size=4,
    ),
    boundary=st.sampled_from(["b0undary", "x" * 70, ""]) | st.text(string.ascii_letters, max_size=75),
)
def test_multipart(fuzzed_hub, parts, boundary):
    chunks = []
    for name, content_type, data in parts:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="f.jpg"\r\n'
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        chunks.append(head.encode() + b"\r\n" + data + b"\r\n")
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
    headers = {"X-API-Key": KEY, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    check_answer(*request(fuzzed_hub, "POST", "/api/v1/stream/stream", headers, body))


@SETTINGS
@given(
    device=ids,
    query=st.dictionaries(
        st.sampled_from(["start", "end", "speed"]),
        st.sampled_from(
            [
                "0",
                "1e308",
                "nan",
                "-1",
                "1e-300",
                "9999-12-31T23:59:59-05:00",
                "2024-05-01T12:00:00Z",
                "0001-01-01T00:00:00+14:00",
            ]
        )
        | st.text(max_size=30),
    ),
    path=st.sampled_from(["playback.mjpg", "recording.mjpg"]),
)
def test_playback_queries(fuzzed_hub, device, query, path):
    text = "&".join(f"{key}={quote(value, safe='')}" for key, value in query.items())
    status, content_type, body = request(fuzzed_hub, "GET", f"/devices/{quote(device, safe='')}/{path}?{text}")
    check_answer(status, content_type, body if status >= 400 else b"")


@SETTINGS
@given(
    device=ids,
    body=json_values.map(lambda value: json.dumps(value).encode()) | st.binary(max_size=60),
    content_type=st.sampled_from(["application/json", "text/plain", "application/json; charset=latin-1", ""]),
    origin=st.none() | st.sampled_from(["http://evil.example", "null"]),
)
def test_recording_toggle(fuzzed_hub, device, body, content_type, origin):
    headers = {"Content-Type": content_type} if content_type else {}
    if origin:
        headers["Origin"] = origin
    status, kind, answer = request(
        fuzzed_hub, "POST", f"/api/v1/devices/{quote(device, safe='')}/recording", headers, body
    )
    check_answer(status, kind, answer)
    if origin:
        assert status == 403
    request(
        fuzzed_hub, "POST", "/api/v1/devices/fuzz/recording", {"Content-Type": "application/json"}, b'{"enabled": true}'
    )


@SETTINGS
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]),
    path=st.text(string.printable.replace(" ", "").replace("#", "").replace("?", ""), max_size=40),
    host=st.none() | header_bytes,
    auth=st.none() | header_bytes,
)
def test_any_method_path_and_host(fuzzed_hub, method, path, host, auth):
    headers = {}
    if host is not None:
        headers["Host"] = host
    if auth is not None:
        headers["Authorization"] = auth
    status, kind, body = request(fuzzed_hub, method, "/" + quote(path, safe="/%"), headers)
    if method != "HEAD":
        check_answer(status, kind, body)
    assert status < 500


@pytest.fixture(scope="module")
def operated_hub(tmp_path_factory):
    """With an operator password, so camera settings and exports take changes (a module of its own: the other
    tests change things without one)."""
    config = hub_config(
        tmp_path_factory.mktemp("operated"),
        record=frozenset({"all"}),
        operator_password="op-pw",
        auth_failures_per_minute=10**6,
    )
    with ThreadedHub(config) as hub:
        for device in ("cam1", "cam2"):
            register = json.dumps({"deviceId": device, "capabilities": ["settings"]}).encode()
            request(
                hub,
                "POST",
                "/api/v1/devices/register",
                {"X-API-Key": KEY, "Content-Type": "application/json"},
                register,
            )
            request(
                hub,
                "POST",
                "/api/v1/stream/stream",
                {"X-API-Key": KEY, "Content-Type": "image/jpeg", "X-Device-Id": device},
                JPEG,
            )
        yield hub


OPERATOR = {"Authorization": "Bearer op-pw", "Content-Type": "application/json"}
SETTING_NAMES = st.sampled_from(
    ["frameSize", "quality", "targetFps", "adapt", "vflip", "hmirror", "brightness", "specialEffect", "heartbeatS"]
)


def check_settings_view(hub, device):
    status, kind, body = request(hub, "GET", f"/api/v1/devices/{quote(device, safe='')}/settings")
    check_answer(status, kind, body)
    if status == 200:
        strict_json(body)


@SETTINGS
@given(
    device=st.sampled_from(["cam1", "cam2"]) | ids,
    body=st.dictionaries(SETTING_NAMES | st.text(max_size=12), json_values, max_size=6).map(
        lambda value: json.dumps(value).encode()
    )
    | json_values.map(lambda value: json.dumps(value).encode())
    | st.binary(max_size=60),
)
def test_camera_settings_put(operated_hub, device, body):
    path = f"/api/v1/devices/{quote(device, safe='')}/settings"
    check_answer(*request(operated_hub, "PUT", path, OPERATOR, body))
    check_settings_view(operated_hub, device)
    check_views(operated_hub)


@SETTINGS
@given(
    device=st.sampled_from(["cam1", "cam2"]),
    report=st.dictionaries(st.sampled_from(["version", "applied", "refused"]) | st.text(max_size=8), json_values),
)
def test_heartbeat_settings_report(operated_hub, device, report):
    beat = {"deviceId": device, "uptime": 1, "freeHeap": 1, "wifiRssi": -50, "status": "online", "settings": report}
    headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
    check_answer(*request(operated_hub, "POST", "/api/v1/devices/heartbeat", headers, json.dumps(beat).encode()))
    check_settings_view(operated_hub, device)
    check_views(operated_hub)


times = st.sampled_from(["0", "1e308", "nan", "-1", "253402300800", "2024-05-01T12:00:00Z", "now"]) | st.text(
    max_size=25
)


@SETTINGS
@given(
    device=st.sampled_from(["cam1"]) | ids,
    query=st.dictionaries(st.sampled_from(["start", "end", "format"]), times | st.sampled_from(["mp4", "mkv", "avi"])),
    path=st.sampled_from(["export", "timeline", "exports"]),
)
def test_export_and_timeline_queries(operated_hub, device, query, path):
    text = "&".join(f"{key}={quote(value, safe='')}" for key, value in query.items())
    check_answer(*request(operated_hub, "GET", f"/api/v1/devices/{quote(device, safe='')}/{path}?{text}"))


@SETTINGS
@given(
    body=st.dictionaries(st.sampled_from(["start", "end", "format"]), json_values | times).map(
        lambda value: json.dumps(value).encode()
    )
    | st.binary(max_size=40),
    job=st.text(string.ascii_letters + string.digits + "-_.", max_size=20),
)
def test_export_jobs(operated_hub, body, job):
    """Ranges with nothing recorded (the hub holds one frame a camera): refused, never a job that fails."""
    status, kind, answer = request(operated_hub, "POST", "/api/v1/devices/cam1/exports", OPERATOR, body)
    check_answer(status, kind, answer)
    check_answer(*request(operated_hub, "GET", f"/api/v1/exports/{quote(job, safe='')}"))
    check_answer(*request(operated_hub, "DELETE", f"/api/v1/exports/{quote(job, safe='')}", OPERATOR))


def test_every_frame_answered_200_is_playable(fuzzed_hub):
    assert fuzzed_hub.acked, "no fuzzed frame was accepted"
    for device, count in fuzzed_hub.acked.items():
        path = f"/devices/{quote(device, safe='')}/recording.mjpg?start=0&end=253402214399"
        status, _, body = request(fuzzed_hub, "GET", path)
        assert status == 200 and body.count(b"Content-Type: image/jpeg") == count, device
    check_views(fuzzed_hub)
