"""CircuitPython `socketpool` over real TCP sockets, with lwIP's manners on the ESP32-S3.

send() takes at most one send buffer (5744 bytes), sometimes fewer, and sometimes raises OSError(EAGAIN);
recv_into() raises ETIMEDOUT (116) on timeout and EAGAIN (11) when non-blocking; there is no recv().
recv_into() polls like common-hal/socketpool/Socket.c: on a connection the peer reset it keeps polling until
its timeout and raises ETIMEDOUT, never ECONNRESET (without a timeout it never returns), and bytes that
arrive in the poll after the timeout are dropped; a clean close (FIN) returns 0 at once.
--fault blackhole: the peer host goes silent (powered off, cable pulled): connect() waits out its timeout,
sends fill the send buffer that nobody acknowledges, and an open connection gets nothing back, ever.
On a shaped link (--link-kbps and/or --rtt-ms, see hostsim.link) accepted bytes sit in the send buffer and a
writer thread hands them to the real TCP peer only once the radio has drained them; a reader thread makes
what the peer sends readable RTT seconds after it arrived, so a reply comes no earlier than the drain of its
request's last byte plus the RTT, while requests queued behind it keep draining.
Errors carry the board's (newlib) errno numbers, which differ from Linux's for ETIMEDOUT and others.
"""

import collections as _collections
import ipaddress as _ipaddress
import select as _select
import socket as _socket
import threading as _threading
import time as _time

from hostsim import world as _world
from hostsim.link import SEND_BUFFER as _SEND_BUFFER

EAGAIN, EBADF, EINVAL = 11, 9, 22
ECONNRESET, ECONNABORTED, ENOTCONN, EISCONN = 104, 113, 128, 127
ETIMEDOUT, EHOSTUNREACH = 116, 118

_EAGAIN_CHANCE = 0.02
_PARTIAL_CHANCE = 0.25


def _oserror(code: int) -> OSError:
    names = {
        EAGAIN: "EAGAIN",
        EBADF: "EBADF",
        EINVAL: "EINVAL",
        ECONNRESET: "ECONNRESET",
        ECONNABORTED: "ECONNABORTED",
        ENOTCONN: "ENOTCONN",
        EISCONN: "EISCONN",
        ETIMEDOUT: "ETIMEDOUT",
        EHOSTUNREACH: "EHOSTUNREACH",
    }
    return OSError(code, names.get(code, str(code)))


class Socket:
    def __init__(self, pool: "SocketPool") -> None:
        world = _world.get()
        self._pool = pool
        self._sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        self._sock.setblocking(False)
        self._timeout: float | None = None
        self._connected_at: float | None = None
        self._closed = False
        # A shaped link (a rate or an RTT) puts threads between the board and the real socket: the writer
        # hands the send buffer's bytes over as the radio drains them, the reader stamps what arrives with
        # the time it reaches the board (arrival + RTT). Unshaped sockets talk to the real socket directly.
        self._shaped = world.link.shaped
        self._cond = _threading.Condition()
        self._out: _collections.deque[tuple[float, bytes]] = _collections.deque()  # (drained at, bytes)
        self._writer: _threading.Thread | None = None
        self._reader: _threading.Thread | None = None
        self._reader_done = False
        self._released = False
        self._in: _collections.deque[tuple[float, bytes]] = _collections.deque()  # (readable at, bytes); b"" = EOF
        self._in_error: tuple[float, int] | None = None
        self._broken: int | None = None  # errno the writer met; later sends raise it
        self._reset = False  # the peer sent RST: recv_into polls on until its timeout, as lwIP's socket does
        self._void = 0  # bytes sent into a blackhole: they fill the send buffer and are never acknowledged
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
        if self._aborted(world):
            raise _oserror(ECONNABORTED)  # the AP vanished under this connection
        return world

    def _blackholed(self, world: "_world.World") -> bool:
        """A blackhole began while this connection was open (or is on now): nothing gets through any more."""
        return world.fault("blackhole") is not None or (
            self._connected_at is not None and world.faults.began_between("blackhole", self._connected_at, world.now())
        )

    def _aborted(self, world: "_world.World") -> bool:
        return world.fault("wifi") is not None or (
            self._connected_at is not None and world.faults.began_between("wifi", self._connected_at, world.now())
        )

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
        if world.fault("blackhole") is not None:  # the SYN goes unanswered
            _world.sleep_until(world.clock() + (self._timeout if self._timeout else 75.0))
            raise _oserror(ETIMEDOUT)
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
        if self._shaped:
            self._reader = _threading.Thread(
                target=self._read_in, args=(world,), name="hostsim-socket-reader", daemon=True
            )
            self._reader.start()

    def send(self, data) -> int:  # type: ignore[no-untyped-def]
        """Send some of `data`: at most the free part of the 5744-byte send buffer, maybe fewer, maybe none (EAGAIN)."""
        view = memoryview(data).cast("B") if not isinstance(data, str) else None
        if view is None:
            raise TypeError("object with buffer protocol required")
        world = self._usable()
        if self._broken is not None:
            raise _oserror(self._broken)
        if not len(view):
            return 0
        if self._blackholed(world):
            count = min(len(view), _SEND_BUFFER - self._void)
            if count <= 0:
                raise _oserror(EAGAIN)
            self._void += count
            return count
        if world.rng.random() < _EAGAIN_CHANCE:
            raise _oserror(EAGAIN)
        count = min(len(view), _SEND_BUFFER - self._in_buffer(world))
        if count > 0 and world.rng.random() < _PARTIAL_CHANCE:
            count = world.rng.randint(1, count)
        if count <= 0:
            raise _oserror(EAGAIN)
        if self._shaped:
            sent, drained_at = world.link.accept(count)
            if sent:
                self._enqueue(world, drained_at, bytes(view[:sent]))
        else:
            sent = self._send_now(view[:count])
        if not sent:
            raise _oserror(EAGAIN)
        world.stats.bytes_sent += sent
        return sent

    def _in_buffer(self, world: "_world.World") -> int:
        """Bytes of this socket still in lwIP's send buffer: not yet drained onto the air by now. Counted from the
        link's drain times, not from when the writer thread got round to them (the host may be busy)."""
        if not self._shaped:
            return 0  # unshaped bytes go straight to the real socket
        now = world.clock()
        with self._cond:
            return sum(len(chunk) for drained_at, chunk in self._out if drained_at > now)

    def _send_now(self, view: memoryview) -> int:
        try:
            return self._sock.send(view)
        except BlockingIOError:
            return 0
        except (ConnectionResetError, BrokenPipeError):
            raise _oserror(ECONNRESET) from None

    def _enqueue(self, world: "_world.World", drained_at: float, chunk: bytes) -> None:
        with self._cond:
            self._out.append((drained_at, chunk))
            if self._writer is None:
                self._writer = _threading.Thread(
                    target=self._write_out, args=(world,), name="hostsim-socket-writer", daemon=True
                )
                self._writer.start()
            self._cond.notify_all()

    def _write_out(self, world: "_world.World") -> None:
        """Hands each chunk to the real socket once the radio has drained it; flushes on close, like lwIP."""
        while True:
            with self._cond:
                while not self._out and not self._closed:
                    self._cond.wait()
                if not self._out:
                    self._release()
                    return
                drained_at, chunk = self._out[0]
            while (left := drained_at - world.clock()) > 0:
                _time.sleep(left)
            if self._broken is None and self._aborted(world):
                self._broken = ECONNABORTED  # the AP vanished with these bytes still in the buffer
            if self._broken is None:
                self._broken = self._push(chunk)
            with self._cond:
                self._out.popleft()
                self._cond.notify_all()

    def _push(self, chunk: bytes) -> int | None:
        view = memoryview(chunk)
        while view:
            try:
                _select.select([], [self._sock], [], 0.1)
                view = view[self._sock.send(view) :]
            except BlockingIOError:
                continue
            except OSError:
                return ECONNRESET
        return None

    def _read_in(self, world: "_world.World") -> None:
        """Stamps what the peer sends with the time it reaches the board: arrival + RTT."""
        try:
            while not self._closed:
                if not _select.select([self._sock], [], [], 0.05)[0]:
                    continue
                try:
                    data = self._sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    with self._cond:
                        self._in_error = (world.clock() + world.link.rtt, ECONNRESET)
                        self._cond.notify_all()
                    return
                with self._cond:
                    self._in.append((world.clock() + world.link.rtt, data))
                    self._cond.notify_all()
                if not data:
                    return
        finally:
            with self._cond:
                self._reader_done = True
                self._release()

    def _release(self) -> None:
        """Close the real socket once the board closed it, the reader stopped and the buffer is flushed."""
        if self._closed and not self._released and (self._reader is None or self._reader_done) and not self._out:
            self._released = True
            self._sock.close()

    def sendall(self, data) -> None:  # type: ignore[no-untyped-def]
        """Loops over send(); like the board's, it does not retry EAGAIN."""
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += self.send(view[done:])

    def recv_into(self, buffer, bufsize: int = 0) -> int:  # type: ignore[no-untyped-def]
        """Read up to bufsize (0: len(buffer)) bytes; 0 means the peer closed. Polls like the board's lwIP socket."""
        world = self._usable()
        view = memoryview(buffer).cast("B")
        if view.readonly:
            raise TypeError("buffer must be writable")
        size = len(view) if bufsize <= 0 or bufsize > len(view) else bufsize
        start = world.clock()
        while True:
            timed_out = bool(self._timeout) and world.clock() - start >= self._timeout  # type: ignore[operator]
            got = self._poll(world, view, size)
            if self._timeout == 0 and got < 1:
                raise _oserror(ENOTCONN if got == 0 else EAGAIN)
            if got != -1 or timed_out:
                break
            wait = 0.05 if not self._timeout else max(0.0, min(0.05, start + self._timeout - world.clock()))
            self._wait_readable(world, wait)
            world = self._usable()
        if timed_out:
            raise _oserror(ETIMEDOUT)  # what arrived in this last poll is dropped, as on the board
        return got

    def _poll(self, world: "_world.World", view: memoryview, size: int) -> int:
        """One lwip_recv(): bytes copied, 0 at end of stream, -1 for nothing yet (or a reset connection)."""
        if self._reset or self._blackholed(world):
            return -1
        if not self._shaped:
            try:
                return self._sock.recv_into(view, size)
            except BlockingIOError:
                return -1
            except OSError:
                self._reset = True
                return -1
        now = world.clock()
        with self._cond:
            if self._in and self._in[0][0] <= now:
                ready, data = self._in[0]
                if not data:
                    return 0
                n = min(size, len(data))
                view[:n] = data[:n]
                if n == len(data):
                    self._in.popleft()
                else:
                    self._in[0] = (ready, data[n:])
                return n
            if self._in_error is not None and self._in_error[0] <= now:
                self._reset = True
            return -1

    def _wait_readable(self, world: "_world.World", seconds: float) -> None:
        if self._reset or self._blackholed(world):
            _time.sleep(seconds)
        elif self._shaped:
            with self._cond:
                due = self._in[0][0] if self._in else (self._in_error[0] if self._in_error else None)
                wake = seconds if due is None else min(seconds, max(0.0, due - world.clock()))
                if wake > 0:
                    self._cond.wait(wake)
        else:
            _select.select([self._sock], [], [], seconds)

    def close(self) -> None:
        """Like lwIP's tcp_close: what is still in the send buffer goes out before the FIN."""
        if not self._closed:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
                self._release()
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
