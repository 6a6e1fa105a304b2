"""The fake socketpool behaves like lwIP on the board, over real loopback TCP."""

import socket
import struct
import threading
import time

import pytest

from hostsim.faults import parse_fault
from hostsim.link import SEND_BUFFER as _SEND_BUFFER


class Server:
    """A loopback TCP server that counts what it receives and can answer."""

    def __init__(self, reply: bytes = b"") -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = 0
        self.reply = reply
        self.conn = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.conn, _ = self.listener.accept()
        try:
            if self.reply:
                self.conn.recv(1)
                self.conn.sendall(self.reply)
            while data := self.conn.recv(65536):
                self.received += len(data)
        except OSError:
            return  # the test closed the connection (close()) while this thread used it

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


def connected(board, **config):
    """A booted board that joined the AP of its settings.toml at power-on, like CircuitPython does."""
    (board.tmp_path / "settings.toml").write_text('CIRCUITPY_WIFI_SSID = "net"\nCIRCUITPY_WIFI_PASSWORD = "password"\n')
    board.boot(**config)
    socketpool = board.module("socketpool")
    wifi = board.module("wifi")
    pool = socketpool.SocketPool(wifi.radio)
    return socketpool, pool


def send_all(sock, data, deadline=10.0):
    """What the firmware must do: loop over partial sends and retry EAGAIN."""
    view = memoryview(data)
    sizes, eagain = [], 0
    end = time.monotonic() + deadline
    while view and time.monotonic() < end:
        try:
            n = sock.send(view)
        except OSError as exc:
            assert exc.errno == 11
            eagain += 1
            time.sleep(0.001)
            continue
        sizes.append(n)
        view = view[n:]
    return sizes, eagain


def test_sends_are_partial_and_sometimes_eagain(board):
    _, pool = connected(board, seed=1)
    server = Server()
    sock = pool.socket(pool.AF_INET, pool.SOCK_STREAM)
    sock.connect(("127.0.0.1", server.port))
    sizes, eagain = send_all(sock, bytes(400_000))
    assert sum(sizes) == 400_000
    assert max(sizes) <= 5744
    assert len([s for s in sizes if s < 5744]) > 5  # random smaller amounts, not just the tail
    assert eagain > 0
    sock.close()
    server.thread.join(2)
    assert server.received == 400_000
    server.close()


def test_recv_into_timeout_is_etimedout_116_and_nonblocking_is_eagain(board):
    _, pool = connected(board)
    server = Server()
    sock = pool.socket(pool.AF_INET, pool.SOCK_STREAM)
    sock.connect(("127.0.0.1", server.port))
    assert not hasattr(sock, "recv")
    sock.settimeout(0.2)
    buf = bytearray(10)
    start = time.monotonic()
    with pytest.raises(OSError) as timed_out:
        sock.recv_into(buf)
    assert timed_out.value.errno == 116
    assert 0.15 < time.monotonic() - start < 1.0
    sock.setblocking(False)
    with pytest.raises(OSError) as would_block:
        sock.recv_into(buf, 4)
    assert would_block.value.errno == 11
    sock.close()
    server.close()


def test_recv_into_reads_at_most_nbytes_and_zero_on_close(board):
    _, pool = connected(board)
    server = Server(reply=b"HTTP/1.1 200 OK\r\n")
    sock = pool.socket(pool.AF_INET, pool.SOCK_STREAM)
    sock.settimeout(2)
    sock.connect(("127.0.0.1", server.port))
    send_all(sock, b"x")
    buf = bytearray(64)
    got = sock.recv_into(buf, 4)
    assert (got, bytes(buf[:4])) == (4, b"HTTP")
    server.conn.shutdown(socket.SHUT_RDWR)
    while got:
        got = sock.recv_into(buf)
    assert got == 0
    sock.close()
    server.close()


def test_refused_connect_raises_oserror_with_the_lwip_errno(board):
    _, pool = connected(board)
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    sock = pool.socket(pool.AF_INET, pool.SOCK_STREAM)
    with pytest.raises(OSError) as refused:
        sock.connect(("127.0.0.1", port))
    assert refused.value.errno == 104
    sock.close()


def test_getaddrinfo_shape_and_dns_fault(board):
    socketpool, pool = connected(board, faults=[parse_fault("dns@0.3+60")])
    info = pool.getaddrinfo("localhost", 80)
    assert info == [(pool.AF_INET, pool.SOCK_STREAM, pool.IPPROTO_TCP, "", ("127.0.0.1", 80))]
    time.sleep(0.35)
    with pytest.raises(socketpool.SocketPool.gaierror) as failed:
        pool.getaddrinfo("localhost", 80)
    assert failed.value.errno == -2
    assert pool.getaddrinfo("127.0.0.1", 80)[0][4] == ("127.0.0.1", 80)  # literals need no DNS


def test_memory_fault_and_out_of_sockets(board):
    _, pool = connected(board, faults=[parse_fault("memory@0.3+60")])
    gc_free = board.world.heap()[1]
    socks = [pool.socket() for _ in range(8)]
    with pytest.raises(RuntimeError, match="Out of sockets"):
        pool.socket()
    for sock in socks:
        sock.close()
    time.sleep(0.35)
    with pytest.raises(MemoryError):
        pool.socket()
    assert board.world.heap()[1] < gc_free


def test_wifi_outage_breaks_open_sockets_for_good(board):
    _, pool = connected(board, faults=[parse_fault("wifi@0.4+0.3")])
    wifi = board.module("wifi")
    server = Server()
    sock = pool.socket()
    sock.connect(("127.0.0.1", server.port))
    assert wifi.radio.connected and wifi.radio.ap_info is not None
    time.sleep(0.45)
    assert not wifi.radio.connected
    assert wifi.radio.ap_info is None and wifi.radio.ipv4_address is None
    with pytest.raises(OSError) as aborted:
        sock.send(b"x")
    assert aborted.value.errno == 113
    fresh = pool.socket()
    with pytest.raises(OSError) as unreachable:
        fresh.connect(("127.0.0.1", server.port))
    assert unreachable.value.errno == 118
    time.sleep(0.35)
    assert wifi.radio.connected  # the radio rejoins by itself
    with pytest.raises(OSError):
        sock.send(b"x")  # but that connection is gone
    fresh.close()
    sock.close()
    server.close()


class Recorder:
    """A loopback peer that timestamps every chunk it receives and answers `reply` after each `every` bytes."""

    def __init__(self, every: int = 0, reply: bytes = b"") -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.every, self.reply = every, reply
        self.chunks: list[tuple[float, int]] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            total = 0
            try:
                while data := conn.recv(65536):
                    self.chunks.append((time.monotonic(), len(data)))
                    before, total = total, total + len(data)
                    if self.every and total // self.every > before // self.every:
                        conn.sendall(self.reply)
            except ConnectionResetError:
                pass  # the board closed with replies unread: lwIP answers that with a RST

    def received_by(self, moment: float) -> int:
        return sum(n for t, n in self.chunks if t <= moment)

    def close(self) -> None:
        self.listener.close()


def test_link_rate_is_within_ten_percent(board):
    _, pool = connected(board, link_kbps=200)
    server = Recorder()
    sock = pool.socket()
    sock.connect(("127.0.0.1", server.port))
    start = time.monotonic()
    send_all(sock, bytes(200_000))
    sock.close()  # the send buffer still drains to the peer, as lwIP's tcp_close does
    server.thread.join(2)
    elapsed = server.chunks[-1][0] - start
    assert sum(n for _, n in server.chunks) == 200_000
    assert 180_000 < 200_000 / elapsed < 220_000
    server.close()


def test_a_burst_after_a_pause_reaches_the_peer_no_faster_than_the_rate(board):
    rate = 100_000  # 100 KB/s: one send buffer takes 57 ms on the air
    _, pool = connected(board, link_kbps=rate / 1000)
    server = Recorder()
    sock = pool.socket()
    sock.connect(("127.0.0.1", server.port))
    send_all(sock, bytes(20_000))
    time.sleep(0.4)  # idle air time: an honest radio cannot spend it later
    burst = time.monotonic()
    before = server.received_by(burst)
    assert before == 20_000
    send_all(sock, bytes(30_000))
    time.sleep(0.45)
    for window in (0.07, 0.1, 0.15, 0.2, 0.3):  # all longer than one buffer's drain time
        assert server.received_by(burst + window) - before <= rate * window + 1000
    assert server.received_by(burst + 0.45) == 50_000
    sock.close()
    server.close()


def test_reply_waits_for_the_send_buffer_to_drain_plus_the_rtt(board):
    rate, rtt = 50_000, 0.1
    _, pool = connected(board, link_kbps=rate / 1000, rtt_ms=rtt * 1000)
    server = Recorder(every=_SEND_BUFFER, reply=b"ok")
    sock = pool.socket()
    sock.settimeout(2)
    sock.connect(("127.0.0.1", server.port))
    start = time.monotonic()
    send_all(sock, bytes(_SEND_BUFFER))  # accepted at once into the empty buffer
    assert time.monotonic() - start < 0.05
    buf = bytearray(2)
    assert sock.recv_into(buf) == 2
    assert time.monotonic() - start >= _SEND_BUFFER / rate + rtt - 0.005
    sock.close()
    server.close()


def test_an_earlier_reply_is_readable_while_later_bytes_still_drain(board):
    rate, rtt = 50_000, 0.05
    _, pool = connected(board, link_kbps=rate / 1000, rtt_ms=rtt * 1000)
    server = Recorder(every=1000, reply=b"1")
    sock = pool.socket()
    sock.settimeout(2)
    sock.connect(("127.0.0.1", server.port))
    start = time.monotonic()
    send_all(sock, bytes(1000))  # the first request
    send_all(sock, bytes(_SEND_BUFFER - 1000))  # the next one, queued behind it (HTTP pipelining)
    buf = bytearray(1)
    assert sock.recv_into(buf) == 1
    answered = time.monotonic() - start
    assert 1000 / rate + rtt - 0.005 <= answered < _SEND_BUFFER / rate + rtt - 0.02
    sock.close()
    server.close()


def test_rtt_delays_connect_and_the_first_reply(board):
    _, pool = connected(board, rtt_ms=150)
    server = Server(reply=b"ok")
    sock = pool.socket()
    sock.settimeout(2)
    start = time.monotonic()
    sock.connect(("127.0.0.1", server.port))
    assert time.monotonic() - start >= 0.14
    send_all(sock, b"x")
    sent_at = time.monotonic()
    buf = bytearray(2)
    sock.recv_into(buf)
    assert time.monotonic() - sent_at >= 0.14
    sock.close()
    server.close()


def test_connection_manager_and_requests_use_the_fake_pool(board):
    connected(board)
    import adafruit_connection_manager
    import adafruit_requests

    wifi = board.module("wifi")
    pool = adafruit_connection_manager.get_radio_socketpool(wifi.radio)
    try:
        assert type(pool).__module__ == "socketpool"
        body = b'{"ok": true}'
        server = Server(reply=b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        session = adafruit_requests.Session(pool, adafruit_connection_manager.get_radio_ssl_context(wifi.radio))
        response = session.post(f"http://127.0.0.1:{server.port}/api", data=b"hello")
        assert response.status_code == 200 and response.json() == {"ok": True}
        response.close()
    finally:
        adafruit_connection_manager.connection_manager_close_all(pool, release_references=True)
        server.close()


@pytest.mark.parametrize("shaped", [False, True], ids=["unshaped", "shaped"])
def test_recv_into_on_a_reset_connection_times_out_like_lwip(board, shaped):
    """common-hal/socketpool/Socket.c polls lwip_recv until the timeout: ETIMEDOUT (116), never ECONNRESET."""
    _, pool = connected(board, **({"link_kbps": 1000, "rtt_ms": 5} if shaped else {}))
    listener = socket.create_server(("127.0.0.1", 0))
    sock = pool.socket(pool.AF_INET, pool.SOCK_STREAM)
    sock.settimeout(0.5)
    sock.connect(("127.0.0.1", listener.getsockname()[1]))
    peer, _ = listener.accept()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()  # SO_LINGER 0: an RST, not a FIN
    time.sleep(0.1)
    start = time.monotonic()
    with pytest.raises(OSError) as info:
        sock.recv_into(bytearray(10))
    assert info.value.errno == 116
    assert 0.45 < time.monotonic() - start < 1.5
    sock.close()
    listener.close()


def test_bytes_arriving_after_the_timeout_are_dropped(board):
    """The board checks its timeout before each poll: data of the poll that finds it expired is lost."""
    _, pool = connected(board)
    server = Server()
    sock = pool.socket(pool.AF_INET, pool.SOCK_STREAM)
    sock.settimeout(0.3)
    sock.connect(("127.0.0.1", server.port))
    server.thread.join(0.2)

    def wait_then_data_arrives(world, seconds):
        server.conn.sendall(b"late")  # lands while the board waits out the rest of its timeout
        time.sleep(0.35)

    sock._wait_readable = wait_then_data_arrives
    with pytest.raises(OSError) as info:
        sock.recv_into(bytearray(10))
    assert info.value.errno == 116
    del sock._wait_readable
    sock.settimeout(0)
    with pytest.raises(OSError) as gone:
        sock.recv_into(bytearray(10))
    assert gone.value.errno == 11, "the bytes of that last poll were consumed and dropped"
    sock.close()
    server.close()


def test_blackhole_connect_waits_out_its_timeout(board):
    socketpool, pool = connected(board, faults=[parse_fault("blackhole@0+30")])
    server = Server()
    sock = pool.socket(pool.AF_INET, pool.SOCK_STREAM)
    sock.settimeout(0.3)
    start = time.monotonic()
    with pytest.raises(OSError) as info:
        sock.connect(("127.0.0.1", server.port))
    assert info.value.errno == 116 and 0.25 < time.monotonic() - start < 1.0
    server.close()


def test_blackhole_swallows_one_send_buffer_and_answers_nothing(board):
    socketpool, pool = connected(board, faults=[parse_fault("blackhole@0.3+30")])
    server = Server(reply=b"too late")
    sock = pool.socket(pool.AF_INET, pool.SOCK_STREAM)
    sock.settimeout(0.3)
    sock.connect(("127.0.0.1", server.port))
    time.sleep(0.35)
    sizes, eagain = send_all(sock, bytes(20_000), deadline=0.5)
    assert sum(sizes) == _SEND_BUFFER and eagain > 0, "nothing is acknowledged: the send buffer stays full"
    with pytest.raises(OSError) as info:
        sock.recv_into(bytearray(10))
    assert info.value.errno == 116
    time.sleep(0.2)
    assert server.received == 0
    sock.close()
    server.close()
