"""Device registry: live state in memory, persisted to SQLite in a worker thread, never per frame."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import sqlite3
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
OFFLINE_AFTER_INTERVALS = 3
MAX_DROP_GAP = 10_000  # frames; X-Frame-Seq jumping further is a restart of the count, not lost frames
_FPS_WINDOW = 30
_GAP_WINDOW = 5


def device_id_problem(value: object) -> str | None:
    """Why `value` cannot be a device id (it ends up in URLs, file names and metric labels), or None."""
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    if not _DEVICE_ID.fullmatch(value):
        return f"{value[:80]!r} must be 1-64 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit"
    return None


@dataclass
class Device:
    device_id: str
    name: str
    first_seen: float
    last_seen: float
    device_type: str = "camera"
    ip_address: str = ""
    capabilities: list[str] = field(default_factory=list)
    implicit: bool = False
    last_heartbeat: float | None = None
    uptime_ms: int | None = None
    free_heap: int | None = None
    wifi_rssi: int | None = None
    reported_status: str | None = None
    heartbeat_extra: dict[str, Any] = field(default_factory=dict)
    frames: int = 0
    bytes: int = 0
    drops: int = 0
    rejects: int = 0
    # Live only, rebuilt from traffic after a restart.
    last_seq: int | None = None
    last_frame_at: float | None = None
    frame_bytes: int = 0
    width: int = 0
    height: int = 0
    latency_ms: float | None = None
    _best_offset_ms: float | None = None
    _last_capture_ms: int | None = None
    _arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=_FPS_WINDOW))
    _gaps: deque[float] = field(default_factory=lambda: deque(maxlen=_GAP_WINDOW))

    def heartbeat_interval(self, default_s: float) -> float:
        """Median of recent heartbeat spacings: robust to a missed beat, follows a changed interval."""
        return statistics.median(self._gaps) if self._gaps else default_s

    def fps(self, now: float) -> float:
        if len(self._arrivals) < 2:
            return 0.0
        span = self._arrivals[-1] - self._arrivals[0]
        if span <= 0:
            return 0.0
        rate = (len(self._arrivals) - 1) / span
        # A stream that stopped has no rate, whatever its last window said.
        return rate if now - self._arrivals[-1] <= max(2.0, 3.0 / rate) else 0.0


_COLUMNS = (
    "device_id",
    "name",
    "device_type",
    "ip_address",
    "capabilities",
    "implicit",
    "first_seen",
    "last_seen",
    "last_heartbeat",
    "uptime_ms",
    "free_heap",
    "wifi_rssi",
    "reported_status",
    "heartbeat_extra",
    "heartbeat_interval_s",
    "frames",
    "bytes",
    "drops",
    "rejects",
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, name TEXT NOT NULL, device_type TEXT NOT NULL, ip_address TEXT NOT NULL,
    capabilities TEXT NOT NULL, implicit INTEGER NOT NULL, first_seen REAL NOT NULL, last_seen REAL NOT NULL,
    last_heartbeat REAL, uptime_ms INTEGER, free_heap INTEGER, wifi_rssi INTEGER, reported_status TEXT,
    heartbeat_extra TEXT NOT NULL, heartbeat_interval_s REAL,
    frames INTEGER NOT NULL, bytes INTEGER NOT NULL, drops INTEGER NOT NULL, rejects INTEGER NOT NULL
)
"""
_UPSERT = (
    f"INSERT INTO devices ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    f"ON CONFLICT(device_id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
)


class Registry:
    def __init__(self, path: Path, default_interval_s: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._default_interval_s = default_interval_s
        self._clock = clock
        self._devices: dict[str, Device] = {}
        self._dirty: set[str] = set()
        self._db: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        self._saving: set[asyncio.Task[bool]] = set()
        self.save_error: str | None = None  # why the last save failed; None once one succeeds

    # -- lifecycle -------------------------------------------------------------------------------------------------

    async def open(self) -> None:
        rows = await asyncio.to_thread(self._open_db)
        for row in rows:
            device = Device(
                device_id=row["device_id"],
                name=row["name"],
                device_type=row["device_type"],
                ip_address=row["ip_address"],
                capabilities=json.loads(row["capabilities"]),
                implicit=bool(row["implicit"]),
                first_seen=row["first_seen"],
                last_seen=row["last_seen"],
                last_heartbeat=row["last_heartbeat"],
                uptime_ms=row["uptime_ms"],
                free_heap=row["free_heap"],
                wifi_rssi=row["wifi_rssi"],
                reported_status=row["reported_status"],
                heartbeat_extra=_finite(json.loads(row["heartbeat_extra"])),
                frames=row["frames"],
                bytes=row["bytes"],
                drops=row["drops"],
                rejects=row["rejects"],
            )
            if row["heartbeat_interval_s"]:
                device._gaps.append(row["heartbeat_interval_s"])
            self._devices[device.device_id] = device

    def _open_db(self) -> list[sqlite3.Row]:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(_SCHEMA)
        db.commit()
        self._db = db
        return db.execute("SELECT * FROM devices").fetchall()

    async def close(self) -> None:
        """The final save, then the database closes (a failed save is logged, and what it held is lost)."""
        await asyncio.gather(*self._saving)
        if not await self.flush() and self._dirty:
            log.error("registry: %d devices' latest changes are not saved: %s", len(self._dirty), self.save_error)
        async with self._lock:
            if self._db is not None:
                await asyncio.to_thread(self._db.close)
                self._db = None

    async def flush(self) -> bool:
        """Writes every device changed since the last flush in one transaction, off the event loop.

        A failed write (a full disk, a locked or broken file) keeps those devices marked for the next flush and
        says so in `save_error`; it never raises, so the periodic saving goes on. True once saved.
        """
        if not self._dirty or self._db is None:
            return True
        pending = set(self._dirty)
        rows = [self._row(self._devices[device_id]) for device_id in pending]
        self._dirty.clear()
        try:
            async with self._lock:
                await asyncio.to_thread(self._write, rows)
        except (sqlite3.Error, OSError, OverflowError, ValueError) as exc:
            self._dirty |= pending
            if self.save_error is None:
                log.error("registry: saving %d devices failed (retried every flush): %s", len(pending), exc)
            self.save_error = f"{type(exc).__name__}: {exc}"
            return False
        if self.save_error is not None:
            log.info("registry: saving works again")
        self.save_error = None
        return True

    def _save_soon(self) -> None:
        """Save now in the background (a new device must survive a crash a moment later)."""
        task = asyncio.get_running_loop().create_task(self.flush())
        self._saving.add(task)
        task.add_done_callback(self._saving.discard)

    def _write(self, rows: list[tuple[object, ...]]) -> None:
        assert self._db is not None
        with self._db:
            self._db.executemany(_UPSERT, rows)

    def _row(self, d: Device) -> tuple[object, ...]:
        interval = statistics.median(d._gaps) if d._gaps else None
        return (
            d.device_id,
            d.name,
            d.device_type,
            d.ip_address,
            json.dumps(d.capabilities),
            int(d.implicit),
            d.first_seen,
            d.last_seen,
            d.last_heartbeat,
            d.uptime_ms,
            d.free_heap,
            d.wifi_rssi,
            d.reported_status,
            json.dumps(d.heartbeat_extra),
            interval,
            d.frames,
            d.bytes,
            d.drops,
            d.rejects,
        )

    async def flush_every(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.flush()

    # -- queries ---------------------------------------------------------------------------------------------------

    def get(self, device_id: str) -> Device | None:
        return self._devices.get(device_id)

    def devices(self) -> list[Device]:
        return sorted(self._devices.values(), key=lambda d: (d.name.lower(), d.device_id))

    def heartbeat_interval(self, device: Device) -> float:
        return device.heartbeat_interval(self._default_interval_s)

    def is_online(self, device: Device, now: float | None = None) -> bool:
        """Online while anything (heartbeat or frame) arrived within 3 heartbeat intervals."""
        now = self._clock() if now is None else now
        return now - device.last_seen <= OFFLINE_AFTER_INTERVALS * self.heartbeat_interval(device)

    # -- updates ---------------------------------------------------------------------------------------------------

    async def register(
        self, device_id: str, name: str, device_type: str, ip_address: str, capabilities: list[str]
    ) -> bool:
        """Creates or updates a device and writes it at once (rare, and the firmware relies on it). True if new."""
        now = self._clock()
        device = self._devices.get(device_id)
        created = device is None
        if device is None:
            device = self._devices[device_id] = Device(device_id, name, first_seen=now, last_seen=now)
        device.name, device.device_type, device.ip_address = name, device_type, ip_address
        device.capabilities, device.implicit, device.last_seen = capabilities, False, now
        self._dirty.add(device_id)
        await self.flush()
        return created

    def heartbeat(
        self,
        device_id: str,
        uptime_ms: int | None,
        free_heap: int | None,
        wifi_rssi: int | None,
        status: str | None,
        extra: dict[str, Any],
    ) -> Device | None:
        """Updates a known device; None for an unknown one (the firmware then registers again)."""
        device = self._devices.get(device_id)
        if device is None:
            return None
        now = self._clock()
        if device.last_heartbeat is not None and 0.2 < now - device.last_heartbeat < 3600:
            device._gaps.append(now - device.last_heartbeat)
        device.last_heartbeat = device.last_seen = now
        device.uptime_ms, device.free_heap, device.wifi_rssi = uptime_ms, free_heap, wifi_rssi
        device.reported_status, device.heartbeat_extra = status, extra
        self._dirty.add(device_id)
        return device

    def frame(
        self,
        device_id: str,
        seq: int | None,
        capture_ms: int | None,
        size: int,
        width: int,
        height: int,
        received_at: float,
    ) -> Device:
        """Counts an accepted frame, registering an unknown sender implicitly. Memory only: this is the hot path."""
        device = self._devices.get(device_id)
        if device is None:
            device = self._devices[device_id] = Device(
                device_id, device_id, first_seen=received_at, last_seen=received_at, implicit=True
            )
            self._dirty.add(device_id)
            self._save_soon()
        if seq is not None and device.last_seq is not None and 1 < seq - device.last_seq <= MAX_DROP_GAP:
            device.drops += seq - device.last_seq - 1  # a longer jump is a new count (reboot, another sender)
        if seq is not None:
            device.last_seq = seq
        self._track_latency(device, capture_ms, received_at)
        device.frames += 1
        device.bytes += size
        device.frame_bytes, device.width, device.height = size, width, height
        device.last_frame_at = device.last_seen = received_at
        device._arrivals.append(received_at)
        self._dirty.add(device_id)
        return device

    @staticmethod
    def _track_latency(device: Device, capture_ms: int | None, received_at: float) -> None:
        """Device clocks are not synchronised with ours, so latency is the delay beyond the fastest frame seen."""
        if capture_ms is None:
            device.latency_ms = None
            return
        offset = received_at * 1000.0 - capture_ms
        previous, best = device._last_capture_ms, device._best_offset_ms
        if previous is None or best is None or capture_ms < previous:
            best = offset  # first frame, reboot or tick wrap-around: a new clock base
        device._best_offset_ms = min(best, offset)
        device._last_capture_ms = capture_ms
        device.latency_ms = offset - device._best_offset_ms

    def reject(self, device_id: str) -> None:
        device = self._devices.get(device_id)
        if device is not None:
            device.rejects += 1
            self._dirty.add(device_id)


def _finite(value: Any) -> Any:
    """JSON from an older registry with NaN/Infinity in it, made valid (those become null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
