"""camstream.uplink: bytes on the wire, partial sends, EAGAIN, deadlines, response parsing, fallback."""

import tracemalloc

import adafruit_connection_manager
import pytest
from fakes import FakeCamera, FakeClock, FakeConnectionManager, FakeSocket, FakeSocketPool

from camstream.errors import ProtocolError, UploadTimeout, classify
from camstream.uplink import BOUNDARY, SESSION_ID, FrameUplink

JPEG = b"\xff\xd8" + bytes(range(256)) * 40 + b"\xff\xd9"
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"


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
    rejected = b'HTTP/1.1 415 Unsupported Media Type\r\nContent-Length: 2\r\n\r\nno'
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
    assert bytes(sockets[0].sent).startswith(
        b"POST /hub/api/v1/stream/stream HTTP/1.1\r\nHost: cams.example.org\r\n"
    )


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
