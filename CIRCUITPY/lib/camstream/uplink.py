"""Frame upload: POST each JPEG straight from the camera's buffer over one keep-alive socket.

adafruit_requests copies the body (bytes(data)) and re-slices it after every partial send; this
sender writes take()'s memoryview in slices, builds the varying headers in a preallocated buffer
and reads the response into another, so a frame costs a few hundred bytes of heap at any size.
Once the socket has answered a frame, the next frame's request goes out before the previous answer is
read (HTTP/1.1 pipelining, one answer outstanding): the radio never idles for the round trip.
"""

import time

from camstream import ticks, urls
from camstream.errors import ProtocolError, UploadTimeout, errno_of

STREAM_PATH = "/api/v1/stream/stream"
SESSION_ID = "camstream-frames"
BOUNDARY = b"camstream7d41"  # sent 4 times per frame: short, yet too long to turn up inside a JPEG by chance
EAGAIN = 11
ECONNRESET = 104
ECONNREFUSED = 111
_SOCKET_TIMEOUTS = (110, 116)
_IPPROTO_TCP = 6
_TCP_NODELAY = 1
_SEND_MAX = 32768  # largest slice handed to one send(); lwIP takes what fits its send buffer
_EAGAIN_PAUSE_S = 0.002  # lets the WiFi task drain the send buffer instead of spinning
_RX_SIZE = 1024
_RX_SCRATCH = 128  # tail of the receive buffer that long bodies are drained through
_VARYING_MAX = 160
_CHECK_BYTES = 16384  # sends that make progress read the clock once per this many bytes
_TENS = bytes(48 + i // 10 for i in range(100))  # _TENS[n], _ONES[n]: the digits of 0 <= n < 100
_ONES = bytes(48 + i % 10 for i in range(100))


def _put_field(buf, end, prefix, value):
    """Write `prefix` and a non-negative int's ASCII digits so they end at buf[end]; returns their start.

    Written backwards, two digits per step from the pair tables: no string, and no pass to count digits.
    """
    if value < 0:
        raise ValueError("negative header value")
    while value >= 100:
        pair = value % 100
        value //= 100
        end -= 2
        buf[end] = _TENS[pair]
        buf[end + 1] = _ONES[pair]
    if value >= 10:
        end -= 2
        buf[end] = _TENS[value]
        buf[end + 1] = _ONES[value]
    else:
        end -= 1
        buf[end] = 48 + value
    start = end - len(prefix)
    if start < 0:
        raise ValueError("header values too long")
    buf[start:end] = prefix
    return start


def _name_is(buf, start, end, lower_name):
    """Case-insensitive compare of buf[start:end] with a lowercase ASCII name, without slicing."""
    if end - start != len(lower_name):
        return False
    for i in range(len(lower_name)):
        ch = buf[start + i]
        if 65 <= ch <= 90:
            ch += 32
        if ch != lower_name[i]:
            return False
    return True


def _parse_uint(buf, start, end):
    value = -1
    for i in range(start, end):
        ch = buf[i]
        if 48 <= ch <= 57:
            value = (0 if value < 0 else value * 10) + ch - 48
        elif ch not in (32, 9) or value >= 0:
            return -1
    return value


def _has_token(buf, start, end, lower_token):
    """True if a comma-separated header value contains `lower_token` (case-insensitive)."""
    n = len(lower_token)
    i = start
    while i + n <= end:
        while i < end and buf[i] in (32, 9, 44):
            i += 1
        j = i
        while j < end and buf[j] != 44:
            j += 1
        k = j
        while k > i and buf[k - 1] in (32, 9):
            k -= 1
        if _name_is(buf, i, k, lower_token):
            return True
        i = j + 1
    return False


class FrameUplink:
    """Sends frames to POST /api/v1/stream/stream as multipart/form-data or a raw image/jpeg body."""

    def __init__(
        self,
        connection_manager,
        server_url,
        api_key,
        device_id,
        mode="multipart",
        ssl_context=None,
        timeout_s=5.0,
        clock=None,
    ):
        if mode not in ("multipart", "raw"):
            raise ValueError("upload mode must be multipart or raw, not %r" % (mode,))
        self._cm = connection_manager
        self._server = server_url if isinstance(server_url, urls.ServerURL) else urls.parse(server_url)
        self._ssl_context = ssl_context
        self._timeout_s = timeout_s
        self._timeout_ms = int(timeout_s * 1000)
        self._clock = clock or ticks.default_clock()
        self._sock = None
        self._ahead = False  # this socket has answered a frame: the next may go out before its answer
        self._fell_back = False
        self.status = 0
        self.pending = 0  # bytes of the frame whose answer is still in flight (0: none)
        self.send_ms = 0  # how long the last frame's request took to go into the socket (the link's time for it)

        device = device_id.encode()
        common = b"".join(
            (
                b"POST ",
                self._server.path(STREAM_PATH).encode(),
                b" HTTP/1.1\r\nHost: ",
                self._server.host_header.encode(),
                b"\r\nX-API-Key: ",
                api_key.encode(),
                b"\r\nX-Device-Id: ",
                device,
                b"\r\n",
            )
        )
        self._heads = {
            "multipart": common + b"Content-Type: multipart/form-data; boundary=" + BOUNDARY + b"\r\nX-Frame-Seq: ",
            "raw": common + b"Content-Type: image/jpeg\r\nX-Frame-Seq: ",
        }
        self._preambles = {
            "multipart": b"".join(
                (
                    b"--",
                    BOUNDARY,
                    b'\r\nContent-Disposition: form-data; name="deviceId"\r\n\r\n',
                    device,
                    b"\r\n--",
                    BOUNDARY,
                    b'\r\nContent-Disposition: form-data; name="image"; filename="frame.jpg"\r\n',
                    b"Content-Type: image/jpeg\r\n\r\n",
                )
            ),
            "raw": b"",
        }
        self._epilogues = {"multipart": b"\r\n--" + BOUNDARY + b"--\r\n", "raw": b""}
        size = len(self._heads["multipart"]) + _VARYING_MAX + 4 + len(self._preambles["multipart"])
        self._head = bytearray(size)
        self._head_view = memoryview(self._head)
        self._rx = bytearray(_RX_SIZE)
        self._rx_view = memoryview(self._rx)
        self._body_start = 0
        self._body_len = 0
        self._carry_at = 0  # rx[_carry_at:_carry_at + _carry] arrived after the last answer: the next one's start
        self._carry = 0
        self._use(mode)

    def _use(self, mode):
        self.mode = mode
        self._fixed_head = self._heads[mode]
        preamble = self._preambles[mode]
        # The head is built backwards from its end: the blank line and the body's start stay put.
        self._tail_at = len(self._head) - 4 - len(preamble)
        self._head[self._tail_at :] = b"\r\n\r\n" + preamble
        self._epilogue = self._epilogues[mode]
        self._framing = len(preamble) + len(self._epilogue)

    @property
    def body(self):
        """The start of the last response body (for error messages; allocates, so not per frame)."""
        return bytes(self._rx[self._body_start : self._body_start + self._body_len])

    def send(self, frame, seq, capture_ms):
        """Upload one frame and wait for its answer; returns its HTTP status."""
        self.submit(frame, seq, capture_ms)
        self.settle()
        return self.status

    def submit(self, frame, seq, capture_ms, done=None):
        """Put one frame's request on the wire; `done(frame_len, status)` hears every answered frame.

        Returns once every byte of `frame` is in the socket's send buffer, so the caller may take() the
        next one. The answer of the frame sent before is read after this request went out; this frame's
        own answer stays in flight, except on a socket that has not answered a frame yet (the first one
        decides the multipart fallback while the frame is still valid). Status 0 means the frame was
        lost with the socket: then it raises, after reporting every frame it lost. One deadline covers
        all of it (budget.frame_s).
        """
        frame_len = len(frame)
        if not frame_len:
            raise ValueError("empty frame")
        clock = self._clock
        began = clock()
        deadline = ticks.add(began, self._timeout_ms)
        earlier = self.pending
        self.pending = 0
        try:
            if earlier:
                sock = self._sock
            else:
                sock = self._connect(deadline)
                began = clock()
            self._request(sock, frame, frame_len, seq, capture_ms, deadline)
            self.send_ms = ticks.diff(clock(), began)
            if earlier:
                keep = self._answer(sock, earlier, done, deadline)
                earlier = 0
                if not keep:
                    # The server closes after that answer: this request is lost with the socket, send it again.
                    self._drop(sock)
                    sock = self._connect(deadline)
                    self._request(sock, frame, frame_len, seq, capture_ms, deadline)
            if self._ahead:
                self.pending = frame_len
                return
            keep = self._answer(sock, frame_len, None, deadline)
            if self.status in (400, 415) and self.mode == "multipart" and not self._fell_back:
                self._fell_back = True
                print(
                    "Uplink: server answered HTTP %d to a multipart frame; switching to raw image/jpeg uploads"
                    % self.status
                )
                self._use("raw")
                if not keep:
                    self._drop(sock)
                    sock = self._connect(deadline)
                self._request(sock, frame, frame_len, seq, capture_ms, deadline)
                keep = self._answer(sock, frame_len, None, deadline)
        except BaseException:
            self._lose(earlier, done)
            self._lose(frame_len, done)
            raise
        self._finish(sock, keep)
        if done is not None:
            done(frame_len, self.status)

    def settle(self, done=None):
        """Read the answer still in flight, if any, and report it through `done(frame_len, status)`."""
        earlier = self.pending
        if not earlier:
            return
        self.pending = 0
        sock = self._sock
        try:
            keep = self._answer(sock, earlier, done, ticks.add(self._clock(), self._timeout_ms))
        except BaseException:
            self._lose(earlier, done)
            raise
        self._finish(sock, keep)

    def close(self):
        """Drop the pooled socket (next send reconnects)."""
        sock = self._sock
        self._sock = None
        self._ahead = False
        self._carry = 0
        self.pending = 0
        if sock is not None:
            try:
                self._cm.close_socket(sock)
            except RuntimeError:
                pass  # already closed by connection_manager_close_all

    def _connect(self, deadline):
        if self._expired(deadline):
            raise UploadTimeout("no time left to reconnect within %.1f s" % self._timeout_s)
        server = self._server
        try:
            sock = self._cm.get_socket(
                server.host,
                server.port,
                server.proto,
                SESSION_ID,
                timeout=self._timeout_s,
                is_ssl=server.is_ssl,
                ssl_context=self._ssl_context,
            )
        except OSError as exc:
            # lwIP reports a refused connect (RST in reply to the SYN) as ECONNRESET, not ECONNREFUSED.
            if errno_of(exc) in (ECONNRESET, ECONNREFUSED):
                raise OSError(ECONNREFUSED, "connection to %s:%d refused" % (server.host, server.port))
            raise
        if sock is not self._sock:
            self._sock = sock
            self._ahead = False
            self._carry = 0
            try:
                sock.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
            except (AttributeError, OSError, NotImplementedError):
                pass  # TLS sockets may not expose it; Nagle then only delays the small tail
        return sock

    def _drop(self, sock):
        if sock is self._sock:
            self._sock = None
            self._ahead = False
            self._carry = 0
        try:
            self._cm.close_socket(sock)
        except RuntimeError:
            pass

    def _request(self, sock, frame, frame_len, seq, capture_ms, deadline):
        head = self._head_view[self._write_head(frame_len, seq, capture_ms) :]
        self._send_all(sock, head, len(head), deadline)
        self._send_all(sock, frame, frame_len, deadline)
        if self._epilogue:
            self._send_all(sock, self._epilogue, len(self._epilogue), deadline)

    def _answer(self, sock, frame_len, done, deadline):
        """Read one answer; the socket may carry the next frame ahead of its answer once it sent a 2xx."""
        keep = self._read_response(sock, deadline)
        if not keep:
            self._ahead = False
        elif 200 <= self.status < 300:
            self._ahead = True
        if done is not None:
            done(frame_len, self.status)
        return keep

    def _lose(self, frame_len, done):
        """After any failure the socket may hold half a request or response: never reuse it."""
        sock = self._sock
        if sock is not None:
            self._drop(sock)
        if frame_len and done is not None:
            done(frame_len, 0)

    def _finish(self, sock, keep):
        if keep:
            self._cm.free_socket(sock)
        else:
            self._drop(sock)

    def _write_head(self, frame_len, seq, capture_ms):
        """Fill in this frame's numbers in front of the fixed tail; returns where the head starts."""
        buf = self._head
        pos = _put_field(buf, self._tail_at, b"\r\nContent-Length: ", frame_len + self._framing)
        pos = _put_field(buf, pos, b"\r\nX-Capture-Ms: ", capture_ms)
        return _put_field(buf, pos, self._fixed_head, seq)

    def _expired(self, deadline):
        return ticks.diff(deadline, self._clock()) <= 0

    def _send_all(self, sock, data, total, deadline):
        """Send data[:total] in slices, waiting out EAGAIN until the deadline.

        The clock is read after a send that made no progress and once per _CHECK_BYTES sent, so a link
        that keeps taking data still times out, having sent at most _CHECK_BYTES after the deadline.
        """
        clock = self._clock
        diff = ticks.diff
        pos = 0
        check_at = _CHECK_BYTES
        chunk = None
        while pos < total:
            if chunk is None:
                end = pos + _SEND_MAX
                if end > total:
                    end = total
                chunk = data if pos == 0 and end == len(data) else data[pos:end]
            try:
                sent = sock.send(chunk)
            except OSError as exc:
                if errno_of(exc) != EAGAIN:
                    raise
                sent = 0
            if sent:
                pos += sent
                chunk = None
                if pos < check_at:
                    continue
                check_at = pos + _CHECK_BYTES
            else:
                time.sleep(_EAGAIN_PAUSE_S)
            if diff(deadline, clock()) <= 0:
                raise UploadTimeout(
                    "upload timed out after %.1f s (%d of %d bytes sent)" % (self._timeout_s, pos, total)
                )

    def _recv(self, sock, start, limit, deadline):
        """recv_into rx[start:start+limit]; waits out EAGAIN/socket timeouts until the deadline."""
        while True:
            try:
                got = sock.recv_into(self._rx_view[start:] if start else self._rx, limit)
            except OSError as exc:
                code = errno_of(exc)
                if code != EAGAIN and code not in _SOCKET_TIMEOUTS:
                    raise
                if code == EAGAIN:
                    time.sleep(_EAGAIN_PAUSE_S)
                if self._expired(deadline):
                    raise UploadTimeout("no complete response within %.1f s" % self._timeout_s)
                continue
            if not got:
                raise OSError(ECONNRESET, "server closed the connection")
            return got

    def _read_response(self, sock, deadline):
        """Read status line, headers and the whole body; returns whether the socket stays usable."""
        rx = self._rx
        have = self._carry
        if have:
            start = self._carry_at
            for i in range(have):
                rx[i] = rx[start + i]
            self._carry = 0
        end = rx.find(b"\r\n\r\n", 0, have) if have else -1
        while end < 0:
            if have == _RX_SIZE:
                raise ProtocolError("response headers longer than %d bytes" % _RX_SIZE)
            have += self._recv(sock, have, _RX_SIZE - have, deadline)
            end = rx.find(b"\r\n\r\n", 0, have)
        if rx.find(b"HTTP/1.", 0, 7) != 0 or rx[8] != 32 or rx[12] not in (32, 13):
            raise ProtocolError("not an HTTP/1.x status line")
        status = _parse_uint(rx, 9, 12)
        if status < 100:
            raise ProtocolError("bad HTTP status code")
        self.status = status
        keep = rx[7] == 49  # HTTP/1.1 keeps the connection open unless told otherwise
        length = -1
        pos = rx.find(b"\r\n", 0, end) + 2
        while pos < end:
            eol = rx.find(b"\r\n", pos, end + 2)
            colon = rx.find(b":", pos, eol)
            if colon < 0:
                raise ProtocolError("malformed header line")
            # The usual spelling compares in C; any other case falls back to the byte loop.
            if (colon - pos == 14 and rx.find(b"Content-Length", pos, colon) == pos) or _name_is(
                rx, pos, colon, b"content-length"
            ):
                length = _parse_uint(rx, colon + 1, eol)
                if length < 0:
                    raise ProtocolError("bad Content-Length")
            elif _name_is(rx, pos, colon, b"connection"):
                if _has_token(rx, colon + 1, eol, b"close"):
                    keep = False
                elif _has_token(rx, colon + 1, eol, b"keep-alive"):
                    keep = True
            pos = eol + 2
        body_start = end + 4
        self._body_start = body_start
        if length < 0:
            # No Content-Length (chunked or read-until-close): the body's end is unknown, so the
            # socket cannot carry another request. Keep what arrived for error messages.
            self._body_len = have - body_start
            return False
        if have - body_start > length:
            # A pipelined answer right behind this one: keep its start for the next read.
            self._carry_at = body_start + length
            self._carry = have - self._carry_at
            have = self._carry_at
        self._body_len = min(length, _RX_SIZE - _RX_SCRATCH - body_start)
        if self._body_len < 0:
            self._body_len = 0
        remaining = length - (have - body_start)
        while remaining > 0:
            if have >= _RX_SIZE:
                have = _RX_SIZE - _RX_SCRATCH
            limit = _RX_SIZE - have
            if limit > remaining:
                limit = remaining
            got = self._recv(sock, have, limit, deadline)
            have += got
            remaining -= got
        return keep
