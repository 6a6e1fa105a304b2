"""Failure kinds: every exception the loop recovers from maps to one kind with a readable cause."""

import json

# errno values of both CircuitPython on ESP32 (newlib) and Linux/MicroPython, which differ.
_TIMEOUT = (11, 110, 116)
_REFUSED = (111,)
_RESET = (9, 32, 103, 104, 107, 113, 128)
_UNREACHABLE = (101, 114, 118)

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


def error_detail(content):
    """The hub's {"error": "..."} message from a response body, or the start of the body."""
    try:
        message = json.loads(content).get("error")
        if message:
            return str(message)
    except (ValueError, AttributeError, TypeError):
        pass
    return content[:80].decode("utf-8", "replace").strip() if content else ""


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
        if isinstance(code, int) and code < 0:
            return "dns"
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
    "timeout": "timed out",
    "auth": "server rejected the API key: check CAMSTREAM_API_KEY",
    "rejected": "server rejected the request",
    "server": "server error",
    "protocol": "bad response from the server",
    "camera": "camera gave no frame",
    "memory": "out of memory",
}


def line(kind, count, exc, retry_s):
    """The one console line reporting a failure."""
    text = "Error %s #%d: %s: %s" % (kind, count, _CAUSES.get(kind, kind), exc)
    if retry_s:
        text += "; retry in %.1f s" % retry_s
    return text
