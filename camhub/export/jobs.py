"""The hub's exports: each one is `camhub export` in a process of its own at a lower CPU priority, so encoding
never holds the event loop, the hub's memory or the cameras' CPU; its JSON progress lines feed the job's state.

One export runs at a time (the rest wait in order, a bounded number of them); finished files are kept for an hour
under ``<data dir>/exports/<job id>/`` and then deleted, as is everything there when the hub starts or stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import camhub

from ..recording.layout import range_file_name
from ..recording.timing import iso
from .formats import Format
from .plan import Estimate

log = logging.getLogger(__name__)

MAX_RUNNING = 1
MAX_WAITING = 8
KEEP_S = 3600.0  # a finished export can be downloaded this long
KEEP_JOBS = 32  # finished exports kept at most, the oldest go first
SWEEP_S = 60.0
RESERVE_BYTES = 256 * 2**20  # disk left free for recording after an export's estimated size
NICE = 10
STDERR_TAIL = 4096


class ExportRefused(Exception):
    """An export that cannot be accepted now; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(eq=False)
class ExportJob:
    id: str
    device: str
    start: float
    end: float
    format: Format
    estimate: Estimate
    path: Path
    created: float
    state: str = "queued"  # queued, running, done, failed, cancelled
    frames: int = 0
    media_s: float = 0.0
    bytes: int = 0
    error: str | None = None
    finished: float | None = None
    result: dict[str, Any] | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"/exports/{self.id}/{self.path.name}"

    def projected_bytes(self) -> int:
        """The estimate until a tenth is written, then what the file grows at."""
        if self.state == "done":
            return self.bytes
        if self.frames * 10 >= self.estimate.frames > 0:
            return round(self.bytes * self.estimate.frames / self.frames)
        return self.estimate.bytes

    def to_json(self) -> dict[str, Any]:
        total = self.estimate.frames
        return {
            "id": self.id,
            "deviceId": self.device,
            "format": self.format.name,
            "start": self.start,
            "end": self.end,
            "startIso": iso(self.start),
            "endIso": iso(self.end),
            "state": self.state,
            "frames": total,
            "framesDone": self.frames,
            "progress": 1.0 if self.state == "done" else (min(1.0, self.frames / total) if total else 0.0),
            "mediaS": round(self.media_s, 3),
            "bytes": self.bytes,
            "estimatedBytes": self.estimate.bytes,
            "projectedBytes": self.projected_bytes(),
            "error": self.error,
            "createdAt": self.created,
            "finishedAt": self.finished,
            "fileName": self.path.name,
            "url": self.url if self.state == "done" else None,
            "durationS": self.result["durationS"] if self.result else None,
            "skipped": self.result["skipped"] if self.result else None,
        }


class Exports:
    def __init__(
        self,
        data_dir: Path,
        *,
        clock: Callable[[], float],
        max_running: int = MAX_RUNNING,
        max_waiting: int = MAX_WAITING,
        keep_s: float = KEEP_S,
    ) -> None:
        self.data_dir = data_dir
        self.folder = data_dir / "exports"
        self.clock = clock
        self.max_running = max_running
        self.max_waiting = max_waiting
        self.keep_s = keep_s
        self.jobs: dict[str, ExportJob] = {}
        self._queue: asyncio.Queue[ExportJob] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await asyncio.to_thread(self._clear)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._tasks = [asyncio.create_task(self._worker(), name=f"camhub-export-{n}") for n in range(self.max_running)]
        self._tasks.append(asyncio.create_task(self._sweep(), name="camhub-export-sweep"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for job in self.jobs.values():
            if job.state in ("queued", "running"):
                self._end(job, "cancelled", "the hub stopped")
        self.jobs.clear()
        await asyncio.to_thread(self._clear)

    def submit(self, device: str, start: float, end: float, estimate: Estimate) -> ExportJob:
        """Queue an export of an estimated range; ExportRefused when too many wait or the disk is too full."""
        active = sum(1 for job in self.jobs.values() if job.state in ("queued", "running"))
        if active >= self.max_running + self.max_waiting:
            waiting = active - self.max_running
            raise ExportRefused(503, f"{waiting} exports are already waiting; try again when one has finished")
        free = shutil.disk_usage(self.folder).free
        if free - estimate.bytes < RESERVE_BYTES:
            raise ExportRefused(
                507,
                f"not enough disk space: the export needs about {estimate.bytes / 1e6:.1f} MB and only "
                f"{free / 1e6:.1f} MB are free (recording keeps {RESERVE_BYTES / 2**20:.0f} MiB)",
            )
        job_id = secrets.token_urlsafe(9)
        name = range_file_name(device, start, end, estimate.format.extension)
        job = ExportJob(
            job_id, device, start, end, estimate.format, estimate, self.folder / job_id / name, self.clock()
        )
        self.jobs[job_id] = job
        self._queue.put_nowait(job)
        return job

    def get(self, job_id: str) -> ExportJob | None:
        return self.jobs.get(job_id)

    def of_device(self, device: str) -> list[ExportJob]:
        return sorted((job for job in self.jobs.values() if job.device == device), key=lambda job: job.created)

    async def remove(self, job: ExportJob) -> None:
        """Stop the job if it runs and delete it and its file."""
        self.jobs.pop(job.id, None)
        if job.state in ("queued", "running"):
            self._end(job, "cancelled", "cancelled")
            await self._stop(job)
        await asyncio.to_thread(shutil.rmtree, job.path.parent, True)

    async def _worker(self) -> None:
        while True:
            job = await self._queue.get()
            if job.state != "queued":
                continue
            try:
                await self._run(job)
            except asyncio.CancelledError:
                await self._stop(job)
                raise
            except Exception as exc:  # the job fails, the worker goes on
                log.exception("export %s failed", job.id)
                self._end(job, "failed", f"export failed: {exc}")

    async def _run(self, job: ExportJob) -> None:
        job.state = "running"
        job.path.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            *("-m", "camhub", "export", "--data-dir", str(self.data_dir), "--device", job.device),
            *("--start", repr(job.start), "--end", repr(job.end), "--format", job.format.name),
            *("-o", str(job.path), "--progress", "json", "--nice", str(NICE)),
        ]
        # The child runs this same camhub, wherever it was imported from.
        path = [str(Path(camhub.__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")]
        job.process = await asyncio.create_subprocess_exec(
            sys.executable,
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))},
        )
        assert job.process.stdout is not None and job.process.stderr is not None
        errors = asyncio.create_task(_tail(job.process.stderr))
        async for raw in job.process.stdout:
            self._progress(job, raw)
        code = await job.process.wait()
        tail = (await errors).strip().splitlines()
        if code == 0 and job.result is not None:
            self._end(job, "done", None)
        else:
            reason = tail[-1].removeprefix("camhub export: ") if tail else f"exit status {code}"
            self._end(job, "failed", reason)

    def _progress(self, job: ExportJob, raw: bytes) -> None:
        try:
            line = json.loads(raw)
        except ValueError:
            return
        if not isinstance(line, dict):
            return
        job.frames = int(line.get("frames", job.frames))
        job.media_s = float(line.get("mediaS") or line.get("durationS") or job.media_s)
        job.bytes = int(line.get("bytes", job.bytes))
        if line.get("done"):
            job.result = line

    async def _stop(self, job: ExportJob) -> None:
        process = job.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()

    def _end(self, job: ExportJob, state: str, error: str | None) -> None:
        if job.ended.is_set():
            return
        job.state, job.error, job.finished = state, error, self.clock()
        job.ended.set()
        if state == "failed":
            log.warning("export %s of %s failed: %s", job.id, job.device, error)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            await self.expire()

    async def expire(self) -> int:
        """Delete finished exports older than ``keep_s``, and the oldest beyond ``KEEP_JOBS``; returns how many."""
        finished = sorted(
            (job for job in self.jobs.values() if job.finished is not None), key=lambda job: job.finished or 0.0
        )
        now = self.clock()
        doomed = [job for job in finished if now - (job.finished or now) > self.keep_s]
        doomed += [job for job in finished[: max(0, len(finished) - KEEP_JOBS)] if job not in doomed]
        for job in doomed:
            await self.remove(job)
        return len(doomed)

    def _clear(self) -> None:
        if self.folder.exists():
            shutil.rmtree(self.folder, ignore_errors=True)


async def _tail(stream: asyncio.StreamReader) -> str:
    """The last ``STDERR_TAIL`` bytes a stream carries, read to its end so the child never blocks on it."""
    kept = b""
    while chunk := await stream.read(65536):
        kept = (kept + chunk)[-STDERR_TAIL:]
    return kept.decode(errors="replace")
