"""Shared set-up: `camstream` (the firmware) and `testkit` importable, and every fixture the tests share.

Hubs: fixtures build on each other: `hub_factory` starts real hubs (`await hub_factory(**config)`), `hub` is one with
the defaults, `client` is an aiohttp session to talk to them; `threaded_hub` runs one in a thread of its own
for tests that are not async; `recorder` records every device under tmp_path/rec with the clock at H0, and
`recordings_client` talks to an app of just the recording routes over one that records cam1; `hub_process` is
`python -m camhub` for a module. Firmware: `core` runs a guest script under each real core, `control_rig` wires
Control to fake sockets. Virtual board: `board`. Others: `registry`, `browser`, `ca`.
"""

import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import adafruit_connection_manager
import adafruit_requests
import aiohttp
import pytest
import trustme
from aiohttp import web
from aiohttp.test_utils import TestClient

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_LIB = ROOT / "CIRCUITPY" / "lib"

for path in (str(ROOT), str(FIRMWARE_LIB)):
    if path not in sys.path:
        sys.path.insert(0, path)

from camhub import recordings  # noqa: E402  (these need the path above)
from camhub.config import Config  # noqa: E402
from camhub.errors import json_errors  # noqa: E402
from camhub.keys import CONFIG, RECORDER  # noqa: E402
from camhub.recording import Recorder  # noqa: E402
from camhub.registry import Registry  # noqa: E402
from camstream.control import Control  # noqa: E402
from camstream.urls import parse as parse_url  # noqa: E402
from hostsim.testing import VirtualBoard, virtual_board  # noqa: E402
from testkit.browser import ARGS, CHROMIUM  # noqa: E402
from testkit.clock import ManualClock  # noqa: E402
from testkit.fakes import FakeSocket, FakeSocketPool, http_response  # noqa: E402
from testkit.hubs import KEY, HubProcess, RunningHub, ThreadedHub, hub_config, running_hub  # noqa: E402
from testkit.mpy import MicroPythonUnavailable, circuitpython, run_circuitpython, run_node  # noqa: E402
from testkit.recordings import H0  # noqa: E402

HubFactory = Callable[..., Awaitable[RunningHub]]


@pytest.fixture
async def hub_factory(tmp_path: Path) -> AsyncIterator[HubFactory]:
    """Starts real hubs on 127.0.0.1 ephemeral ports: `hub = await hub_factory(**config_overrides)`."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> RunningHub:
            overrides.setdefault("data_dir", tmp_path / "data")
            return await stack.enter_async_context(running_hub(hub_config(**overrides)))

        yield start


@pytest.fixture
async def hub(hub_factory: HubFactory) -> RunningHub:
    return await hub_factory()


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def threaded_hub(tmp_path: Path) -> Iterator[ThreadedHub]:
    with ThreadedHub(hub_config(tmp_path / "threaded")) as hub:
        yield hub


@pytest.fixture
async def recorder(tmp_path: Path) -> AsyncIterator[Recorder]:
    rec = Recorder(tmp_path / "rec", record={"all"}, clock=lambda: H0)
    await rec.start()
    yield rec
    await rec.close()


@pytest.fixture
async def recordings_client(
    tmp_path: Path, aiohttp_client: Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
) -> TestClient[web.Request, web.Application]:
    async def recorder_ctx(app: web.Application) -> AsyncIterator[None]:
        app[RECORDER] = Recorder(tmp_path / "recordings", record={"cam1"}, clock=lambda: H0)
        await app[RECORDER].start()
        yield
        await app[RECORDER].close()

    app = web.Application(middlewares=[json_errors])
    app[CONFIG] = Config()
    app.cleanup_ctx.append(recorder_ctx)
    recordings.add_routes(app)
    return await aiohttp_client(app)


@pytest.fixture
def board(tmp_path: Path) -> Iterator[VirtualBoard]:
    """hostsim's modules importable in this process, for tests of the fakes themselves."""
    yield from virtual_board(tmp_path)


@pytest.fixture(scope="module")
def hub_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """`python -m camhub` with the test key, shared by a module's tests; it must exit cleanly on Ctrl-C."""
    process = HubProcess(tmp_path_factory.mktemp("hubdata"), env={"CAMHUB_API_KEYS": KEY})
    try:
        yield process
    finally:
        process.stop()
        assert process.proc.returncode == 0, process.text


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A certificate authority for TLS tests (hub and board trust what it issues)."""
    return trustme.CA()


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[Registry]:
    """A registry on tmp_path whose clock (`registry.clock`, a ManualClock) the test moves."""
    clock = ManualClock()
    reg = Registry(tmp_path / "registry.sqlite3", default_interval_s=10.0, clock=clock)
    await reg.open()
    reg.clock = clock  # type: ignore[attr-defined]
    yield reg
    await reg.close()


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    """A headless chromium context (Playwright) with its own profile."""
    from playwright.async_api import async_playwright

    assert shutil.which(CHROMIUM), f"{CHROMIUM} is required for the browser tests"
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1200, "height": 800},
        )
        yield context
        await context.close()


def _circuitpython(script: str, files: dict[str, Any], heap_bytes: int = 2 * 1024 * 1024) -> str:
    try:
        circuitpython()
    except MicroPythonUnavailable as exc:
        pytest.skip(str(exc))
    return run_circuitpython(script, files, heap_bytes=heap_bytes)


@pytest.fixture
def circuitpython_core() -> None:
    """Skips, naming CAMSTREAM_CIRCUITPYTHON, unless CircuitPython's own core is configured."""
    try:
        circuitpython()
    except MicroPythonUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=["micropython", "circuitpython"])
def core(request: pytest.FixtureRequest) -> Callable[..., str]:
    """run(script, files, heap_bytes=...) -> stdout under one of the two cores (CircuitPython's skips, naming
    CAMSTREAM_CIRCUITPYTHON, when the interpreter is not configured)."""
    return run_node if request.param == "micropython" else _circuitpython


@dataclass
class ControlRig:
    """camstream.control.Control over the real adafruit_requests and fake sockets whose answers a test sets."""

    control: Control
    sockets: list[FakeSocket]
    responses: dict[str, list[bytes]]
    resets: list[int]


@pytest.fixture
def control_rig() -> Iterator[ControlRig]:
    sockets: list[FakeSocket] = []
    responses = {"list": [http_response(200, b'{"ok":true}')]}

    def factory() -> FakeSocket:
        sock = FakeSocket(responses["list"], eagain_every=0, keep=True)
        sockets.append(sock)
        return sock

    pool = FakeSocketPool(factory)
    resets: list[int] = []

    def reset() -> None:
        resets.append(1)
        adafruit_connection_manager.connection_manager_close_all(pool)

    session = adafruit_requests.Session(pool, None)
    control = Control(session, parse_url("http://127.0.0.1:9005"), "secret", "ESP32-CAM-ABCDEF", reset)
    yield ControlRig(control, sockets, responses, resets)
    adafruit_connection_manager._global_connection_managers.pop(pool, None)
