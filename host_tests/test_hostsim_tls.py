"""The fake `ssl` fails like CircuitPython's mbedtls: bare negative codes, socket errnos passed through, EAGAIN."""

import socket
import ssl
import threading
import time

import pytest


class TlsServer:
    """One TLS connection on loopback: echoes what it gets, or closes without close_notify after `close_after`."""

    def __init__(self, ca, tls=True, close_after=None, reply=b"HTTP/1.1 200 OK\r\n"):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.context = None
        if tls:
            self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1").configure_cert(self.context)
        self.close_after, self.reply = close_after, reply
        self.received = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.listener.accept()
        try:
            if self.context is None:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                return
            conn = self.context.wrap_socket(conn, server_side=True)
            while len(self.received) < (self.close_after or 1):
                data = conn.recv(65536)
                if not data:
                    return
                self.received += data
            if self.close_after is None:
                conn.sendall(self.reply)
                time.sleep(0.5)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()  # CPython's close sends no close_notify

    def close(self):
        self.listener.close()


def tls_socket(board, ca, server, trust):
    (board.tmp_path / "settings.toml").write_text('CIRCUITPY_WIFI_SSID = "net"\nCIRCUITPY_WIFI_PASSWORD = "password"\n')
    board.boot()
    ssl_module = board.module("ssl")
    pool = board.module("socketpool").SocketPool(board.module("wifi").radio)
    context = ssl_module.create_default_context()
    if trust:
        context.load_verify_locations(cadata=ca.cert_pem.bytes().decode())
    sock = context.wrap_socket(pool.socket(pool.AF_INET, pool.SOCK_STREAM), server_hostname="127.0.0.1")
    sock.settimeout(2)
    return sock


def test_an_untrusted_certificate_is_minus_0x2700(board, ca):
    server = TlsServer(ca)
    sock = tls_socket(board, ca, server, trust=False)
    with pytest.raises(OSError) as info:
        sock.connect(("127.0.0.1", server.port))
    assert info.value.errno == -0x2700 and info.value.strerror is None
    server.close()


def test_a_trusted_hub_carries_data_at_most_2048_bytes_per_send(board, ca):
    server = TlsServer(ca, close_after=5000)
    sock = tls_socket(board, ca, server, trust=True)
    sock.connect(("127.0.0.1", server.port))
    data, sent = bytes(range(256)) * 20, 0
    while sent < len(data):
        try:
            n = sock.send(memoryview(data)[sent:])
        except OSError as exc:
            assert exc.errno == 11
            continue
        assert 0 < n <= 2048
        sent += n
    server.thread.join(5)
    assert server.received == data
    with pytest.raises(OSError) as info:
        sock.recv_into(bytearray(16))
    assert info.value.errno == -0x7280, "a close without close_notify is MBEDTLS_ERR_SSL_CONN_EOF"
    sock.close()
    server.close()


def test_answers_arrive_and_a_silent_peer_is_the_sockets_etimedout(board, ca):
    server = TlsServer(ca)
    sock = tls_socket(board, ca, server, trust=True)
    sock.connect(("127.0.0.1", server.port))
    sock.send(b"GET")
    buf = bytearray(64)
    got = sock.recv_into(buf)
    assert bytes(buf[:got]) == b"HTTP/1.1 200 OK\r\n"
    sock.settimeout(0.2)
    with pytest.raises(OSError) as info:
        sock.recv_into(buf)
    assert info.value.errno == 116, "errors of the socket underneath pass through mbedtls unchanged"
    sock.close()
    server.close()


def test_a_plain_http_server_is_an_invalid_record(board, ca):
    server = TlsServer(ca, tls=False)
    sock = tls_socket(board, ca, server, trust=True)
    with pytest.raises(OSError) as info:
        sock.connect(("127.0.0.1", server.port))
    assert info.value.errno == -0x7200
    server.close()
