"""Failure kinds: every exception the loop recovers from maps to one kind with a readable cause."""

import json

# errno values of both CircuitPython on ESP32 (newlib) and Linux/MicroPython, which differ.
_TIMEOUT = (11, 110, 116)
_REFUSED = (111,)
_RESET = (9, 32, 103, 104, 107, 113, 128)
_UNREACHABLE = (101, 114, 118)
# mbedtls codes (negative, no text on the board: its build has no MBEDTLS_ERROR_STRINGS).
_TLS_CAUSES = {
    -0x2700: "the hub's certificate is not trusted (self-signed? put its certificate in CAMSTREAM_CA_FILE)",
    -0x7280: "the hub closed the TLS connection",
    -0x7780: "the hub rejected the TLS handshake (fatal alert)",
    -0x7200: "the hub's TLS answer was not valid (is it really https on that port?)",
}
DETAIL_MAX = 80


class HTTPStatusError(Exception):
    """The server answered, but not with 2xx."""

    def __init__(self, status, request, detail=""):
        super().__init__(status, request, detail)
        self.status = status
        self.request = request
        self.detail = detail

    def __str__(self):
        text = "%s got HTTP %d" % (self.request, self.status)
        if self.detail:
            text += " (" + self.detail + ")"
        return text


class UploadTimeout(OSError):
    """A request missed its deadline (the socket kept answering EAGAIN or stayed silent)."""

    def __init__(self, message):
        super().__init__(116, message)
        self.message = message

    def __str__(self):
        return self.message


class ProtocolError(Exception):
    """The server's response was not HTTP/1.x we can parse."""


class LinkDown(Exception):
    """WiFi is not connected and joining failed."""


class CameraTimeout(Exception):
    """take() returned no frame."""


class CameraInitError(Exception):
    """espcamera could not start; the message says the likely cause."""


def printable(data, limit=DETAIL_MAX):
    """At most `limit` characters of `data` (bytes or str) as one printable line, whatever it holds.

    CircuitPython's bytes.decode() ignores errors="replace" and raises UnicodeError on invalid UTF-8,
    so bytes are never decoded: each one outside printable ASCII becomes "?". Text keeps its
    characters; only control characters become spaces.
    """
    if isinstance(data, str):
        return "".join(c if " " <= c != "\x7f" else " " for c in data[:limit]).strip()
    out = bytearray(min(len(data), limit))
    for i in range(len(out)):
        ch = data[i]
        out[i] = ch if 32 <= ch <= 126 else (32 if ch in (9, 10, 13) else 63)
    return str(out, "ascii").strip()


def error_detail(content):
    """The hub's {"error": "..."} message from a response body, or the start of the body, as one line."""
    try:
        message = json.loads(content).get("error")
        if message:
            return printable(str(message))
    except (ValueError, AttributeError, TypeError):
        pass  # not JSON (UnicodeError is a ValueError): show the raw start
    return printable(content) if content else ""


_LIBRARY = "the library %s is missing from CIRCUITPY/lib: run `circup install -r requirements.txt`"
_MISSING = {
    "espcamera": "this CircuitPython has no espcamera module: it is built only for ESP32-S3 boards with PSRAM,"
    " and CamStream needs a camera board with PSRAM",
    "adafruit_requests": _LIBRARY % "adafruit_requests",
    "adafruit_connection_manager": _LIBRARY % "adafruit_connection_manager",
}


def missing_module(exc):
    """A one-line explanation of an ImportError at start-up."""
    text = str(exc)
    for name in _MISSING:
        if "'%s'" % name in text:
            return _MISSING[name]
    return "cannot start: %s" % text


def errno_of(exc):
    code = getattr(exc, "errno", None)
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
    return code


def classify(exc):
    """The failure kind of `exc`, or "other" for what the loop must not swallow (bugs)."""
    name = type(exc).__name__
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, LinkDown):
        return "wifi"
    if isinstance(exc, (CameraTimeout, CameraInitError)):
        return "camera"
    if isinstance(exc, ProtocolError):
        return "protocol"
    if isinstance(exc, HTTPStatusError):
        if exc.status in (401, 403):
            return "auth"
        if exc.status >= 500:
            return "server"
        return "rejected"
    if name == "gaierror":
        return "dns"
    if isinstance(exc, OSError):
        code = errno_of(exc)
        if code in _TIMEOUT:
            return "timeout"
        if code in _REFUSED:
            return "refused"
        if code in _RESET:
            return "reset"
        if code in _UNREACHABLE:
            return "unreachable"
        if isinstance(code, int) and code <= -0x1000:
            return "tls"
        if isinstance(code, int) and code < 0:
            return "dns"  # getaddrinfo's EAI_* codes
        return "reset"
    if name == "OutOfRetries" or (isinstance(exc, RuntimeError) and "socket" in str(exc)):
        return "reset"
    return "other"


_CAUSES = {
    "wifi": "WiFi down",
    "dns": "cannot resolve the server name",
    "refused": "server refused the connection (is the hub running on that host and port?)",
    "unreachable": "server unreachable",
    "reset": "connection lost",
    "tls": "TLS failed",
    "timeout": "timed out",
    "auth": "server rejected the API key: check CAMSTREAM_API_KEY",
    "rejected": "server rejected the request",
    "server": "server error",
    "protocol": "bad response from the server",
    "camera": "camera gave no frame",
    "memory": "out of memory",
}


def tls_cause(code):
    """What a negative mbedtls code most likely means, with the code in hex (the board gives no text)."""
    cause = _TLS_CAUSES.get(code, "mbedtls error")
    return "%s (mbedtls -0x%04X)" % (cause, -code)


def describe(kind, exc):
    """The failure as text for the console line; TLS errors arrive as a bare negative number."""
    if kind == "tls":
        return tls_cause(errno_of(exc))
    return str(exc)


def line(kind, count, exc, retry_s):
    """The one console line reporting a failure."""
    text = "Error %s #%d: %s: %s" % (kind, count, _CAUSES.get(kind, kind), describe(kind, exc))
    if retry_s:
        text += "; retry in %.1f s" % retry_s
    return text
