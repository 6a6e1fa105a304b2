"""Everything the application object holds, by key (the factory in app.py fills them in)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from aiohttp import web

from .access import Access
from .auth import ApiKeys
from .config import Config
from .export.jobs import Exports
from .fanout import Fanout
from .gate import Gate
from .recording import Recorder
from .registry import Registry
from .settings_store import SettingsStore
from .viewcache import ViewCache

CONFIG = web.AppKey("config", Config)
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("clock")  # unix seconds; tests inject their own
API_KEYS = web.AppKey("api_keys", ApiKeys)
ACCESS = web.AppKey("access", Access)  # people's roles, Host allow-list, failed-login limits
KEY_SOURCE = web.AppKey("key_source", str)  # "configured", "stored" or "generated"
REGISTRY = web.AppKey("registry", Registry)
FANOUT = web.AppKey("fanout", Fanout)
RECORDER = web.AppKey("recorder", Recorder)
EXPORTS = web.AppKey("exports", Exports)  # export jobs and their files
REJECTS = web.AppKey("rejects", Counter)  # rejected device requests by HTTP status
STARTED = web.AppKey("started", float)
VIEWS = web.AppKey("views", ViewCache)
GATE = web.AppKey("gate", Gate)  # set by server.Server: connection counts for /metrics
SETTINGS = web.AppKey("settings", SettingsStore)  # what the hub wants each camera's settings to be
