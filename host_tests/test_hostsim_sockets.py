"""The fake socketpool behaves like lwIP on the board, over real loopback TCP."""

import socket
import threading
import time

import pytest

from hostsim.faults import parse_fault
from hostsim.testing import virtual_board


@pytest.fixture
def board(tmp_path):
    yield from virtual_board(tmp_path)


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
        if self.reply:
            self.conn.recv(1)
            self.conn.sendall(self.reply)
        while True:
            try:
                data = self.conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.received += len(data)

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


def test_link_rate_is_within_ten_percent(board):
    _, pool = connected(board, link_kbps=200)
    server = Server()
    sock = pool.socket()
    sock.connect(("127.0.0.1", server.port))
    start = time.monotonic()
    send_all(sock, bytes(200_000))
    elapsed = time.monotonic() - start
    rate = 200_000 / elapsed
    assert 180_000 < rate < 220_000 + 6000
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
