"""Scripted faults: parse `KIND@START[+DURATION]` specs and answer "is KIND active at time t?"."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

KINDS = {
    "wifi": "WiFi down: radio.connected False, connect() raises ConnectionError, open sockets fail",
    "camera": "sensor stalls: take() waits its timeout and returns None",
    "dns": "getaddrinfo() raises SocketPool.gaierror",
    "memory": "SocketPool.socket() raises MemoryError, gc.mem_free() is low",
    "blackhole": "the hub's host goes silent (powered off, cable pulled): connects time out, open connections"
    " get no answer",
    "hang": "the next camera take() at or after START never returns (only the watchdog recovers); no +DURATION",
}

GRAMMAR = "KIND@START[+DURATION] (seconds since hostsim started; KIND: " + ", ".join(sorted(KINDS)) + ")"

_SPEC = re.compile(r"^(?P<kind>[a-z]+)@(?P<start>[0-9.]+)(?:\+(?P<duration>[0-9.]+))?$")


class FaultSpecError(ValueError):
    """A --fault value that does not follow the grammar."""


@dataclass(frozen=True)
class Fault:
    kind: str
    start: float
    duration: float  # math.inf: until the end of the run; 0 for hang (an event)

    @property
    def end(self) -> float:
        return self.start + self.duration

    def covers(self, t: float) -> bool:
        return self.start <= t < self.end

    def __str__(self) -> str:
        if self.kind == "hang":
            return f"hang@{self.start:g}"
        if math.isinf(self.duration):
            return f"{self.kind}@{self.start:g}"
        return f"{self.kind}@{self.start:g}+{self.duration:g}"


def _seconds(text: str, what: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FaultSpecError(
            f"--fault {spec!r}: {what} {text!r} is not a number of seconds; grammar: {GRAMMAR}"
        ) from None
    return value


def parse_fault(spec: str) -> Fault:
    """Parse one spec; without +DURATION a window lasts until the end of the run."""
    match = _SPEC.match(spec.strip())
    if not match:
        raise FaultSpecError(f"--fault {spec!r}: expected {GRAMMAR}, e.g. wifi@5+3 or hang@6")
    kind = match["kind"]
    if kind not in KINDS:
        raise FaultSpecError(f"--fault {spec!r}: unknown kind {kind!r}; kinds: {', '.join(sorted(KINDS))}")
    start = _seconds(match["start"], "START", spec)
    if kind == "hang":
        if match["duration"] is not None:
            raise FaultSpecError(f"--fault {spec!r}: hang is an event and takes no +DURATION (hang@START)")
        return Fault(kind, start, 0.0)
    if match["duration"] is None:
        return Fault(kind, start, math.inf)
    duration = _seconds(match["duration"], "DURATION", spec)
    if duration <= 0:
        raise FaultSpecError(f"--fault {spec!r}: DURATION must be > 0")
    return Fault(kind, start, duration)


class FaultSchedule:
    """All faults of a run; times are seconds since hostsim started (they survive board resets)."""

    def __init__(self, faults: list[Fault]) -> None:
        self.faults = sorted(faults, key=lambda f: (f.start, f.kind))
        self._hangs_fired: set[Fault] = set()

    def active(self, kind: str, t: float) -> Fault | None:
        for fault in self.faults:
            if fault.kind == kind and fault.covers(t):
                return fault
        return None

    def began_between(self, kind: str, t0: float, t1: float) -> bool:
        """True if a `kind` window started in (t0, t1]: a connection open across it was cut."""
        return any(f.kind == kind and t0 < f.start <= t1 for f in self.faults)

    def take_hang(self, t: float) -> Fault | None:
        """The first unfired hang due at t, marked fired (each hang freezes one take())."""
        for fault in self.faults:
            if fault.kind == "hang" and fault.start <= t and fault not in self._hangs_fired:
                self._hangs_fired.add(fault)
                return fault
        return None

    def transitions(self, t0: float, t1: float) -> list[tuple[Fault, str]]:
        """Window starts/ends in (t0, t1], for the console log."""
        out: list[tuple[Fault, str]] = []
        for fault in self.faults:
            if fault.kind == "hang":
                continue
            if t0 < fault.start <= t1:
                out.append((fault, "begins"))
            if t0 < fault.end <= t1:
                out.append((fault, "ends"))
        return out
