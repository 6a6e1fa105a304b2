"""The settings the hub wants each camera to have, kept in the registry's SQLite file beside the devices.

Each change gets the next version number of that camera; a camera reports the version it applied, which is how
the hub knows what is pending. Writes happen at once (they are rare) in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS device_settings (
    device_id TEXT PRIMARY KEY, version INTEGER NOT NULL, desired TEXT NOT NULL, updated_at REAL NOT NULL
)
"""
_UPSERT = (
    "INSERT INTO device_settings (device_id, version, desired, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT(device_id) DO UPDATE SET version = excluded.version, desired = excluded.desired, "
    "updated_at = excluded.updated_at"
)


def reported_version(report: object) -> int | None:
    """The settings version a heartbeat's report names, if it is one (an int, not a bool)."""
    version = report.get("version") if isinstance(report, dict) else None
    return None if isinstance(version, bool) or not isinstance(version, int) else version


@dataclass(frozen=True)
class Desired:
    version: int = 0
    values: dict[str, Any] = field(default_factory=dict)
    updated_at: float | None = None


class SettingsStore:
    def __init__(self, path: Path, clock: Callable[[], float]) -> None:
        self._path = path
        self._clock = clock
        self._desired: dict[str, Desired] = {}
        self._db: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        rows = await asyncio.to_thread(self._open_db)
        for device_id, version, desired, updated_at in rows:
            self._desired[device_id] = Desired(version, json.loads(desired), updated_at)

    def _open_db(self) -> list[tuple[str, int, str, float]]:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, check_same_thread=False)
        db.execute(_SCHEMA)
        db.commit()
        self._db = db
        return db.execute("SELECT device_id, version, desired, updated_at FROM device_settings").fetchall()

    async def close(self) -> None:
        async with self._lock:
            if self._db is not None:
                await asyncio.to_thread(self._db.close)
                self._db = None

    def get(self, device_id: str) -> Desired:
        return self._desired.get(device_id, Desired())

    async def put(self, device_id: str, values: dict[str, Any]) -> Desired:
        """Replace what the hub wants of this camera; the version moves on only when something changed."""
        async with self._lock:
            current = self.get(device_id)
            if values == current.values:
                return current
            desired = Desired(current.version + 1, dict(values), self._clock())
            row = (device_id, desired.version, json.dumps(desired.values), desired.updated_at)
            await asyncio.to_thread(self._write, row)
            self._desired[device_id] = desired
            return desired

    def for_heartbeat(self, device_id: str, report: object) -> dict[str, Any]:
        """What a heartbeat's answer adds: the settings, when the camera reports another version than ours.

        A camera that reports no version (firmware without remote settings) is sent nothing."""
        version = reported_version(report)
        desired = self.get(device_id)
        if version is None or version == desired.version:
            return {}
        return {"settings": {"version": desired.version, "values": desired.values}}

    def _write(self, row: tuple[str, int, str, float | None]) -> None:
        assert self._db is not None
        with self._db:
            self._db.execute(_UPSERT, row)
