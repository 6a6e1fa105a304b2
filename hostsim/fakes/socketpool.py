"""CircuitPython `socketpool` over real TCP sockets, with lwIP's manners on the ESP32-S3.

send() takes at most one send buffer (5744 bytes), sometimes fewer, and sometimes raises OSError(EAGAIN);
recv_into() raises ETIMEDOUT (116) on timeout and EAGAIN (11) when non-blocking; there is no recv().
Errors carry the board's (newlib) errno numbers, which differ from Linux's for ETIMEDOUT and others.
"""

import ipaddress as _ipaddress
import select as _select
import socket as _socket

from hostsim import world as _world
from hostsim.link import SEND_BUFFER as _SEND_BUFFER

EAGAIN, EBADF, EINVAL = 11, 9, 22
ECONNRESET, ECONNABORTED, ENOTCONN, EISCONN = 104, 113, 128, 127
ETIMEDOUT, EHOSTUNREACH = 116, 118

_EAGAIN_CHANCE = 0.02
_PARTIAL_CHANCE = 0.25


def _oserror(code: int) -> OSError:
    names = {EAGAIN: "EAGAIN", EBADF: "EBADF", EINVAL: "EINVAL", ECONNRESET: "ECONNRESET",
             ECONNABORTED: "ECONNABORTED", ENOTCONN: "ENOTCONN", EISCONN: "EISCONN", ETIMEDOUT: "ETIMEDOUT",
             EHOSTUNREACH: "EHOSTUNREACH"}
    return OSError(code, names.get(code, str(code)))


class Socket:
    def __init__(self, pool: "SocketPool") -> None:
        world = _world.get()
        self._pool = pool
        self._sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        self._sock.setblocking(False)
        self._timeout: float | None = None
        self._connected_at: float | None = None
        self._reply_at: float | None = None
        self._closed = False
        world.open_sockets.add(self)
        world.stats.sockets_opened += 1

    type = 1  # SOCK_STREAM

    def __enter__(self) -> "Socket":
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    def _usable(self) -> "_world.World":
        world = _world.get()
        if self._closed:
            raise _oserror(EBADF)
        if self._connected_at is None:
            raise _oserror(ENOTCONN)
        if world.fault("wifi") is not None or world.faults.began_between("wifi", self._connected_at, world.now()):
            raise _oserror(ECONNABORTED)  # the AP vanished under this connection
        return world

    def _deadline(self, world: "_world.World") -> float | None:
        return None if self._timeout is None else world.clock() + self._timeout

    def settimeout(self, value) -> None:  # type: ignore[no-untyped-def]
        if value is not None and value < 0:
            raise ValueError("timeout must be >= 0")
        self._timeout = None if value is None else float(value)

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    def setsockopt(self, level: int, optname: int, value: int) -> None:
        if self._closed:
            raise _oserror(EBADF)
        if (level, optname) == (SocketPool.IPPROTO_TCP, SocketPool.TCP_NODELAY):
            self._sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, int(value))
        elif (level, optname) == (SocketPool.SOL_SOCKET, SocketPool.SO_REUSEADDR):
            self._sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, int(value))
        elif level not in (SocketPool.SOL_SOCKET, SocketPool.IPPROTO_TCP, SocketPool.IPPROTO_IP):
            raise _oserror(EINVAL)

    def connect(self, address) -> None:  # type: ignore[no-untyped-def]
        """TCP connect; a refused connection raises ECONNRESET (104), as lwIP reports the RST."""
        world = _world.get()
        if self._closed:
            raise _oserror(EBADF)
        if self._connected_at is not None:
            raise _oserror(EISCONN)
        host, port = address
        ip = self._pool._resolve(host)
        if not world.wifi_up():
            raise _oserror(EHOSTUNREACH)
        _world.sleep_until(world.clock() + world.link.rtt)  # SYN / SYN-ACK
        self._sock.settimeout(self._timeout if self._timeout else None)
        try:
            self._sock.connect((ip, port))
        except ConnectionRefusedError:
            raise _oserror(ECONNRESET) from None
        except TimeoutError:
            raise _oserror(ETIMEDOUT) from None
        except BlockingIOError:
            raise _oserror(EAGAIN) from None
        except OSError as exc:
            raise _oserror(EHOSTUNREACH) from exc
        finally:
            self._sock.setblocking(False)
        self._connected_at = world.now()

    def send(self, data) -> int:  # type: ignore[no-untyped-def]
        """Send some of `data`: at most 5744 bytes, maybe fewer, maybe none (OSError EAGAIN)."""
        view = memoryview(data).cast("B") if not isinstance(data, str) else None
        if view is None:
            raise TypeError("object with buffer protocol required")
        world = self._usable()
        if not len(view):
            return 0
        if world.rng.random() < _EAGAIN_CHANCE:
            raise _oserror(EAGAIN)
        count = min(len(view), _SEND_BUFFER)
        if world.rng.random() < _PARTIAL_CHANCE:
            count = world.rng.randint(1, count)
        count = world.link.grant(count)
        if count == 0:
            raise _oserror(EAGAIN)
        try:
            sent = self._sock.send(view[:count])
        except BlockingIOError:
            world.link.refund(count)
            raise _oserror(EAGAIN) from None
        except (ConnectionResetError, BrokenPipeError):
            raise _oserror(ECONNRESET) from None
        world.link.refund(count - sent)
        world.stats.bytes_sent += sent
        if world.link.rtt:
            self._reply_at = world.clock() + world.link.rtt
        return sent

    def sendall(self, data) -> None:  # type: ignore[no-untyped-def]
        """Loops over send(); like the board's, it does not retry EAGAIN."""
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += self.send(view[done:])

    def recv_into(self, buffer, bufsize: int = 0) -> int:  # type: ignore[no-untyped-def]
        """Read up to bufsize (0: len(buffer)) bytes; 0 means the peer closed."""
        world = self._usable()
        view = memoryview(buffer).cast("B")
        if view.readonly:
            raise TypeError("buffer must be writable")
        size = len(view) if bufsize <= 0 or bufsize > len(view) else bufsize
        deadline = self._deadline(world)
        if self._reply_at is not None:
            if deadline is not None and deadline < self._reply_at:
                _world.sleep_until(deadline)
                raise _oserror(EAGAIN if self._timeout == 0 else ETIMEDOUT)
            _world.sleep_until(self._reply_at)
            self._reply_at = None
        while True:
            wait = 0.1 if deadline is None else max(0.0, min(0.1, deadline - world.clock()))
            readable, _, _ = _select.select([self._sock], [], [], wait)
            if readable:
                try:
                    return self._sock.recv_into(view, size)
                except BlockingIOError:
                    pass
                except ConnectionResetError:
                    raise _oserror(ECONNRESET) from None
            world = self._usable()
            if deadline is not None and world.clock() >= deadline:
                raise _oserror(EAGAIN if self._timeout == 0 else ETIMEDOUT)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sock.close()
            _world.get().open_sockets.discard(self)


class SocketPool:
    class gaierror(OSError):  # noqa: N801  (CircuitPython's name)
        """Name resolution failed."""

    AF_INET = 2
    AF_INET6 = 10
    SOCK_STREAM = 1
    SOCK_DGRAM = 2
    SOCK_RAW = 3
    EAI_NONAME = -2
    SOL_SOCKET = 0xFFF
    SO_REUSEADDR = 0x0004
    TCP_NODELAY = 1
    IPPROTO_IP = 0
    IPPROTO_ICMP = 1
    IPPROTO_TCP = 6
    IPPROTO_UDP = 17
    IPPROTO_IPV6 = 41
    IPPROTO_RAW = 255
    IP_MULTICAST_TTL = 5

    def __init__(self, radio) -> None:  # type: ignore[no-untyped-def]
        if type(radio).__name__ != "Radio":
            raise TypeError(f"radio must be wifi.Radio, not {type(radio).__name__}")
        self._radio = radio

    def _resolve(self, host: str) -> str:
        try:
            return str(_ipaddress.IPv4Address(host))
        except ValueError:
            pass
        world = _world.get()
        if world.fault("dns") is not None or not world.wifi_up():
            raise SocketPool.gaierror(self.EAI_NONAME, "Name or service not known")
        try:
            return _socket.gethostbyname(host)
        except OSError:
            raise SocketPool.gaierror(self.EAI_NONAME, "Name or service not known") from None

    def getaddrinfo(self, host: str, port: int, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0):  # type: ignore[no-untyped-def]
        """One IPv4 TCP address, as the board returns: [(AF_INET, SOCK_STREAM, IPPROTO_TCP, '', (ip, port))]."""
        return [(self.AF_INET, self.SOCK_STREAM, self.IPPROTO_TCP, "", (self._resolve(host), port))]

    def socket(self, family: int = AF_INET, type: int = SOCK_STREAM, proto: int = IPPROTO_IP) -> Socket:
        world = _world.get()
        if family != self.AF_INET or type != self.SOCK_STREAM:
            raise NotImplementedError("hostsim emulates AF_INET SOCK_STREAM (TCP) sockets only")
        if world.fault("memory") is not None:
            raise MemoryError("memory allocation failed, allocating 4096 bytes")
        if len(world.open_sockets) >= _world.MAX_SOCKETS:
            raise RuntimeError("Out of sockets")
        return Socket(self)
