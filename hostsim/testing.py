"""For tests: a hostsim World with the fake CircuitPython modules importable and gc.collect() running the board's
finalisers, undone afterwards (no os.getenv patch)."""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from hostsim import world as world_module
from hostsim.runner import FAKE_MODULES, FAKES, OPTIONAL_FAKES, board_collector
from hostsim.world import Config, World


class VirtualBoard:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.world: World | None = None
        self._saved_path = list(sys.path)
        self._host_collect = gc.collect
        self._names = FAKE_MODULES + OPTIONAL_FAKES
        self._saved_modules = {n: sys.modules[n] for n in self._names if n in sys.modules}

    def boot(self, **config: Any) -> World:
        config.setdefault("circuitpy", self.tmp_path)
        world = World(Config(**config))
        world_module.install(world)
        import hostsim.tls  # noqa: F401  (CPython's ssl, before the board's fake shadows it)

        for name in self._names:
            sys.modules.pop(name, None)
        if str(FAKES) not in sys.path:
            sys.path.insert(0, str(FAKES))
        world.boot("POWER_ON")
        gc.collect = board_collector(world, self._host_collect)
        self.world = world
        return world

    def module(self, name: str) -> ModuleType:
        return importlib.import_module(name)

    def close(self) -> None:
        if self.world is not None:
            self.world.release_hardware()
        world_module.install(None)
        for name in self._names:
            sys.modules.pop(name, None)
        sys.modules.update(self._saved_modules)
        sys.path[:] = self._saved_path
        gc.collect = self._host_collect


def virtual_board(tmp_path: Path) -> Iterator[VirtualBoard]:
    board = VirtualBoard(tmp_path)
    try:
        yield board
    finally:
        board.close()
