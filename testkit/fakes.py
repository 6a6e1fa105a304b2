"""Fakes of the CircuitPython I/O the firmware gets injected: socket, connection manager, camera, clock.

Runs unchanged on CPython and MicroPython 1.27, so allocation measurements under MicroPython use the
same fakes as the CPython unit tests. The fakes copy nothing they are not asked to keep, so
`gc.mem_alloc()` around a firmware call measures the firmware, not the fake.
"""

import errno

EAGAIN = 11
ETIMEDOUT = 116
ECONNRESET = 104

OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
TICKS_PERIOD = 1 << 29
# The hub the probes' fakes stand for, and who they are to it.
HOST = "127.0.0.1"
PORT = 8080
SERVER_URL = "http://%s:%d" % (HOST, PORT)
API_KEY = "probe-key"
DEVICE_ID = "probe-cam"


def http_response(status, body, content_type=b"application/json", headers=b""):
    """One HTTP/1.1 answer as a hub would send it (`headers`: more header lines, each ending in CRLF)."""
    return b"HTTP/1.1 %d Status\r\nContent-Type: %s\r\n%sContent-Length: %d\r\n\r\n%s" % (
        status,
        content_type,
        headers,
        len(body),
        body,
    )


def synthetic_jpeg(size):
    """`size` bytes that look like a JPEG (SOI ... EOI) and vary, so misplaced bytes show."""
    body = bytearray(size)
    body[0:2] = b"\xff\xd8"
    for i in range(2, size - 2):
        body[i] = (i * 7 + (i >> 8)) & 0xFF
    body[size - 2 : size] = b"\xff\xd9"
    return bytes(body)


class FakeSocket:
    """A non-blocking lwIP socket: partial sends, EAGAIN, one scripted response per request.

    `response` is one response (bytes) served for every request, or a list served in order whose
    last item repeats. Requests are told apart by their heads' Content-Length, so pipelined requests
    each get their answer in order, and a client that does not drain a response reads its stale
    bytes next time, as on a real socket. `recv_max` splits responses across `recv_into` calls. `reset_after`
    (bytes, 0 = never) makes `send` raise ECONNRESET once that many bytes went out, like a peer reset mid-upload.
    `link` (a FakeLink) makes every byte sent take its air time on the link's clock.
    """

    def __init__(
        self, response=OK_RESPONSE, max_send=5744, eagain_every=7, keep=False, recv_max=0, reset_after=0, link=None
    ):
        if isinstance(response, (bytes, bytearray)):
            response = [response]
        self._responses = [memoryview(bytes(r)) for r in response]
        self.max_send = max_send
        self.eagain_every = eagain_every
        self.recv_max = recv_max
        self.reset_after = reset_after
        self.link = link
        self.sent = bytearray() if keep else None
        self.send_calls = 0
        self.recv_calls = 0
        self.bytes_sent = 0
        self.requests = 0
        self.timeout = None
        self.closed = False
        self.address = None
        self.options = []
        self._owed = 0
        self._current = None
        self._pos = 0
        self._head = bytearray(1024)  # the current request's head, to find its Content-Length
        self._head_len = 0
        self._in_head = False
        self._body_left = 0

    def _response_for(self, index):
        if index < len(self._responses):
            return self._responses[index]
        return self._responses[-1]

    def send(self, buf):
        if self.closed:
            raise OSError(errno.EBADF)
        self.send_calls += 1
        if self.eagain_every and self.send_calls % self.eagain_every == 0:
            raise OSError(EAGAIN)
        n = len(buf)
        if n > self.max_send:
            n = self.max_send
        if self.reset_after and self.bytes_sent + n >= self.reset_after:
            raise OSError(ECONNRESET)
        self._track(buf, n)
        self.bytes_sent += n
        if self.sent is not None:
            self.sent.extend(buf[:n])
        if self.link is not None:
            self.link.carry(n)
        return n

    def _track(self, buf, n):
        """Follows request boundaries without allocating: heads byte by byte, bodies by count."""
        head = self._head
        i = 0
        while i < n:
            if self._body_left:
                step = n - i if n - i < self._body_left else self._body_left
                self._body_left -= step
                i += step
                continue
            if not self._in_head:
                self._in_head = True
                self._head_len = 0
                self._owed += 1
                self.requests += 1
            at = self._head_len
            if at < len(head):
                head[at] = buf[i] & 0xFF
            self._head_len = at + 1
            i += 1
            if 4 <= self._head_len <= len(head) and head[at] == 10 and head[at - 1] == 13 and head[at - 2] == 10:
                self._in_head = False
                self._body_left = self._content_length()

    def _content_length(self):
        head = self._head
        end = self._head_len
        pos = head.find(b"\r\ncontent-length:", 0, end)
        if pos < 0:
            pos = head.find(b"\r\nContent-Length:", 0, end)
        if pos < 0:
            return 0
        value = 0
        pos += 17
        while pos < end and head[pos] in (32, 9):
            pos += 1
        while pos < end and 48 <= head[pos] <= 57:
            value = value * 10 + head[pos] - 48
            pos += 1
        return value

    def recv_into(self, buf, nbytes=0):
        if self.closed:
            raise OSError(errno.EBADF)
        self.recv_calls += 1
        if self._current is None or self._pos >= len(self._current):
            if not self._owed:
                raise OSError(EAGAIN if self.timeout == 0 else ETIMEDOUT)
            self._current = self._response_for(self.requests - self._owed)
            self._owed -= 1
            self._pos = 0
        n = nbytes or len(buf)
        if n > len(buf):
            n = len(buf)
        if self.recv_max and n > self.recv_max:
            n = self.recv_max
        left = len(self._current) - self._pos
        if n > left:
            n = left
        buf[0:n] = self._current[self._pos : self._pos + n]
        self._pos += n
        return n

    def connect(self, address):
        self.address = address

    def settimeout(self, value):
        self.timeout = value

    def setblocking(self, flag):
        self.timeout = None if flag else 0

    def setsockopt(self, level, optname, value):
        self.options.append((level, optname, value))

    def close(self):
        self.closed = True


class FakeLink:
    """A radio link for fake sockets, like lwIP's on the board: a 5744-byte send buffer that drains onto the air
    at `bytes_per_ms` (a test may change it at any time to step the link). A send that does not fit the buffer
    moves `clock` (a FakeClock) on until it does, as the firmware would wait out EAGAIN."""

    SEND_BUFFER = 5744

    def __init__(self, clock, bytes_per_ms):
        self.clock = clock
        self.bytes_per_ms = bytes_per_ms
        self._queued = 0
        self._at = clock.ms

    def carry(self, nbytes):
        now = self.clock.ms
        self._queued -= (now - self._at) * self.bytes_per_ms
        if self._queued < 0:
            self._queued = 0
        self._at = now
        over = self._queued + nbytes - self.SEND_BUFFER
        if over > 0:
            wait = (over + self.bytes_per_ms - 1) // self.bytes_per_ms
            self.clock.advance(wait)
            self._at = self.clock.ms
            self._queued -= wait * self.bytes_per_ms
        self._queued += nbytes


class LeanSocket(FakeSocket):
    """A FakeSocket whose every call costs the same whatever it carries, for instruction counts.

    FakeSocket reads request heads byte by byte (interpreted), which would bill the harness to the
    client under test. Here a send() whose buffer starts with b"POST" opens a request (camstream's
    uplink and adafruit_requests both put the method first in a send() of its own), and each opened
    request is owed one copy of `response`. No partial-send EAGAIN, resets or keep; recv_into as FakeSocket's.
    """

    def __init__(self, response=OK_RESPONSE, max_send=5744):
        super().__init__(response, max_send=max_send, eagain_every=0)

    def send(self, buf):
        if self.closed:
            raise OSError(errno.EBADF)
        self.send_calls += 1
        n = len(buf)
        if n > self.max_send:
            n = self.max_send
        if n >= 4 and buf[0] == 80 and buf[1] == 79 and buf[2] == 83 and buf[3] == 84:
            self._owed += 1
            self.requests += 1
        self.bytes_sent += n
        return n


class FakeConnectionManager:
    """adafruit_connection_manager's ConnectionManager: one socket per key, reused once freed.

    `socket_factory()` makes a connected socket or raises (OSError for a refused connection,
    like the real pool). `connects` counts new connections.
    """

    def __init__(self, socket_factory):
        self._factory = socket_factory
        self._by_key = {}
        self._key_of = {}
        self._available = []
        self.connects = 0
        self.sockets = []

    def get_socket(self, host, port, proto, session_id=None, *, timeout=1.0, is_ssl=False, ssl_context=None):
        if session_id:
            session_id = str(session_id)
        key = (host, port, proto, session_id)
        if key in self._by_key:
            sock = self._by_key[key]
            if sock in self._available:
                self._available.remove(sock)
                return sock
            raise RuntimeError("An existing socket is already connected to %s//%s:%d" % (proto, host, port))
        if proto == "https:":
            is_ssl = True
        if is_ssl and not ssl_context:
            raise ValueError("ssl_context must be provided if using ssl")
        sock = self._factory()
        sock.settimeout(timeout)
        self.connects += 1
        self.sockets.append(sock)
        self._by_key[key] = sock
        self._key_of[id(sock)] = key
        return sock

    def _check(self, sock):
        if id(sock) not in self._key_of:
            raise RuntimeError("Socket not managed")

    def free_socket(self, sock):
        self._check(sock)
        if sock not in self._available:
            self._available.append(sock)

    def close_socket(self, sock):
        self._check(sock)
        sock.close()
        key = self._key_of.pop(id(sock))
        del self._by_key[key]
        if sock in self._available:
            self._available.remove(sock)

    def close_all(self):
        """What `connection_manager_close_all(pool)` does to this manager."""
        for sock in list(self._by_key.values()):
            self.close_socket(sock)

    @property
    def managed_socket_count(self):
        return len(self._by_key)

    @property
    def available_socket_count(self):
        return len(self._available)


class FakeSocketPool:
    """socketpool.SocketPool for the real adafruit_connection_manager / adafruit_requests.

    Every socket() comes from `socket_factory()`; `sockets` lists them in order.
    """

    AF_INET = 2
    SOCK_STREAM = 1

    def __init__(self, socket_factory):
        self._factory = socket_factory
        self.sockets = []

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        return [(self.AF_INET, self.SOCK_STREAM, 0, "", (host, port))]

    def socket(self, family=AF_INET, type=SOCK_STREAM, proto=0):
        sock = self._factory()
        self.sockets.append(sock)
        return sock


def readonly_view(data):
    """A read-only memoryview like espcamera's take(): typecode 'b' where the runtime can cast."""
    view = memoryview(bytes(data))
    if hasattr(view, "cast"):
        view = view.cast("b")
    return view


class FakeCamera:
    """espcamera.Camera in JPEG mode: `take()` plays `frames` in a loop; a None item is a timeout.

    Each view is released when the next is taken (on CPython), so firmware that keeps a frame
    past the next `take()` fails loudly, as it would read overwritten memory on the board.
    With `sizes(frame_size, quality)`, every frame is the first that many bytes of `frames[0]`, so frame sizes
    follow quality and `reconfigure(frame_size=)` (recorded in `reconfigured`) like a sensor's. Knobs (vflip,
    brightness, ...) are plain attributes.
    """

    def __init__(self, frames, frame_size=None, quality=12, width=1280, height=720, sensor_name="OV5640", sizes=None):
        self._frames = [None if f is None else bytes(f) for f in frames]
        self._sizes = sizes
        self._whole = readonly_view(self._frames[0]) if sizes is not None else None
        self.reconfigured = []
        self._index = 0
        self._last = None
        self.frame_size = frame_size
        self.quality = quality
        self.width = width
        self.height = height
        self.sensor_name = sensor_name
        self.takes = 0
        self.timeouts = []
        self.deinited = False

    def take(self, timeout=0.25):
        if self.deinited:
            raise RuntimeError("Camera deinitialized")
        self._drop_last()
        self.takes += 1
        self.timeouts.append(timeout)
        if self._sizes is not None:
            self._last = self._whole[: self._sizes(self.frame_size, self.quality)]
            return self._last
        frame = self._frames[self._index % len(self._frames)]
        self._index += 1
        if frame is None:
            return None
        self._last = readonly_view(frame)
        return self._last

    def reconfigure(self, frame_size=None, pixel_format=None, grab_mode=None, framebuffer_count=None):
        if self.deinited:
            raise RuntimeError("Camera deinitialized")
        self._drop_last()
        self.reconfigured.append(frame_size)
        if frame_size is not None:
            self.frame_size = frame_size

    def _drop_last(self):
        last = self._last
        self._last = None
        if last is not None and hasattr(last, "release"):
            try:
                last.release()
            except Exception:
                pass

    def deinit(self):
        self._drop_last()
        self.deinited = True


class FakeClock:
    """A manual millisecond clock shaped like supervisor.ticks_ms (wraps at 2**29).

    `sleep(seconds)` advances it, so code paced with an injected sleep runs instantly in tests.
    """

    def __init__(self, start_ms=0):
        self.ms = start_ms
        self.sleeps = []

    def __call__(self):
        return self.ms % TICKS_PERIOD

    def ticks_ms(self):
        return self.ms % TICKS_PERIOD

    def monotonic_ns(self):
        return self.ms * 1000000

    def advance(self, ms):
        self.ms += ms

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.ms += int(seconds * 1000)


class FakeRadio:
    """wifi.radio: connect() checks lengths first and raises ValueError, as shared-bindings/wifi/Radio.c does;
    `fail` (an exception) makes every join fail after that check. `joins` records (ssid, password, timeout)."""

    def __init__(self, connected=True, rssi=-55, fail=None):
        self.connected = connected
        self.rssi = rssi
        self.fail = fail
        self.joins = []
        self.power_management = None
        self.ipv4_address = "192.168.1.77" if connected else None
        self.ap_info = FakeNetwork(rssi) if connected else None

    def connect(self, ssid, password=b"", *, channel=0, bssid=None, timeout=None):
        self.joins.append((ssid, password, timeout))
        if not 1 <= len(ssid) <= 32:
            raise ValueError("ssid length must be 1-32")
        if password and not 8 <= len(password) <= 64:
            raise ValueError("password length must be 8-64")
        if self.fail is not None:
            raise self.fail
        self.connected = True
        self.ipv4_address = "192.168.1.77"
        self.ap_info = FakeNetwork(self.rssi)


class FakeNetwork:
    """wifi.Network of the access point joined."""

    def __init__(self, rssi):
        self.rssi = rssi


class FakeSystem:
    """The firmware's board facts (camstream.device.System) with fixed values; counts collect() calls."""

    def __init__(self, free_heap=100000, free_psram=2000000, temperature=40.5):
        self._free_heap = free_heap
        self._free_psram = free_psram
        self._temperature = temperature
        self.collects = 0

    def free_heap(self):
        return self._free_heap

    def free_psram(self):
        return self._free_psram

    def largest_free_block(self):
        return self._free_psram

    def cpu_mhz(self):
        return 240

    def cpu_temperature(self):
        return self._temperature

    def reset_reason(self):
        return "POWER_ON"

    def uptime_ms(self):
        return 5000

    def collect(self):
        self.collects += 1


class FakeWatchdog:
    """camstream.device.Watchdog's surface: counts feeds."""

    def __init__(self):
        self.started = self.stopped = False
        self.feeds = 0

    def start(self):
        self.started = True

    def feed(self):
        self.feeds += 1

    def stop(self):
        self.stopped = True


class FakeControl:
    """camstream.control.Control's surface without a hub: records registrations and heartbeats; `fail` (an
    exception) makes both raise it; heartbeats are answered with the dicts in `answers`, in turn, then {}."""

    def __init__(self):
        self.registered = False
        self.registrations = []
        self.heartbeats = []
        self.answers = []
        self.fail = None

    def register(self, name, ip_address, extra):
        if self.fail:
            raise self.fail
        self.registrations.append((name, ip_address, extra))
        self.registered = True

    def heartbeat(self, fields):
        if self.fail:
            raise self.fail
        self.heartbeats.append(fields)
        return self.answers.pop(0) if self.answers else {}
