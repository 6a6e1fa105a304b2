"""Who may talk to the hub: devices prove themselves with X-API-Key, people with the optional viewer password."""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

KEY_FILE = "api_key"
# Device API endpoints carry X-API-Key instead; /healthz stays open for load balancers and supervisors.
DEVICE_PATHS = frozenset({"/api/v1/devices/register", "/api/v1/stream/stream", "/api/v1/devices/heartbeat"})
OPEN_PATHS = DEVICE_PATHS | {"/healthz"}


def load_api_keys(configured: Iterable[str], data_dir: Path) -> tuple[tuple[str, ...], str]:
    """Configured keys win; otherwise the key generated on first start (kept 0600 in the data dir).

    Returns the keys and where they came from: "configured", "stored" or "generated".
    """
    keys = tuple(configured)
    if keys:
        return keys, "configured"
    path = data_dir / KEY_FILE
    if path.exists():
        key = path.read_text().strip()
        if key:
            return (key,), "stored"
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return (key,), "generated"


class ApiKeys:
    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = tuple(keys)
        self._encoded = tuple(key.encode() for key in self.keys)

    def check(self, request: web.Request) -> str | None:
        """The reason the request is refused, or None when it carries a valid key."""
        given = request.headers.get("X-API-Key")
        if not given:
            return "missing X-API-Key header"
        raw = given.encode()
        # Compare against every key so the time taken does not reveal which prefix matched.
        if any([hmac.compare_digest(raw, key) for key in self._encoded]):
            return None
        return "invalid API key"


def password_matches(header: str, password: str) -> bool:
    """True when an Authorization header carries `password` by HTTP Basic; the compare takes constant time."""
    given = _basic_password(header)
    return given is not None and hmac.compare_digest(given.encode(), password.encode())


def _basic_password(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]


def viewer_password_middleware(password: str, *others: str) -> Middleware:
    """HTTP Basic (any user name) so the same URL works in browsers, ffmpeg, VLC and Home Assistant.

    `others` (the operator password) open the viewer pages too: whoever may change settings may watch."""
    accepted = [p.encode() for p in (password, *others) if p]

    @web.middleware
    async def require_password(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in OPEN_PATHS:
            given = _basic_password(request.headers.get("Authorization", ""))
            if given is None or not any([hmac.compare_digest(given.encode(), p) for p in accepted]):
                return web.json_response(
                    {"error": "viewer password required (HTTP Basic auth, any user name)"},
                    status=401,
                    headers={"WWW-Authenticate": 'Basic realm="camhub", charset="UTF-8"'},
                )
        return await handler(request)

    return require_password
