"""camstream.uplink: bytes on the wire, partial sends, EAGAIN, deadlines, response parsing, fallback."""

import json
import socket
import tracemalloc
import urllib.request

import adafruit_connection_manager
import pytest

from camstream.errors import ProtocolError, UploadTimeout, classify
from camstream.uplink import BOUNDARY, SESSION_ID, FrameUplink
from testkit.fakes import FakeCamera, FakeClock, FakeConnectionManager, FakeSocket, FakeSocketPool
from testkit.hubs import KEY
from testkit.jpegs import make_jpeg

JPEG = b"\xff\xd8" + bytes(range(256)) * 40 + b"\xff\xd9"
OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


def make(response=OK, mode="multipart", url="http://127.0.0.1:9005", clock=None, **sock_kw):
    sock_kw.setdefault("keep", True)
    sockets = []

    def factory():
        sock = FakeSocket(response, **sock_kw)
        sockets.append(sock)
        return sock

    cm = FakeConnectionManager(factory)
    uplink = FrameUplink(cm, url, "secret", "ESP32-CAM-ABCDEF", mode=mode, clock=clock or FakeClock())
    return uplink, cm, sockets


def frame(data=JPEG):
    return FakeCamera([data]).take()


def expected(mode, data, seq, capture_ms, host=b"127.0.0.1:9005"):
    if mode == "multipart":
        body = (
            b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="deviceId"\r\n\r\nESP32-CAM-ABCDEF\r\n'
            b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="image"; filename="frame.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n" + data + b"\r\n--" + BOUNDARY + b"--\r\n"
        )
        ctype = b"multipart/form-data; boundary=" + BOUNDARY
    else:
        body = data
        ctype = b"image/jpeg"
    head = (
        b"POST /api/v1/stream/stream HTTP/1.1\r\nHost: " + host + b"\r\n"
        b"X-API-Key: secret\r\nX-Device-Id: ESP32-CAM-ABCDEF\r\n"
        b"Content-Type: " + ctype + b"\r\nX-Frame-Seq: %d\r\nX-Capture-Ms: %d\r\nContent-Length: %d\r\n\r\n"
    ) % (seq, capture_ms, len(body))
    return head + body


@pytest.mark.parametrize("mode", ["multipart", "raw"])
def test_bytes_on_the_wire_are_exact(mode):
    uplink, cm, sockets = make(mode=mode, eagain_every=0, max_send=1 << 20)
    assert uplink.send(frame(), 7, 123456) == 200
    assert bytes(sockets[0].sent) == expected(mode, JPEG, 7, 123456)


def test_partial_sends_and_eagain_still_deliver_every_byte():
    uplink, cm, sockets = make(max_send=97, eagain_every=3)
    assert uplink.send(frame(), 1, 0) == 200
    assert bytes(sockets[0].sent) == expected("multipart", JPEG, 1, 0)
    assert sockets[0].send_calls > len(JPEG) // 97


def test_keep_alive_socket_is_reused_across_frames():
    uplink, cm, sockets = make()
    for seq in range(1, 4):
        assert uplink.send(frame(), seq, seq * 10) == 200
    assert cm.connects == 1
    assert sockets[0].requests == 3
    assert bytes(sockets[0].sent) == b"".join(expected("multipart", JPEG, s, s * 10) for s in range(1, 4))
    assert (6, 1, 1) in sockets[0].options  # TCP_NODELAY: the small tail is not held back by Nagle


def test_uses_its_own_session_id_so_json_requests_get_another_socket():
    uplink, cm, sockets = make()
    uplink.send(frame(), 1, 0)
    assert ("127.0.0.1", 9005, "http:", SESSION_ID) in cm._by_key
    assert cm.get_socket("127.0.0.1", 9005, "http:") is not sockets[0]


def test_connection_close_response_drops_the_socket():
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    uplink, cm, sockets = make(response=closing)
    uplink.send(frame(), 1, 0)
    uplink.send(frame(), 2, 0)
    assert cm.connects == 2 and sockets[0].closed


def test_response_split_into_single_bytes_and_long_body_are_fully_read():
    body = b"x" * 3000
    response = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\nCONNECTION: Keep-Alive\r\n\r\n" % len(body) + body
    uplink, cm, sockets = make(response=response, recv_max=1)
    assert uplink.send(frame(), 1, 0) == 200
    assert uplink.send(frame(), 2, 0) == 200  # the next response parses: the body was drained
    assert cm.connects == 1
    assert sockets[0].recv_calls >= 2 * len(response)


def test_response_without_length_closes_the_socket():
    uplink, cm, sockets = make(response=b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
    assert uplink.send(frame(), 1, 0) == 200
    assert sockets[0].closed and cm.managed_socket_count == 0


@pytest.mark.parametrize(
    "response",
    [b"SPAM 200 OK\r\n\r\n", b"HTTP/1.1 2x0 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n"],
)
def test_malformed_response_raises_protocol_error_and_drops_socket(response):
    uplink, cm, sockets = make(response=response)
    with pytest.raises(ProtocolError):
        uplink.send(frame(), 1, 0)
    assert sockets[0].closed


def test_error_status_is_returned_with_its_body():
    uplink, cm, sockets = make(
        response=b'HTTP/1.1 401 Unauthorized\r\nContent-Length: 27\r\n\r\n{"error": "invalid API key"}'[:-1]
    )
    assert uplink.send(frame(), 1, 0) == 401
    assert uplink.body == b'{"error": "invalid API key"'


class SteppingClock(FakeClock):
    """Advances on every read, like time passing while the socket refuses data."""

    def __call__(self):
        self.ms += 50
        return super().__call__()


def test_eagain_forever_hits_the_deadline_with_a_clear_error():
    uplink, cm, sockets = make(eagain_every=1, clock=SteppingClock())
    with pytest.raises(UploadTimeout) as info:
        uplink.send(frame(), 1, 0)
    assert "timed out after 5.0 s" in str(info.value)
    assert classify(info.value) == "timeout"
    assert sockets[0].closed and cm.managed_socket_count == 0


def test_silent_server_hits_the_deadline():
    uplink, cm, sockets = make(clock=SteppingClock())
    sockets_owed = []

    def no_reply(buf, nbytes=0):
        sockets_owed.append(1)
        raise OSError(116)

    uplink.send(frame(), 1, 0)
    sockets[0].recv_into = no_reply
    with pytest.raises(UploadTimeout, match="no complete response"):
        uplink.send(frame(), 2, 0)
    assert sockets_owed


def test_deadline_works_across_the_ticks_wrap():
    clock = SteppingClock(start_ms=(1 << 29) - 200)
    uplink, cm, sockets = make(eagain_every=1, clock=clock)
    with pytest.raises(UploadTimeout):
        uplink.send(frame(), 1, 0)
    assert 5000 <= clock.ms - ((1 << 29) - 200) <= 5200


def test_reset_mid_upload_raises_and_next_frame_reconnects():
    uplink, cm, sockets = make(reset_after=3000)
    with pytest.raises(OSError) as info:
        uplink.send(frame(), 1, 0)
    assert classify(info.value) == "reset"
    assert sockets[0].closed
    sockets_before = len(sockets)
    with pytest.raises(OSError):
        uplink.send(frame(), 2, 0)
    assert len(sockets) == sockets_before + 1


def test_multipart_rejected_falls_back_to_raw_once(capsys):
    rejected = b"HTTP/1.1 415 Unsupported Media Type\r\nContent-Length: 2\r\n\r\nno"
    uplink, cm, sockets = make(response=[rejected, OK, rejected])
    assert uplink.send(frame(), 1, 0) == 200
    assert uplink.mode == "raw"
    assert "switching to raw" in capsys.readouterr().out
    sent = bytes(sockets[0].sent)
    assert sent == expected("multipart", JPEG, 1, 0) + expected("raw", JPEG, 1, 0)
    assert uplink.send(frame(), 2, 0) == 415  # no second fallback, no flip back
    assert uplink.mode == "raw"
    assert "switching" not in capsys.readouterr().out


def test_https_url_asks_for_tls_and_omits_default_port_in_host():
    ssl_context = object()
    sockets = []
    cm = FakeConnectionManager(lambda: sockets.append(FakeSocket(keep=True)) or sockets[-1])
    uplink = FrameUplink(cm, "https://cams.example.org/hub/", "secret", "ESP32-CAM-ABCDEF", ssl_context=ssl_context)
    uplink.send(frame(), 1, 0)
    assert ("cams.example.org", 443, "https:", SESSION_ID) in cm._by_key
    assert bytes(sockets[0].sent).startswith(b"POST /hub/api/v1/stream/stream HTTP/1.1\r\nHost: cams.example.org\r\n")


def test_close_drops_the_pooled_socket_and_tolerates_close_all():
    uplink, cm, sockets = make()
    uplink.send(frame(), 1, 0)
    cm.close_all()
    uplink.close()
    uplink.send(frame(), 2, 0)
    uplink.close()
    assert cm.managed_socket_count == 0 and all(s.closed for s in sockets)


def test_works_with_the_real_connection_manager():
    pool = FakeSocketPool(lambda: FakeSocket(OK, keep=True))
    manager = adafruit_connection_manager.get_connection_manager(pool)
    uplink = FrameUplink(manager, "http://127.0.0.1:9005", "secret", "ESP32-CAM-ABCDEF", clock=FakeClock())
    for seq in (1, 2):
        assert uplink.send(frame(), seq, 0) == 200
    assert len(pool.sockets) == 1 and pool.sockets[0].address == ("127.0.0.1", 9005)
    adafruit_connection_manager.connection_manager_close_all(pool)
    assert uplink.send(frame(), 3, 0) == 200
    assert len(pool.sockets) == 2
    adafruit_connection_manager._global_connection_managers.pop(pool)


def test_frame_is_never_copied():
    big = b"\xff\xd8" + bytes(150_000) + b"\xff\xd9"
    uplink, cm, sockets = make(keep=False)
    view = frame(big)
    uplink.send(view, 1, 0)
    tracemalloc.start()
    uplink.send(view, 2, 0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20_000


def test_rejects_bad_mode_and_empty_frame():
    with pytest.raises(ValueError):
        make(mode="mjpeg")
    uplink, cm, sockets = make()
    with pytest.raises(ValueError):
        uplink.send(memoryview(b""), 1, 0)


# ---- pipelining: the next frame goes out before the previous answer is read --------------------------------


def answer(status, reason=b"OK", body=b"{}"):
    return b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n%s" % (status, reason, len(body), body)


def frames(count):
    """Frames of different sizes, so each answer can be matched to its frame by length."""
    return [frame(JPEG[:-2] + bytes(seq) + b"\xff\xd9") for seq in range(1, count + 1)]


def test_after_the_first_answer_each_request_goes_out_before_the_previous_answer_is_read():
    uplink, cm, sockets = make()
    answered = []
    views = frames(4)
    uplink.submit(views[0], 1, 0, lambda n, status: answered.append((n, status)))
    assert answered == [(len(views[0]), 200)] and uplink.pending == 0  # a new socket answers at once
    for seq in (2, 3, 4):
        uplink.submit(views[seq - 1], seq, 0, lambda n, status: answered.append((n, status)))
        assert uplink.pending == len(views[seq - 1])
        assert sockets[0].requests == seq and len(answered) == seq - 1  # sent ahead of its answer
    uplink.settle(lambda n, status: answered.append((n, status)))
    assert answered == [(len(v), 200) for v in views] and uplink.pending == 0
    assert cm.connects == 1 and cm.available_socket_count == 1
    assert bytes(sockets[0].sent) == b"".join(expected("multipart", bytes(v), s, 0) for s, v in enumerate(views, 1))


def test_answers_are_matched_to_their_frames_in_order():
    replies = [answer(200), answer(500, b"Internal Server Error", b'{"error": "disk full"}'), answer(200), answer(413)]
    uplink, cm, sockets = make(response=replies)
    answered = []
    for seq, view in enumerate(frames(4), 1):
        uplink.submit(view, seq, 0, lambda n, status: answered.append((n, status)))
    uplink.settle(lambda n, status: answered.append((n, status)))
    assert answered == [(len(v), s) for v, s in zip(frames(4), (200, 500, 200, 413), strict=True)]
    assert cm.connects == 1


class StreamSocket(FakeSocket):
    """Answers arrive back to back in one stream, as pipelined answers do on a real socket."""

    def __init__(self, stream):
        super().__init__(eagain_every=0)
        self.stream = memoryview(stream)

    def recv_into(self, buf, nbytes=0):
        n = min(nbytes or len(buf), len(buf), len(self.stream))
        if not n:
            raise OSError(116)
        buf[:n] = self.stream[:n]
        self.stream = self.stream[n:]
        return n


def test_an_answer_read_together_with_the_previous_one_is_kept_for_the_next_read():
    body = b'{"error": "busy"}'
    cm = FakeConnectionManager(lambda: StreamSocket(answer(200) + answer(503, b"Busy", body) + answer(201)))
    uplink = FrameUplink(cm, "http://127.0.0.1:9005", "secret", "ESP32-CAM-ABCDEF", clock=FakeClock())
    answered = []
    for seq, view in enumerate(frames(3), 1):
        uplink.submit(view, seq, 0, lambda n, status: answered.append((status, uplink.body)))
    uplink.settle(lambda n, status: answered.append((status, uplink.body)))
    assert answered == [(200, b"{}"), (503, body), (201, b"{}")]
    assert cm.connects == 1


def test_socket_error_loses_both_frames_in_flight_and_drops_the_socket():
    uplink, cm, sockets = make(reset_after=len(JPEG) * 5 // 2)
    answered = []
    views = frames(3)
    uplink.submit(views[0], 1, 0, lambda n, status: answered.append((n, status)))
    uplink.submit(views[1], 2, 0, lambda n, status: answered.append((n, status)))
    with pytest.raises(OSError) as info:
        uplink.submit(views[2], 3, 0, lambda n, status: answered.append((n, status)))
    assert classify(info.value) == "reset"
    assert answered == [(len(views[0]), 200), (len(views[1]), 0), (len(views[2]), 0)]
    assert uplink.pending == 0 and sockets[0].closed and cm.managed_socket_count == 0
    uplink.settle(lambda n, status: answered.append((n, status)))  # nothing left in flight
    assert len(answered) == 3


def test_failed_read_of_the_answer_in_flight_loses_it():
    uplink, cm, sockets = make(clock=SteppingClock())
    answered = []
    uplink.submit(frame(), 1, 0)
    uplink.submit(frame(), 2, 0)
    sockets[0].recv_into = lambda buf, nbytes=0: (_ for _ in ()).throw(OSError(116))
    with pytest.raises(UploadTimeout):
        uplink.settle(lambda n, status: answered.append((n, status)))
    assert answered == [(len(JPEG), 0)] and uplink.pending == 0 and sockets[0].closed


def test_closing_answer_resends_the_frame_sent_ahead_on_a_new_connection():
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    uplink, cm, sockets = make(response=[answer(200), closing])
    answered = []
    views = frames(3)
    for seq, view in enumerate(views[:2], 1):
        uplink.submit(view, seq, 0, lambda n, status: answered.append((n, status)))
    uplink.submit(views[2], 3, 0, lambda n, status: answered.append((n, status)))
    assert answered == [(len(views[0]), 200), (len(views[1]), 200), (len(views[2]), 200)]
    assert uplink.pending == 0  # a new connection answers its first frame at once
    assert sockets[0].closed and cm.connects == 2
    assert bytes(sockets[1].sent) == expected("multipart", bytes(views[2]), 3, 0)


def test_a_refusal_of_a_frame_sent_ahead_does_not_switch_to_raw():
    rejected = answer(415, b"Unsupported Media Type")
    uplink, cm, sockets = make(response=[answer(200), rejected, answer(200)])
    answered = []
    for seq, view in enumerate(frames(3), 1):
        uplink.submit(view, seq, 0, lambda n, status: answered.append((n, status)))
    uplink.settle(lambda n, status: answered.append((n, status)))
    assert [status for _, status in answered] == [200, 415, 200]
    assert uplink.mode == "multipart"  # this connection took multipart before: the 415 is about that frame


def test_close_forgets_the_answer_in_flight():
    uplink, cm, sockets = make()
    uplink.submit(frame(), 1, 0)
    uplink.submit(frame(), 2, 0)
    uplink.close()
    assert uplink.pending == 0 and cm.managed_socket_count == 0
    assert uplink.send(frame(), 3, 0) == 200


def test_frames_sent_ahead_are_never_copied():
    big = b"\xff\xd8" + bytes(150_000) + b"\xff\xd9"
    uplink, cm, sockets = make(keep=False)
    view = frame(big)
    answered = []
    done = answered.append
    for seq in (1, 2):
        uplink.submit(view, seq, 0, lambda n, status: done(status))
    tracemalloc.start()
    uplink.submit(view, 3, 0, lambda n, status: None)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert uplink.pending and peak < 20_000


# ---- against the real hub ----------------------------------------------------------------------------------


class StdSocketPool:
    """CPython sockets in socketpool's shape, for the real connection manager against the real hub."""

    AF_INET = socket.AF_INET
    SOCK_STREAM = socket.SOCK_STREAM

    def __init__(self):
        self.sockets = []

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))]

    def socket(self, family=socket.AF_INET, type=socket.SOCK_STREAM, proto=0):
        sock = socket.socket(family, type, proto)
        self.sockets.append(sock)
        return sock


def hub_device(url, device):
    request = urllib.request.Request(f"{url}/api/v1/devices/{device}", headers={"X-API-Key": KEY})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.parametrize("mode", ["multipart", "raw"])
def test_the_hub_answers_pipelined_frames_in_order_on_one_connection(threaded_hub, mode):
    pool = StdSocketPool()
    manager = adafruit_connection_manager.get_connection_manager(pool)
    try:
        uplink = FrameUplink(manager, threaded_hub.url, KEY, "pipe-" + mode, mode=mode, clock=FakeClock())
        answered = []
        jpegs = [make_jpeg(str(seq)) for seq in range(1, 21)]
        for seq, data in enumerate(jpegs, 1):
            uplink.submit(frame(data), seq, seq * 40, lambda n, status: answered.append((n, status)))
            assert seq == 1 or uplink.pending == len(data)
        uplink.settle(lambda n, status: answered.append((n, status)))
        assert answered == [(len(data), 200) for data in jpegs]
        assert len(pool.sockets) == 1  # keep-alive held through the pipelined requests
        device = hub_device(threaded_hub.url, "pipe-" + mode)
        assert (device["frames"], device["drops"], device["lastFrameSeq"]) == (20, 0, 20)
        assert device["bytes"] == sum(len(data) for data in jpegs)
    finally:
        adafruit_connection_manager.connection_manager_close_all(pool)
        adafruit_connection_manager._global_connection_managers.pop(pool)


def test_the_hub_answers_requests_that_arrive_together(threaded_hub):
    """Several whole requests in the hub's socket buffer at once: each gets its answer, in order."""
    jpegs = [make_jpeg(str(seq)) for seq in range(1, 6)]
    burst = b"".join(
        b"POST /api/v1/stream/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: test-key\r\nX-Device-Id: burst\r\n"
        b"Content-Type: image/jpeg\r\nX-Frame-Seq: %d\r\nContent-Length: %d\r\n\r\n%s" % (seq, len(data), data)
        for seq, data in enumerate(jpegs, 1)
    )
    with socket.create_connection(("127.0.0.1", threaded_hub.port), timeout=5) as sock:
        sock.sendall(burst)
        received = b""
        while received.count(b"HTTP/1.1 ") < len(jpegs) or not received.endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, "the hub closed the connection"
            received += chunk
    answers = [part for part in received.split(b"HTTP/1.1 ") if part]
    assert [a[:3] for a in answers] == [b"200"] * 5
    assert [json.loads(a.split(b"\r\n\r\n", 1)[1])["seq"] for a in answers] == [1, 2, 3, 4, 5]
    assert hub_device(threaded_hub.url, "burst")["frames"] == 5
