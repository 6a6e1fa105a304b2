"""Boots the virtual board: fake modules first on sys.path, code.py run, reloaded and reset like the board."""

from __future__ import annotations

import gc
import importlib
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import CodeType, FrameType

from hostsim import world as world_module
from hostsim.console import LineConsole
from hostsim.world import BoardReset, Config, SoftReload, World

FAKES = Path(__file__).resolve().with_name("fakes")
FAKE_MODULES = (
    "micropython",
    "watchdog",
    "microcontroller",
    "microcontroller.pin",
    "supervisor",
    "busio",
    "board",
    "espidf",
    "wifi",
    "socketpool",
    "ssl",
)
# Fakes that exist only on some boards (they raise ImportError elsewhere, as on the board): imported on demand.
OPTIONAL_FAKES = ("espcamera", "AXP313A")
END_GRACE = 10.0  # seconds code.py may ignore the end-of-run interrupt before hostsim exits anyway


def find_code(circuitpy: Path) -> Path:
    """The file the board would run: code.txt, code.py, main.txt, main.py."""
    for name in ("code.txt", "code.py", "main.txt", "main.py"):
        if (circuitpy / name).is_file():
            return circuitpy / name
    raise FileNotFoundError(f"{circuitpy}: no code.py (or code.txt, main.txt, main.py) to run")


def install_modules(world: World) -> None:
    """Fake CircuitPython modules shadow Blinka's; CIRCUITPY and CIRCUITPY/lib come next, like on the board."""
    import hostsim.tls  # noqa: F401  (takes CPython's ssl before the board's `ssl` shadows it)
    from hostsim.frames import preload

    preload()  # espcamera loads on demand; what it needs must not count as code.py's (a reload forgets those)

    shadowed = {m.partition(".")[0] for m in FAKE_MODULES + OPTIONAL_FAKES}
    for name in [n for n in sys.modules if n.partition(".")[0] in shadowed]:
        del sys.modules[name]
    root = world.config.circuitpy
    sys.path[:0] = [str(FAKES), str(root), str(root / "lib")]
    world_module.install(world)
    os.getenv = world.settings.getenv  # type: ignore[assignment]
    # The board's clocks count from its last reset, not from the PC's boot (uptime reports rely on it).
    time.monotonic = world.uptime
    time.monotonic_ns = lambda: int(world.uptime() * 1_000_000_000)
    gc.mem_alloc = lambda: world.heap()[0]  # type: ignore[attr-defined]
    gc.mem_free = lambda: world.heap()[1]  # type: ignore[attr-defined]
    gc.collect = board_collector(world, gc.collect)
    for name in FAKE_MODULES:
        importlib.import_module(name)


def board_collector(world: World, collect: Callable[..., int]) -> Callable[..., int]:
    """gc.collect() that also runs the board's finalisers (half-built objects release their pins)."""

    def board_collect(*args: int) -> int:
        world.collect()
        return collect(*args)

    return board_collect


def _purge_firmware_modules(before: set[str]) -> None:
    """A reload starts a fresh VM: forget what code.py imported (its libraries), keep stdlib and fakes."""
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        top = name.partition(".")[0]
        path = str(getattr(module, "__file__", "") or "")
        if top in sys.stdlib_module_names or top == "hostsim" or path.startswith(str(FAKES)):
            continue
        del sys.modules[name]


class Board:
    def __init__(self, world: World, code: Path) -> None:
        self.world = world
        self.code = code
        self.in_code = False
        self.stop_requested = False
        self.user_interrupt = False
        self.finished = False

    # signals: the only way to stop code.py inside sleep(), select() or a frozen take()
    def on_sigint(self, signum: int, frame: FrameType | None) -> None:
        exc = self.world.pop_interrupt()
        if exc is None:
            if not self.world.ending:
                self.user_interrupt = True
            self.stop_requested = True
        if not self.in_code:
            return
        raise exc if exc is not None else KeyboardInterrupt

    def monitor(self) -> None:
        """Watchdog, fault log and end of run, checked every 20 ms."""
        world = self.world
        last = world.now()
        ended_at: float | None = None
        next_kick = 0.0
        while not self.finished:
            time.sleep(0.02)
            now = world.now()
            for fault, what in world.faults.transitions(last, now):
                print(f"[hostsim] fault {fault} {what} at t={now:.1f} s", flush=True)
            for at, kbps in world.link.changes(last, now):
                print(f"[hostsim] link {kbps:g} KB/s from t={at:g} s", flush=True)
            last = now
            overdue = world.watchdog_overdue()
            if overdue is not None and self.in_code:
                mode, timeout = world.watchdog_mode, world.watchdog_timeout
                world.watchdog_mode = None
                if mode == "RESET":
                    print(f"[hostsim] WATCHDOG RESET: not fed for {overdue:.1f} s (timeout {timeout:g} s)", flush=True)
                    world.interrupt(BoardReset("WATCHDOG"))
                else:
                    print(
                        f"[hostsim] WATCHDOG RAISE: not fed for {overdue:.1f} s (timeout {timeout:g} s):"
                        " watchdog.WatchDogTimeout raised in code.py",
                        flush=True,
                    )
                    world.interrupt(sys.modules["watchdog"].WatchDogTimeout())
            seconds = world.config.seconds
            if seconds is not None and now >= seconds:
                if ended_at is None:
                    ended_at = next_kick = now
                    world.ending = True
                if now - ended_at > END_GRACE:
                    print(
                        f"[hostsim] code.py ignored the end-of-run KeyboardInterrupt for {END_GRACE:g} s"
                        " (a bare except?); exiting",
                        flush=True,
                    )
                    print(world.summary("stuck"), flush=True)
                    os._exit(3)
                if now >= next_kick:  # again every 2 s, in case code.py swallowed one
                    world.interrupt(None)
                    next_kick = now + 2.0

    def run_once(self, compiled: CodeType) -> str | BoardReset:
        """One run of code.py: 'reload', a BoardReset, 'stopped', 'done' or 'crashed'."""
        before = set(sys.modules)
        namespace = {"__name__": "__main__", "__file__": str(self.code)}
        outcome: str | BoardReset
        try:
            self.in_code = True
            if self.stop_requested:
                raise KeyboardInterrupt
            exec(compiled, namespace)  # noqa: S102  (running code.py is the point)
            outcome = "done"
        except SoftReload:
            outcome = "reload"
        except BoardReset as reset:
            outcome = reset
        except KeyboardInterrupt:
            outcome = "stopped"
        except SystemExit:
            outcome = "done"
        except BaseException:
            self.in_code = False
            text = traceback.format_exc()
            self.world.previous_traceback = text
            print(text, end="", flush=True)
            outcome = "crashed"
        finally:
            self.in_code = False
        self.world.release_hardware()
        _purge_firmware_modules(before)
        return outcome

    def idle(self) -> None:
        """After code.py ends the board waits (no auto-reload here) until the run ends."""
        while not self.stop_requested:
            time.sleep(0.05)

    def run(self) -> int:
        world = self.world
        source = self.code.read_text(encoding="utf-8")
        compiled = compile(source, str(self.code), "exec")
        threading.Thread(target=self.monitor, name="hostsim-monitor", daemon=True).start()
        world.boot("POWER_ON")
        print("[hostsim] boot 1 reset_reason=POWER_ON", flush=True)
        state = "running"
        while True:
            print(f"{self.code.name} output:", flush=True)
            outcome = self.run_once(compiled)
            if isinstance(outcome, BoardReset):
                if outcome.reason == "SOFTWARE":
                    print("[hostsim] hard reset (microcontroller.reset())", flush=True)
                world.boot(outcome.reason)
                print(f"[hostsim] boot {len(world.stats.boots)} reset_reason={outcome.reason}", flush=True)
                continue
            if outcome == "reload":
                world.stats.reloads += 1
                world.run_reason = "SUPERVISOR_RELOAD"
                print("[hostsim] soft reboot (supervisor.reload())", flush=True)
                continue
            if outcome == "stopped":
                break
            state = "crashed" if outcome == "crashed" else "done"
            print("\nCode done running.", flush=True)
            self.idle()
            break
        self.finished = True
        print(world.summary(state), flush=True)
        if self.user_interrupt:
            return 130
        return 1 if state == "crashed" else 0


def run(config: Config) -> int:
    """Boot the board with `config` and run until --seconds, Ctrl-C; returns the exit status."""
    world = World(config)
    code = find_code(config.circuitpy)
    install_modules(world)
    board = Board(world, code)
    signal.signal(signal.SIGINT, board.on_sigint)
    os.chdir(config.circuitpy)
    console = LineConsole(sys.stdout)
    sys.stdout = console
    faults = " ".join(str(f) for f in world.faults.faults) or "none"
    frames = str(config.frames) if config.frames else "test pattern"
    psram = f"{world.board.psram >> 20}MB" if config.psram else "none"
    print(
        f"[hostsim] start board={config.board} circuitpy={config.circuitpy} psram={psram}"
        f" circuitpython={'.'.join(map(str, config.circuitpython))} sensor={config.sensor_fps:g}fps frames={frames}"
        f" link={world.link.describe()} faults={faults}"
        f" mac={config.mac.hex(':')} seconds={config.seconds if config.seconds is not None else 'until Ctrl-C'}",
        flush=True,
    )
    try:
        return board.run()
    finally:
        console.close_lines()
