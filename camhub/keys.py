"""Everything the application object holds, by key (the factory in app.py fills them in)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from aiohttp import web

from .auth import ApiKeys
from .config import Config
from .fanout import Fanout
from .recording import Recorder
from .registry import Registry
from .settings_store import SettingsStore

CONFIG = web.AppKey("config", Config)
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("clock")  # unix seconds; tests inject their own
API_KEYS = web.AppKey("api_keys", ApiKeys)
KEY_SOURCE = web.AppKey("key_source", str)  # "configured", "stored" or "generated"
REGISTRY = web.AppKey("registry", Registry)
FANOUT = web.AppKey("fanout", Fanout)
RECORDER = web.AppKey("recorder", Recorder)
REJECTS = web.AppKey("rejects", Counter)  # rejected device requests by HTTP status
STARTED = web.AppKey("started", float)
SETTINGS = web.AppKey("settings", SettingsStore)  # what the hub wants each camera's settings to be
