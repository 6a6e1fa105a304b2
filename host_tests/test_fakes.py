"""testkit.fakes: the fakes every firmware test and the MicroPython measurements stand on must behave as documented."""

import pytest

from testkit.fakes import (
    OK_RESPONSE,
    TICKS_PERIOD,
    FakeCamera,
    FakeClock,
    FakeConnectionManager,
    FakeRadio,
    FakeSocket,
    FakeSocketPool,
    LeanSocket,
    http_response,
    readonly_view,
    synthetic_jpeg,
)


def request(body: bytes) -> bytes:
    return b"POST /x HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def test_sends_are_partial_and_every_nth_raises_eagain():
    sock = FakeSocket(max_send=100, eagain_every=3, keep=True)
    data = request(bytes(450))
    sent, eagain = 0, 0
    while sent < len(data):
        try:
            sent += sock.send(memoryview(data)[sent:])
        except OSError as exc:
            assert exc.args[0] == 11  # OSError(code), as MicroPython raises it
            eagain += 1
    assert bytes(sock.sent) == data and sock.bytes_sent == len(data)
    assert eagain == sock.send_calls // 3 and sock.requests == 1


def test_pipelined_requests_get_their_answers_in_order_and_the_last_repeats():
    sock = FakeSocket([http_response(200, b"one"), http_response(500, b"two")], eagain_every=0)
    for _ in range(3):
        sock.send(request(b"abc"))
    answers = []
    buf = bytearray(256)
    for _ in range(3):
        n = sock.recv_into(buf)
        answers.append(bytes(buf[:n]))
    assert [a.split(b" ")[1] for a in answers] == [b"200", b"500", b"500"]
    sock.settimeout(5)
    with pytest.raises(OSError) as nothing_owed:
        sock.recv_into(buf)
    assert nothing_owed.value.args[0] == 116
    sock.settimeout(0)
    with pytest.raises(OSError) as would_block:
        sock.recv_into(buf)
    assert would_block.value.args[0] == 11


def test_recv_max_splits_an_answer_and_reset_after_cuts_the_upload():
    sock = FakeSocket(OK_RESPONSE, recv_max=5, eagain_every=0)
    sock.send(request(b""))
    buf = bytearray(64)
    assert sock.recv_into(buf) == 5 and bytes(buf[:5]) == OK_RESPONSE[:5]
    cut = FakeSocket(reset_after=10, eagain_every=0)
    with pytest.raises(OSError) as reset:
        cut.send(request(bytes(100)))
    assert reset.value.args[0] == 104
    cut.close()
    with pytest.raises(OSError):
        cut.send(b"x")


def test_lean_socket_opens_a_request_per_post():
    sock = LeanSocket()
    sock.send(b"POST /a HTTP/1.1\r\n\r\n")
    sock.send(b"payload that does not start a request")
    assert sock.requests == 1 and sock.send_calls == 2


def test_connection_manager_reuses_a_freed_socket_and_refuses_a_busy_one():
    made = []
    manager = FakeConnectionManager(lambda: made.append(FakeSocket()) or made[-1])
    first = manager.get_socket("h", 1, "http:", "s", timeout=2)
    assert first.timeout == 2 and manager.connects == 1
    with pytest.raises(RuntimeError, match="already connected"):
        manager.get_socket("h", 1, "http:", "s")
    manager.free_socket(first)
    assert manager.get_socket("h", 1, "http:", "s") is first and manager.connects == 1
    manager.close_socket(first)
    assert first.closed and manager.managed_socket_count == 0
    with pytest.raises(ValueError, match="ssl_context"):
        manager.get_socket("h", 443, "https:")
    with pytest.raises(RuntimeError, match="not managed"):
        manager.free_socket(first)


def test_socket_pool_hands_out_the_factory_sockets():
    pool = FakeSocketPool(FakeSocket)
    assert pool.getaddrinfo("host", 80)[0][4] == ("host", 80)
    assert pool.socket() is pool.sockets[0]


def test_camera_views_are_read_only_and_die_at_the_next_take():
    camera = FakeCamera([b"\xff\xd8one\xff\xd9", None])
    view = camera.take(0.5)
    assert view.readonly and view[0] == -1  # typecode 'b', as espcamera's take()
    assert camera.take() is None and camera.timeouts == [0.5, 0.25]
    with pytest.raises(ValueError):
        view[0]  # released when the next frame was taken
    camera.deinit()
    with pytest.raises(RuntimeError):
        camera.take()


def test_clock_wraps_like_ticks_ms_and_sleep_advances_it():
    clock = FakeClock(start_ms=TICKS_PERIOD - 10)
    clock.sleep(0.02)
    assert clock() == 10 and clock.sleeps == [0.02] and clock.monotonic_ns() == (TICKS_PERIOD + 10) * 1_000_000


def test_radio_checks_lengths_before_anything_like_circuitpython():
    radio = FakeRadio(connected=False)
    with pytest.raises(ValueError, match="password length"):
        radio.connect("home", "short")
    with pytest.raises(ValueError, match="ssid length"):
        radio.connect("x" * 33, "")
    radio.connect("home", "long-enough")
    assert radio.connected and radio.ap_info.rssi == -55
    failing = FakeRadio(connected=False, fail=ConnectionError("No network with that ssid"))
    with pytest.raises(ConnectionError):
        failing.connect("home", "")


def test_synthetic_jpeg_and_readonly_view():
    data = synthetic_jpeg(1000)
    assert len(data) == 1000 and data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    assert bytes(readonly_view(data)) == data
