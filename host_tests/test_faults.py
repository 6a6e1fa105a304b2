"""Fault tests: the unmodified firmware on the virtual board meets every failure it must survive.

Five runs go in parallel (module fixture); each strings several faults together with streaming in between.
Board-side faults are hostsim's `--fault` windows (their start/end come from hostsim's console lines); server-side
faults are devserver rules armed by a driver thread while the board streams. For every fault: the console's
error line names its kind, the stats block counts it, the board never crashes, and the server accepts a frame
again less than 5 s after the fault ends.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise

import pytest

from camstream.budget import watchdog_floor_s
from testkit.boards import Board, errors_counted, stats_blocks, summary
from testkit.devserver import DevServer
from testkit.jpegs import make_frames

RESUME_S = 5.0
WATCHDOG_S = watchdog_floor_s(host_is_name=False)  # the smallest the firmware accepts for a hub on 127.0.0.1
WAIT_S = 15.0  # bound of every wait inside a driver


@dataclass
class Scenario:
    seconds: float
    board_args: list[str] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)
    drive: Callable[[Board, DevServer, dict], None] | None = None
    host: str = "127.0.0.1"
    arm: Callable[[DevServer], None] | None = None  # rules in place before the board starts


@dataclass
class Run:
    board: Board
    server: DevServer
    marks: dict[str, tuple[float, float]]  # server-side fault windows (time.monotonic())
    error: BaseException | None = None


def frames_after(server: DevServer, count: int, after: float = 0.0) -> None:
    server.wait_for(lambda s: sum(f.at > after for f in s.frames()) >= count, WAIT_S, f"{count} frames")


def device_id(server: DevServer) -> str:
    return server.frames()[0].headers["x-device-id"]


def drive_board_faults(board: Board, server: DevServer, marks: dict) -> None:
    """dns and memory bite only on a new connection: cut the keep-alive one as each window begins."""
    for spec in ("dns@6.5+2", "memory@13+1.5"):
        board.wait_line(f"fault {spec} begins", WAIT_S)
        server.script("frame", reset=True, times=1)


def drive_server_faults(board: Board, server: DevServer, marks: dict) -> None:
    frames_after(server, 30)
    server.script("frame", reset=True, times=1)
    # Wait for the cut request's record, not the rule's hit: the hit is counted when its headers arrive, and the
    # previous frame's record can wake this thread after that but before the cut is recorded.
    server.wait_for(lambda s: any(r.outcome == "reset" for r in s.requests("frame")), WAIT_S, "the reset")
    cut = next(r for r in server.requests("frame") if r.outcome == "reset")
    marks["reset"] = (cut.at, cut.at)

    frames_after(server, 30, cut.at)
    rule = server.script("frame", status=503, for_s=1.5)
    marks["5xx"] = (rule.start, rule.end)

    frames_after(server, 30, rule.end)
    rule = server.script("frame", stall_s=8.0, times=1)
    server.wait_for(lambda s: any(r.outcome == "stalled" for r in s.requests()), WAIT_S, "the stalled request")
    stalled = next(r for r in server.requests() if r.outcome == "stalled")
    assert stalled.ended_at - stalled.at < 7.0, "the firmware gave up on the stalled response by itself"
    marks["timeout"] = (stalled.at, stalled.ended_at)

    frames_after(server, 10, stalled.ended_at)
    forgotten = time.monotonic()
    server.forget(device_id(server))
    server.wait_for(lambda s: any(r.at > forgotten for r in s.requests("register")), WAIT_S, "re-registration")
    marks["404"] = (forgotten, time.monotonic())


def drive_auth_faults(board: Board, server: DevServer, marks: dict) -> None:
    frames_after(server, 30)
    rule = server.script("any", status=401, for_s=6.0)
    marks["401"] = (rule.start, rule.end)
    frames_after(server, 30, rule.end)
    rule = server.script("any", status=403, for_s=3.0)
    marks["403"] = (rule.start, rule.end)
    frames_after(server, 1, rule.end)


def drive_refused(board: Board, server: DevServer, marks: dict) -> None:
    frames_after(server, 30)
    down = time.monotonic()
    server.close_listener()
    board.wait_line(lambda line: re.match(r"Error \w+ #4: ", line) is not None, WAIT_S, after=down)
    server.open_listener()
    marks["refused"] = (down, time.monotonic())


SCENARIOS = {
    "board": Scenario(
        17,
        ["--fault", "wifi@2.5+2", "dns@6.5+2", "camera@10+1.5", "memory@13+1.5"],
        drive=drive_board_faults,
        host="localhost",  # a name, so that DNS can fail
    ),
    "server": Scenario(
        19,
        # A link that cannot carry the target rate, as on a board: each frame's answer is read after the next
        # frame's request went out (pipelined), so every server fault meets the socket in that state.
        ["--link-kbps", "800"],
        settings=["CAMSTREAM_HEARTBEAT_S=2", "CAMSTREAM_ADAPT=quality"],
        drive=drive_server_faults,
    ),
    "auth": Scenario(19, drive=drive_auth_faults),
    "refused": Scenario(
        10, drive=drive_refused, arm=lambda server: server.script("frame", status=415, content_type="multipart/")
    ),
    "watchdog": Scenario(
        WATCHDOG_S + 10,
        ["--fault", "hang@3"],
        settings=[f"CAMSTREAM_WATCHDOG_S={WATCHDOG_S}", "CAMSTREAM_HEARTBEAT_S=2"],
    ),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames")
    make_frames(folder, 5)
    started: dict[str, Run] = {}
    try:
        for name, plan in SCENARIOS.items():
            server = DevServer().__enter__()
            if plan.arm:
                plan.arm(server)
            url = f"http://{plan.host}:{server.port}"
            settings = [
                f"CAMSTREAM_SERVER_URL={url}",
                f"CAMSTREAM_API_KEY={server.api_key}",
                "CAMSTREAM_STATS_S=2",
                *plan.settings,
            ]
            board = Board("--seconds", str(plan.seconds), "--frames", str(folder), *plan.board_args, "--set", *settings)
            started[name] = Run(board, server, {})
        with ThreadPoolExecutor(len(started)) as pool:
            futures = {
                name: pool.submit(SCENARIOS[name].drive, run.board, run.server, run.marks)
                for name, run in started.items()
                if SCENARIOS[name].drive
            }
            for name, future in futures.items():
                started[name].error = future.exception(timeout=60)
        for name, run in started.items():
            run.board.finish(SCENARIOS[name].seconds + 20)
        yield started
    finally:
        for run in started.values():
            run.board.stop()
            run.server.__exit__()


def ran(runs: dict[str, Run], name: str) -> Run:
    run = runs[name]
    if run.error is not None:
        raise AssertionError(f"the {name} run's driver failed; console:\n{run.board.text}") from run.error
    return run


def hostsim_window(board: Board, spec: str) -> tuple[float, float]:
    begin = board.find(f"[hostsim] fault {spec} begins")
    end = board.find(f"[hostsim] fault {spec} ends")
    assert begin and end, board.text
    return begin[0], end[0]


def next_frame_after(server: DevServer, t: float) -> float:
    later = [f.at for f in server.frames() if f.at > t]
    assert later, f"no frame accepted after the fault ended (t={t:.1f})"
    return later[0]


def assert_survived(run: Run, boots: int = 1) -> None:
    console = run.board.text
    assert run.board.proc.returncode == 0, console
    assert "code.py=running" in summary(console) and f"boots={boots} " in summary(console), console
    assert "Traceback" not in console and "restarting in" not in console, console


# fault: (run, error kind, window: hostsim fault spec or driver mark)
FAULTS = {
    "wifi loss": ("board", "wifi", "wifi@2.5+2"),
    "dns failure": ("board", "dns", "dns@6.5+2"),
    "camera timeout": ("board", "camera", "camera@10+1.5"),
    "memory error": ("board", "memory", "memory@13+1.5"),
    "reset mid-upload": ("server", "reset", "reset"),
    "5xx": ("server", "server", "5xx"),
    "response timeout": ("server", "timeout", "timeout"),
    "401": ("auth", "auth", "401"),
    "403": ("auth", "auth", "403"),
    "refused connection": ("refused", "refused", "refused"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_is_reported_counted_and_recovered_from(runs, fault):
    name, kind, window = FAULTS[fault]
    run = ran(runs, name)
    start, end = run.marks[window] if window in run.marks else hostsim_window(run.board, window)
    pattern = re.compile(rf"^Error {kind} #\d+: ")
    lines = [(t, line) for t, line in run.board.lines if pattern.match(line)]
    assert any(start - 0.2 <= t <= end + RESUME_S for t, _ in lines), (
        f"no 'Error {kind}' line during the {fault}; console:\n{run.board.text}"
    )
    headers = [t for t, line in run.board.lines if line == "=== CamStream stats ==="]
    after = [block for t, block in zip(headers, stats_blocks(run.board.text), strict=True) if t > end]
    assert after and errors_counted(after[0]).get(kind, 0) >= 1, f"stats Errors line lacks {kind}: {after[:1]}"
    resumed = next_frame_after(run.server, end) - end
    assert resumed < RESUME_S, f"streaming resumed {resumed:.1f} s after the {fault} ended"
    assert_survived(run)


@pytest.mark.parametrize("name", ["board", "server", "auth", "refused"])
def test_frame_order_survives_faults(runs, name):
    frames = ran(runs, name).server.frames()
    seqs = [int(f.headers["x-frame-seq"]) for f in frames]
    assert seqs == sorted(set(seqs)), "X-Frame-Seq strictly increasing"
    captures = [int(f.headers["x-capture-ms"]) for f in frames]
    assert captures == sorted(captures)


def test_wrong_key_is_explained_and_retried_slowly(runs):
    run = ran(runs, "auth")
    start, end = run.marks["401"]
    during = [r for r in run.server.requests() if start <= r.at < end]
    assert during and all(r.status == 401 for r in during)
    assert len(during) / (end - start) <= 0.5, f"{len(during)} requests in {end - start:.0f} s of 401s"
    assert any(
        "server rejected the API key: check CAMSTREAM_API_KEY" in line and "(scripted HTTP 401)" in line
        for _, line in run.board.lines
    )
    assert any(
        line.startswith("Recovered: streaming again after") and "auth errors" in line
        for t, line in run.board.lines
        if t > end
    )


def test_heartbeat_404_makes_the_board_register_again(runs):
    run = ran(runs, "server")
    forgotten, done = run.marks["404"]
    beats = [r for r in run.server.requests("heartbeat") if r.at > forgotten]
    assert beats[0].status == 404
    again = [r for r in run.server.requests("register") if r.at > forgotten]
    assert len(again) == 1 and again[0].accepted and again[0].at > beats[0].at
    assert again[0].json()["deviceId"] == device_id(run.server)
    assert any(r.accepted for r in beats[1:]), "heartbeats accepted again after re-registering"
    assert run.board.find("Hub: heartbeat answered 404 (device unknown); registering again", after=forgotten)
    gaps = [b.at - a.at for a, b in pairwise(run.server.frames()) if forgotten <= a.at <= done]
    assert gaps and max(gaps) < 1.0, "frames keep flowing while the board registers again"


def test_multipart_rejected_with_415_falls_back_to_raw_once(runs):
    run = ran(runs, "refused")
    console = run.board.text
    line = "Uplink: server answered HTTP 415 to a multipart frame; switching to raw image/jpeg uploads"
    assert console.count(line) == 1, console
    rejected = [r for r in run.server.requests("frame") if r.status == 415]
    assert len(rejected) == 1 and rejected[0].headers["content-type"].startswith("multipart/form-data")
    frames = run.server.frames()
    assert frames and all(f.headers["content-type"] == "image/jpeg" for f in frames)
    assert frames[0].headers["x-frame-seq"] == rejected[0].headers["x-frame-seq"] == "1", "the same frame, resent raw"
    assert "Error rejected" not in console


def test_hang_is_caught_by_the_watchdog_and_the_board_streams_again(runs):
    run = ran(runs, "watchdog")
    assert_survived(run, boots=2)
    console = run.board.text
    assert run.board.find("camera.take() frozen")
    reset_at, line = run.board.find("[hostsim] WATCHDOG RESET") or (0.0, "")
    assert f"timeout {WATCHDOG_S} s" in line
    assert "[hostsim] boot 2 reset_reason=WATCHDOG" in console
    before = [f for f in run.server.frames() if f.at < reset_at]
    after = [f for f in run.server.frames() if f.at > reset_at]
    assert before and after and before[-1].at < reset_at - (WATCHDOG_S - 1), "nothing was sent while the loop hung"
    assert after[0].at - reset_at < RESUME_S
    assert after[0].headers["x-frame-seq"] == "1"
    assert len([r for r in run.server.requests("register") if r.at > reset_at]) == 1
    beats = [r.json() for r in run.server.requests("heartbeat") if r.at > reset_at]
    assert beats and beats[0]["resetReason"] == "WATCHDOG"
