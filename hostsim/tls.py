"""TLS for the virtual board, the way CircuitPython's `ssl` (mbedtls on lwIP) behaves on an ESP32-S3.

CPython's TLS runs in memory (ssl.SSLObject over two MemoryBIOs) on top of a hostsim socketpool socket, as
mbedtls runs on lwIP on the board, so the link model and faults apply to the encrypted bytes. What
shared-module/ssl/SSLSocket.c shows the firmware, this shows too:
- failures are OSError with mbedtls' negative code and no text (the ESP32-S3 build has no error strings):
  -0x2700 the certificate is not trusted, -0x7280 the peer closed without close_notify, ...;
- an errno of the socket underneath (ETIMEDOUT, ECONNRESET...) passes through unchanged;
- WANT_READ/WANT_WRITE surface as OSError(EAGAIN) from send() and recv_into(); a record that could
  not be sent whole stays pending and the next send() with the same data finishes it;
- send() takes at most 2048 bytes; close() sends no close_notify;
- the default context trusts the system's CAs (the board's bundle of public CAs): a self-signed hub
  fails until its certificate is given to load_verify_locations(cadata=...), which replaces them.
This module imports CPython's ssl before the board's fake `ssl` shadows it (hostsim.runner).
"""

from __future__ import annotations

import ssl as _host_ssl
import time as _time
from typing import Any

EAGAIN = 11
SEND_MAX = 2048
CERT_NOT_TRUSTED = -0x2700  # MBEDTLS_ERR_X509_CERT_VERIFY_FAILED
CONN_EOF = -0x7280  # MBEDTLS_ERR_SSL_CONN_EOF
FATAL_ALERT = -0x7780  # MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE
INVALID_RECORD = -0x7200  # MBEDTLS_ERR_SSL_INVALID_RECORD: not TLS at all
INTERNAL_ERROR = -0x6C00  # MBEDTLS_ERR_SSL_INTERNAL_ERROR


def mbedtls_code(exc: _host_ssl.SSLError) -> int:
    """The mbedtls error code the board would raise for a CPython TLS failure."""
    if isinstance(exc, _host_ssl.SSLCertVerificationError):
        return CERT_NOT_TRUSTED
    if isinstance(exc, (_host_ssl.SSLEOFError, _host_ssl.SSLZeroReturnError)):
        return CONN_EOF
    reason = (exc.reason or "").upper()
    if "ALERT" in reason:
        return FATAL_ALERT
    if "WRONG_VERSION" in reason or "RECORD" in reason or "PACKET_LENGTH" in reason:
        return INVALID_RECORD
    return INTERNAL_ERROR


def mbedtls_error(code: int) -> OSError:
    """OSError(code) as CircuitPython raises it: errno set, no text (str() is just the number)."""
    exc = OSError(code)
    exc.errno = code
    return exc


class SSLContext:
    def __init__(self) -> None:
        self._context = _host_ssl.create_default_context(_host_ssl.Purpose.SERVER_AUTH)

    @property
    def check_hostname(self) -> bool:
        return self._context.check_hostname

    @check_hostname.setter
    def check_hostname(self, value: bool) -> None:
        self._context.check_hostname = bool(value)

    def load_verify_locations(
        self, cafile: str | None = None, capath: str | None = None, cadata: str | None = None
    ) -> None:
        """One PEM certificate in `cadata` becomes the only trusted one (cafile/capath: not on the board)."""
        if cafile is not None or capath is not None:
            raise NotImplementedError("only cadata is supported")
        if cadata is None:
            raise ValueError("cadata is required")
        context = _host_ssl.SSLContext(_host_ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = self._context.check_hostname
        try:
            context.load_verify_locations(cadata=cadata)
        except _host_ssl.SSLError:
            raise ValueError("invalid cert") from None
        self._context = context

    def set_default_verify_paths(self) -> None:
        self._context = _host_ssl.create_default_context(_host_ssl.Purpose.SERVER_AUTH)

    def wrap_socket(self, sock: Any, *, server_side: bool = False, server_hostname: str | None = None) -> SSLSocket:
        if getattr(sock, "type", None) != 1:
            raise RuntimeError("Invalid socket for TLS")
        if server_side:
            raise NotImplementedError("hostsim's TLS is client-side only")
        return SSLSocket(self._context, sock, server_hostname)


class SSLSocket:
    type = 1  # SOCK_STREAM

    def __init__(self, context: _host_ssl.SSLContext, sock: Any, server_hostname: str | None) -> None:
        self._sock = sock
        self._incoming = _host_ssl.MemoryBIO()
        self._outgoing = _host_ssl.MemoryBIO()
        hostname = server_hostname if context.check_hostname else None
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=False, server_hostname=hostname)
        self._cipher = b""  # encrypted bytes the socket has not taken yet
        self._pending = 0  # plaintext bytes of the record still in _cipher, reported once it is out
        self._raw = bytearray(16_384)

    def __enter__(self) -> SSLSocket:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    def connect(self, address: Any) -> None:
        """TCP connect, then the handshake, which (like the board's) retries WANT_READ until it is done."""
        self._sock.connect(address)
        while True:
            try:
                self._tls.do_handshake()
            except _host_ssl.SSLWantReadError:
                self._flush(wait=True)
                self._fill()
                continue
            except _host_ssl.SSLError as exc:
                raise mbedtls_error(mbedtls_code(exc)) from None
            self._flush(wait=True)
            return

    def send(self, data: Any) -> int:
        if not self._pending:
            view = memoryview(data).cast("B")
            if not len(view):
                return 0
            count = min(len(view), SEND_MAX)
            try:
                self._tls.write(view[:count])
            except _host_ssl.SSLError as exc:
                raise mbedtls_error(mbedtls_code(exc)) from None
            self._pending = count
        self._flush(wait=False)
        count, self._pending = self._pending, 0
        return count

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        view = memoryview(buffer).cast("B")
        size = len(view) if nbytes <= 0 or nbytes > len(view) else nbytes
        while True:
            try:
                data = self._tls.read(size)
            except _host_ssl.SSLWantReadError:
                self._fill()
                continue
            except _host_ssl.SSLZeroReturnError:
                return 0  # close_notify: a clean end of stream
            except _host_ssl.SSLError as exc:
                raise mbedtls_error(mbedtls_code(exc)) from None
            view[: len(data)] = data
            return len(data)

    def _flush(self, wait: bool) -> None:
        """Hand encrypted bytes to the socket; EAGAIN keeps the rest pending (`wait`: retry, as the handshake does)."""
        self._cipher += self._outgoing.read()
        while self._cipher:
            try:
                sent = self._sock.send(self._cipher)
            except OSError as exc:
                if exc.errno != EAGAIN or not wait:
                    raise
                _time.sleep(0.001)  # mbedtls' handshake loop waits 1 ms between tries
                sent = 0
            self._cipher = self._cipher[sent:]

    def _fill(self) -> None:
        """One read of the socket underneath into the TLS engine; its errors pass through, as on the board."""
        got = self._sock.recv_into(self._raw)
        if not got:
            raise mbedtls_error(CONN_EOF)  # the peer closed without close_notify
        self._incoming.write(self._raw[:got])

    def settimeout(self, value: float | None) -> None:
        self._sock.settimeout(value)

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def setsockopt(self, level: int, optname: int, value: int) -> None:
        self._sock.setsockopt(level, optname, value)

    def close(self) -> None:
        self._sock.close()


def create_default_context() -> SSLContext:
    return SSLContext()
