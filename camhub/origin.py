"""Is a browser's request genuinely for this hub: the Host allow-list (DNS rebinding) and CSRF checks.

A page on another site can make a browser send requests to the hub; it cannot make the browser send a JSON
body cross-origin without a CORS preflight the hub never grants, nor forge Origin or Sec-Fetch-Site. A page on a
name the attacker points at the hub's address (DNS rebinding) is same-origin to the browser; only the Host header
shows it, so names outside the allow-list are refused.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from aiohttp import web

from .errors import ApiError

AUTO = "auto"  # IP addresses, localhost and this machine's own names
ANY = "*"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def own_names() -> frozenset[str]:
    hostname = socket.gethostname().lower()
    names = {"localhost", hostname, f"{hostname}.local"}
    try:
        names.add(socket.getfqdn().lower())
    except OSError:
        pass
    return frozenset(names)


def host_name(host: str) -> str:
    """The name or address in a Host header, without the port or IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostAllowList:
    """`auto`, `*`, exact names and `.suffix` entries (`.example.lan` allows every name under example.lan)."""

    def __init__(self, entries: Iterable[str]) -> None:
        entries = [entry.strip().lower() for entry in entries if entry.strip()]
        self.any = ANY in entries
        self._auto = AUTO in entries
        self._names = set(entries) - {ANY, AUTO}
        if self._auto:
            self._names |= own_names()
        self._suffixes = tuple(entry for entry in self._names if entry.startswith("."))

    def allows(self, host: str | None) -> bool:
        if self.any or not host:  # a request without Host never came from a browser
            return True
        name = host_name(host)
        if name in self._names or (self._auto and (_is_address(name) or name.endswith(".localhost"))):
            return True
        return any(name.endswith(suffix) or name == suffix[1:] for suffix in self._suffixes)

    def check(self, request: web.Request) -> None:
        if not self.allows(request.headers.get("Host")):
            name = host_name(request.headers.get("Host", ""))
            raise ApiError(
                421,
                f"host {name[:100]!r} is not one of this hub's names: add it to --allowed-hosts / CAMHUB_ALLOWED_HOSTS",
            )


def check_same_origin(request: web.Request) -> None:
    """Refuses (403/415) a state-changing request a page on another site could have made a browser send."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise ApiError(403, f"cross-site request refused (Sec-Fetch-Site: {site[:40]})")
    origin = request.headers.get("Origin")
    if origin is not None:
        netloc = urlsplit(origin).netloc.lower() if origin != "null" else ""
        if not netloc or netloc != request.headers.get("Host", "").lower():
            raise ApiError(403, f"cross-origin request refused (Origin: {origin[:100]})")
    if request.method in _BODY_METHODS and request.content_type != "application/json":
        raise ApiError(415, f"changes are sent as application/json, not {request.content_type!r}")
