"""Who may do what, for people and their programs (devices are auth.py's).

- viewer: every page, stream, snapshot and JSON view; the viewer password when set, else anyone.
- operator: every change (recording, settings, deletion); the operator password when set, else whoever may view.
  Changes also pass the CSRF checks (origin.py) whoever asks.
- metrics: /metrics; the metrics token when set (for Prometheus), else whoever may view.

A password comes as HTTP Basic (any user name) so the same URL works in browsers, ffmpeg, VLC and Home Assistant,
or as `Authorization: Bearer <password>` for scripts. The operator password is accepted wherever a viewer's is.
Wrong credentials count against the client's address (ratelimit.py).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .config import Config
from .errors import ApiError
from .origin import HostAllowList, check_same_origin
from .ratelimit import FailedAuth

log = logging.getLogger(__name__)

# Device API endpoints carry X-API-Key instead (checked by their handlers).
DEVICE_PATHS = frozenset({"/api/v1/devices/register", "/api/v1/stream/stream", "/api/v1/devices/heartbeat"})
OPEN_PATHS = frozenset({"/healthz"})  # for load balancers and supervisors
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
VIEWER, OPERATOR, METRICS = "viewer", "operator", "metrics"
_REQUIRED = {
    VIEWER: "viewer password required (HTTP Basic auth, any user name)",
    OPERATOR: "operator password required for changes (HTTP Basic auth, any user name)",
    METRICS: "metrics token required (Authorization: Bearer <token>)",
}


def required_role(method: str, path: str) -> str | None:
    """The role a request needs; None for the device API (its key is checked by the handler) and /healthz."""
    if path in DEVICE_PATHS and method == "POST":
        return None
    if path in OPEN_PATHS and method in SAFE_METHODS:
        return None
    if path == "/metrics":
        return METRICS
    return VIEWER if method in SAFE_METHODS else OPERATOR


def presented_secret(request: web.Request) -> str | None:
    """The password or token in Authorization (Basic: the password part; Bearer: the token), if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""  # malformed counts as wrong, not as absent
    return decoded.partition(":")[2]


def _matches(given: str, secrets: Iterable[str]) -> bool:
    raw = given.encode("utf-8", "surrogateescape")
    return any([hmac.compare_digest(raw, secret.encode()) for secret in secrets if secret])


class Access:
    def __init__(self, config: Config, failures: FailedAuth) -> None:
        self.failures = failures
        self.hosts = HostAllowList(config.allowed_hosts)
        self._metrics_token = bool(config.metrics_token)
        operator = (config.operator_password,) if config.operator_password else ()
        viewer = (config.view_password, *operator) if config.view_password else ()
        # Empty: open to all. Without an operator password, changes are open to whoever may view.
        self._secrets = {
            VIEWER: viewer,
            OPERATOR: operator or viewer,
            METRICS: (config.metrics_token, *operator) if config.metrics_token else viewer,
        }

    def open_to_all(self, role: str) -> bool:
        return not self._secrets[role]

    def warnings(self) -> tuple[str, ...]:
        """What the start-up banner tells whoever runs the hub about roles left open."""
        if self.open_to_all(OPERATOR):
            return ("anyone who can reach the hub may view and change recording: set --operator-password",)
        if self.open_to_all(VIEWER):
            return ("anyone who can reach the hub may view; changes need the operator password",)
        return ()

    def check(self, request: web.Request, role: str) -> None:
        """Raises the 401/429 the request gets, or returns when it may go on."""
        if self.open_to_all(role):
            return
        address = request.remote or "?"
        wait = self.failures.retry_after(address)
        if wait:
            raise ApiError(
                429, f"too many failed logins from {address}: retry in {wait} s", headers={"Retry-After": str(wait)}
            )
        given = presented_secret(request)
        if given is not None and _matches(given, self._secrets[role]):
            return
        if given is not None:
            self.failures.failed(address)
            log.info("wrong %s credentials from %s for %s %s", role, address, request.method, request.path)
        if role == METRICS and self._metrics_token:
            raise ApiError(401, _REQUIRED[METRICS], headers={"WWW-Authenticate": 'Bearer realm="camhub metrics"'})
        role = VIEWER if role == METRICS else role
        raise ApiError(401, _REQUIRED[role], headers={"WWW-Authenticate": 'Basic realm="camhub", charset="UTF-8"'})


def access_middleware(access: Access) -> Middleware:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        role = required_role(request.method, request.path)
        if role is None:
            return await handler(request)
        access.hosts.check(request)
        access.check(request, role)
        if role == OPERATOR:
            check_same_origin(request)
        return await handler(request)

    return guard
