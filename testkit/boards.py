"""The virtual board (and any program) as a subprocess with a timestamped console, and readers of its stats blocks."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CIRCUITPY = ROOT / "CIRCUITPY"
STATS_HEADER = "=== CamStream stats ==="
STATS_LABELS = (
    "Runtime",
    "FPS",
    "Frames total",
    "Frames sent",
    "Frames dropped",
    "Success rate",
    "Average frame",
    "Throughput",
    "Picture",
    "Link",
    "Last change",
    "Free heap",
    "Free PSRAM",
    "WiFi RSSI",
    "CPU",
    "Rating",
    "Errors",
)


class Process:
    """A subprocess whose console lines (stdout + stderr) are kept with the time.monotonic() they arrived."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.args = argv
        self.lines: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._eof = False
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._reader = threading.Thread(target=self._read, name="console", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    @property
    def text(self) -> str:
        with self._cond:
            return "\n".join(line for _, line in self.lines)

    def find(self, match: Callable[[str], bool] | str, after: float = 0.0) -> tuple[float, str] | None:
        """The first line at or after `after` that contains `match` (or satisfies it)."""
        test = match if callable(match) else (lambda line: match in line)
        with self._cond:
            return next(((t, line) for t, line in self.lines if t >= after and test(line)), None)

    def wait_line(self, match: Callable[[str], bool] | str, timeout: float, after: float = 0.0) -> tuple[float, str]:
        with self._cond:
            found = self._cond.wait_for(lambda: self.find(match, after) or self._eof, timeout)
        hit = self.find(match, after)
        if not found or hit is None:
            raise AssertionError(f"no console line {match!r} within {timeout} s; console:\n{self.text}")
        return hit

    def finish(self, timeout: float) -> int:
        """Wait for the process to end by itself (hostsim's --seconds); stop it after `timeout`."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"{self.args[2:4]} did not end within {timeout} s; console:\n{self.text}") from None
        finally:
            self._reader.join(timeout=5)

    def stop(self) -> None:
        """Ctrl-C, then kill: never leaves the process behind."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(timeout=5)


def drive_copy(tmp: Path, toml: str = "", files: dict[str, bytes] | None = None) -> Path:
    """A copy of CIRCUITPY under `tmp` with `toml` appended to its settings.toml and `files` added."""
    folder = tmp / "CIRCUITPY"
    shutil.copytree(CIRCUITPY, folder, ignore=shutil.ignore_patterns("__pycache__"))
    settings = folder / "settings.toml"
    settings.write_text(settings.read_text() + toml)
    for name, data in (files or {}).items():
        (folder / name).write_bytes(data)
    return folder


class Board(Process):
    """`python -m hostsim` running the real CIRCUITPY (or `circuitpy`)."""

    def __init__(self, *args: str, circuitpy: Path = CIRCUITPY) -> None:
        super().__init__([sys.executable, "-u", "-m", "hostsim", str(circuitpy), *args])


def stats_blocks(console: str) -> list[dict[str, str]]:
    """Every statistics block as {label: value}, in order; each must have all the labels."""
    lines = console.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line == STATS_HEADER:
            block = dict(text.split(": ", 1) for text in lines[i + 1 : i + 1 + len(STATS_LABELS)])
            assert tuple(block) == STATS_LABELS, f"malformed stats block: {block}"
            blocks.append(block)
    return blocks


def errors_counted(block: dict[str, str]) -> dict[str, int]:
    """The stats block's `Errors: reset=2, wifi=1` line as a dict."""
    if block["Errors"] == "none":
        return {}
    return {kind: int(count) for kind, count in (item.split("=") for item in block["Errors"].split(", "))}


def summary(console: str) -> str:
    """hostsim's closing `[hostsim] end after ...` line."""
    lines = [line for line in console.splitlines() if line.startswith("[hostsim] end after")]
    assert len(lines) == 1, console
    return lines[0]
