"""Which device a request may speak for: devices prove themselves with X-API-Key.

A key is a fleet key (any device id) or bound to one device (`secret@device-id`): a bound key that leaks lets its
holder post as that one camera, not rename, spoof or flood the others.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from .errors import ApiError
from .registry import device_id_problem

KEY_FILE = "api_key"
MAX_KEY_CHARS = 256


@dataclass(frozen=True)
class Grant:
    """What a valid key allows: any device (`device` None) or exactly one."""

    device: str | None

    def claim(self, device_id: str) -> None:
        """Refuses (403) a bound key speaking for another device."""
        if self.device is not None and device_id != self.device:
            raise ApiError(403, f"this API key belongs to device {self.device!r}, not {device_id!r}")


def parse_key(entry: str) -> tuple[str, str | None]:
    """`secret` (fleet key) or `secret@device-id`; ValueError says what is wrong with the entry."""
    secret, at, device = entry.rpartition("@") if "@" in entry else (entry, "", "")
    if not secret:
        raise ValueError(f"API key entry {entry!r} has no key before '@'")
    if len(secret) > MAX_KEY_CHARS or not secret.isascii() or not secret.isprintable() or " " in secret:
        raise ValueError(f"API keys are 1-{MAX_KEY_CHARS} printable ASCII characters without spaces")
    if at:
        problem = device_id_problem(device)
        if problem:
            raise ValueError(f"API key entry bound to device {problem}")
    return secret, device or None


def load_api_keys(configured: Iterable[str], data_dir: Path) -> tuple[tuple[str, ...], str]:
    """Configured keys win; otherwise the fleet key generated on first start (kept 0600 in the data dir).

    Returns the key entries and where they came from: "configured", "stored" or "generated".
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
    def __init__(self, entries: Iterable[str]) -> None:
        parsed = [parse_key(entry) for entry in entries]
        self._keys = tuple((secret.encode(), Grant(device)) for secret, device in parsed)
        # The key a camera is told to use in the start-up banner: a fleet key if there is one.
        fleet = [secret for secret, device in parsed if device is None]
        self.shown = (fleet or [secret for secret, _ in parsed])[0]

    def check(self, request: web.Request) -> Grant | str:
        """The grant of the request's key, or why it is refused."""
        given = request.headers.get("X-API-Key")
        if not given:
            return "missing X-API-Key header"
        # aiohttp hands undecodable header bytes over as surrogates; such a value matches no key.
        raw = given.encode("utf-8", "surrogateescape")
        grant: Grant | None = None
        # Compare against every key so the time taken does not reveal which prefix matched.
        for secret, candidate in self._keys:
            if hmac.compare_digest(raw, secret):
                grant = candidate
        return grant if grant is not None else "invalid API key"
