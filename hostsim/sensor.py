"""A free-running image sensor: frame k is exposed during [t0 + k/fps, t0 + (k+1)/fps) and ready at its end.

A background thread renders each frame as it is exposed (like the real sensor, the work happens whether or not
code.py is fast), but only while code.py has asked for frames in the last 2 s, so an idle camera costs nothing.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from hostsim.frames import Look


class FrameSource(Protocol):
    def jpeg(self, index: int, width: int, height: int, esp_quality: int, fps: float, look: Look = ...) -> bytes: ...


class Sensor:
    KEEP = 6  # rendered frames kept: enough for take() to find the one it wants

    def __init__(self, source: FrameSource, fps: float, clock: Callable[[], float]) -> None:
        self.source = source
        self.fps = fps
        self.clock = clock
        self.t0 = clock()
        self.width = self.height = 0
        self.quality = 15
        self.look = Look()
        self._frames: OrderedDict[tuple[int, int, int, int, Look], bytes] = OrderedDict()
        self._render_lock = threading.Lock()
        self._last_demand = -math.inf
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def configure(self, width: int, height: int, quality: int, look: Look) -> None:
        with self._render_lock:  # a frame is rendered with one whole configuration
            self.width, self.height, self.quality, self.look = width, height, quality, look

    def index_at(self, t: float) -> int:
        """The frame being exposed at time t."""
        return math.floor((t - self.t0) * self.fps)

    def first_starting_at(self, t: float) -> int:
        """The first frame whose exposure starts at or after t (what a freshly freed buffer receives)."""
        return math.ceil((t - self.t0) * self.fps - 1e-9)

    def ready_at(self, index: int) -> float:
        return self.t0 + (index + 1) / self.fps

    def note_demand(self) -> None:
        self._last_demand = self.clock()

    def jpeg(self, index: int) -> bytes:
        """Frame `index` at the current size, quality and look, rendered now if the thread has not yet."""
        self.note_demand()
        return self._render(index)

    def _render(self, index: int) -> bytes:
        with self._render_lock:
            key = (index, self.width, self.height, self.quality, self.look)
            data = self._frames.get(key)
            if data is None:
                data = self.source.jpeg(index, self.width, self.height, self.quality, self.fps, self.look)
                self._frames[key] = data
                while len(self._frames) > self.KEEP:
                    self._frames.popitem(last=False)
            return data

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hostsim-sensor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            index = self.index_at(now)
            if now - self._last_demand < 2.0 and self.width:
                self._render(index)
            self._stop.wait(max(0.0, self.t0 + (index + 1) / self.fps - self.clock()))
