"""Rate-control runs: the unmodified firmware on the virtual board behind a link whose rate may step, against a
device-API server, and what it delivered over time (frame by frame: when it arrived, its bytes, frame size and
quality, read from the virtual sensor's comment segment)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hostsim.frames import frame_note
from hostsim.link import parse_schedule
from testkit.boards import Board
from testkit.devserver import DevServer

_STEP = re.compile(r"^\[hostsim\] link (?P<kbps>[0-9.]+) KB/s from t=")


@dataclass(frozen=True)
class Frame:
    at: float  # seconds since the virtual board started
    nbytes: int
    size: str  # "1280x720"
    quality: int


@dataclass
class Run:
    """One finished run; times are seconds since the virtual board started (its link schedule's clock)."""

    name: str
    target_fps: int
    frames: list[Frame]
    steps: list[tuple[float, float]]  # (time, KB/s) the link stepped to, the first at 0
    adapt_lines: list[tuple[float, str]]  # the firmware's "Adapt: ..." lines
    console: str
    seconds: float

    def fps(self, start: float, end: float) -> float:
        return sum(1 for f in self.frames if start <= f.at < end) / (end - start)

    def pictures(self, start: float, end: float) -> list[tuple[str, int]]:
        """The (size, quality) pictures in [start, end), in order, each once."""
        return list(dict.fromkeys((f.size, f.quality) for f in self.frames if start <= f.at < end))

    def reconfigures(self, start: float, end: float) -> int:
        return sum(1 for t, line in self.adapt_lines if start <= t < end and "(reconfigure #" in line)

    def recovered_at(self, start: float, end: float, share: float = 0.9, window: float = 2.0) -> float | None:
        """The first time from `start` on after which every `window`-second span up to `end` delivers at least
        `share` of the target frame rate (None if none does)."""
        t = start
        while t + window <= end:
            if all(self.fps(u, u + window) >= share * self.target_fps for u in _range(t, end - window, 0.5)):
                return t
            t += 0.5
        return None

    def timeline(self, bin_s: float = 1.0) -> list[dict[str, float | str]]:
        """Per `bin_s`: fps, average KB per frame and the last picture (what the plot and the tables show)."""
        rows: list[dict[str, float | str]] = []
        t = 0.0
        while t < self.seconds:
            inside = [f for f in self.frames if t <= f.at < t + bin_s]
            row: dict[str, float | str] = {"t": t, "fps": len(inside) / bin_s, "link": self.link_at(t)}
            if inside:
                row.update(
                    kb=sum(f.nbytes for f in inside) / len(inside) / 1024,
                    quality=inside[-1].quality,
                    size=inside[-1].size,
                )
            rows.append(row)
            t += bin_s
        return rows

    def segments(self) -> list[tuple[float, float, float]]:
        """(start, end, KB/s) of each link rate; the first from the first frame (boot and registration before it)."""
        ends = [at for at, _ in self.steps[1:]] + [self.seconds]
        out = [(start, end, kbps) for (start, kbps), end in zip(self.steps, ends, strict=True)]
        if self.frames:
            out[0] = (self.frames[0].at, out[0][1], out[0][2])
        return out

    def link_at(self, t: float) -> float:
        return [kbps for at, kbps in self.steps if at <= t][-1]

    def bytes_by_picture(self) -> dict[tuple[str, int], float]:
        """Average bytes of a frame at each (size, quality) the run used."""
        sums: dict[tuple[str, int], list[int]] = {}
        for f in self.frames:
            sums.setdefault((f.size, f.quality), []).append(f.nbytes)
        return {key: sum(sizes) / len(sizes) for key, sizes in sums.items()}


def _range(start: float, end: float, step: float) -> list[float]:
    out = []
    t = start
    while t <= end + 1e-9:
        out.append(t)
        t += step
    return out


@dataclass
class AdaptiveBoard:
    """`start()` a run in the background; `finish()` waits for it and returns the Run."""

    name: str
    schedule: str  # --link-kbps: "1000@0,250@20,1000@40" or "400"
    seconds: float
    target_fps: int
    settings: tuple[str, ...] = ()
    rtt_ms: float = 20.0
    server: DevServer = field(init=False)
    board: Board = field(init=False)

    def start(self) -> AdaptiveBoard:
        self.server = DevServer().__enter__()
        self.board = Board(
            "--seconds",
            str(self.seconds),
            "--link-kbps",
            self.schedule,
            "--rtt-ms",
            str(self.rtt_ms),
            "--set",
            f"CAMSTREAM_SERVER_URL={self.server.url}",
            f"CAMSTREAM_API_KEY={self.server.api_key}",
            f"CAMSTREAM_TARGET_FPS={self.target_fps}",
            *self.settings,
        )
        return self

    def finish(self) -> Run:
        try:
            code = self.board.finish(self.seconds + 30)
            assert code == 0, self.board.text
            return self._collect()
        finally:
            self.board.stop()
            self.server.__exit__()

    def _collect(self) -> Run:
        started = self.board.find("[hostsim] start ")
        assert started is not None, self.board.text
        t0 = started[0]
        steps = [(0.0, parse_schedule(self.schedule)[0][1])]
        adapt_lines = []
        for at, line in self.board.lines:
            step = _STEP.match(line)
            if step:
                steps.append((at - t0, float(step["kbps"])))
            elif line.startswith("Adapt: "):
                adapt_lines.append((at - t0, line))
        frames = []
        for request in self.server.frames():
            assert request.jpeg is not None
            note = frame_note(request.jpeg)
            frames.append(Frame(request.at - t0, len(request.jpeg), note["size"], int(note["quality"])))
        return Run(self.name, self.target_fps, frames, steps, adapt_lines, self.board.text, self.seconds)


def run_batches(batches: list[list[AdaptiveBoard]]) -> dict[str, Run]:
    """Each batch's boards side by side, the batches one after another: {name: Run}."""
    done: dict[str, Run] = {}
    for batch in batches:
        started = []
        try:
            for board in batch:
                started.append(board.start())
            done.update({board.name: board.finish() for board in started})
        finally:
            for board in started:
                board.board.stop()
    return done
