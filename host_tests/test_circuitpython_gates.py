"""CircuitPython gates: every firmware file compiles with mpy-cross and type-checks against CircuitPython.

The type gate runs mypy (config: mypy-circuitpython.ini) once per camera board, with a typeshed
assembled from .cpstubs (`make setup-test`): circuitpython-typeshed's core (builtins, typing, os, time,
...), the CircuitPython modules from circuitpython-stubs 10.x (the typeshed bundles older copies: no
`wifi.PowerManagement`, a `WatchDogTimer.deinit()` that CircuitPython 10 removed) and that board's
`board` stub. Two corrections make it stricter or complete where the stubs are not CircuitPython:
str/bytes/bytearray lose removeprefix/removesuffix (CPython 3.9+ only), and `microcontroller.pin`
(missing from the stubs) is added. adafruit_requests/adafruit_connection_manager come from .venv on
MYPYPATH: calls into them are checked against their real signatures, their internals are not reported.
"""

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from testkit.mpy import CIRCUITPY, FIRMWARE_LIB, ROOT, library_source

VENV_BIN = Path(sys.executable).parent
CPSTUBS = ROOT / ".cpstubs"
MYPY_INI = ROOT / "testkit" / "mypy-circuitpython.ini"
FIRMWARE_PY = sorted(CIRCUITPY.rglob("*.py"))
FIRMWARE_TARGETS = (CIRCUITPY / "code.py", FIRMWARE_LIB)
# Camera boards that have a CircuitPython definition (circuitpython-facts.md, "Camera pins by board").
CAMERA_BOARDS = (
    "adafruit_esp32s3_camera",
    "espressif_esp32s3_eye",
    "seeed_xiao_esp32_s3_sense",
    "sensebox_mcu_eye_esp32s3",
    "prokyber_ai_on_the_edge_cam",
    "firebeetle2_esp32s3",
)
# Libraries from requirements.txt that the firmware imports, with the typing package their hints use.
LIBRARIES = ("adafruit_requests", "adafruit_connection_manager", "circuitpython_typing")
# MicroPython's str/bytes/bytearray lack these; the CPython-shaped typeshed gates them on 3.9+ only.
MISSING_STR_METHODS = {"removeprefix", "removesuffix"}
# Modules CircuitPython has that circuitpython-stubs leaves out: (package, submodule) -> stub text.
# `microcontroller.pin` holds the chip's GPIOn pins (architecture.md lists it in the used surface).
STUB_GAPS = {("microcontroller", "pin"): "from microcontroller import Pin\n\ndef __getattr__(name: str) -> Pin: ...\n"}
# Libraries CircuitPython freezes into some boards' builds, which the firmware imports only on those boards:
# the signatures of bill88t/CircuitPython_AXP313A (FireBeetle 2 ESP32-S3).
FROZEN_STUBS = {
    "AXP313A": textwrap.dedent(
        """\
        from busio import I2C

        class camera_voltages:
            OV2640: list[float]
            OV7725: list[float]

        class AXP313A:
            i2c: I2C
            def __init__(self, i2c: I2C) -> None: ...
            def begin(self) -> bool: ...
            def set_power(self, DVDD: float, AVDDorDOVDD: float) -> bool: ...
            def disable_power(self) -> None: ...

        def enable_camera(axpobject: AXP313A, camera: list[float]) -> bool: ...
        def disable_camera(axpobject: AXP313A) -> None: ...
        """
    )
}


def _mpy_cross() -> Path:
    path = VENV_BIN / "mpy-cross"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make setup` (installs the test extras, mpy-cross among them)")
    return path


def _micropython_builtins(text: str) -> str:
    """builtins.pyi with the 3.9+ blocks that only add MISSING_STR_METHODS made unreachable."""
    lines = text.splitlines(keepends=True)
    patched = 0
    for i, line in enumerate(lines):
        if line.strip() != "if sys.version_info >= (3, 9):":
            continue
        indent = len(line) - len(line.lstrip())
        names = set()
        for body in lines[i + 1 :]:
            if body.strip() and len(body) - len(body.lstrip()) <= indent:
                break
            if body.strip().startswith("def "):
                names.add(body.strip()[4:].split("(")[0])
        if names and names <= MISSING_STR_METHODS:
            lines[i] = line.replace(">= (3, 9)", "< (3, 0)")
            patched += 1
    if patched != 3:
        raise RuntimeError(f"expected removeprefix/removesuffix blocks for str, bytes, bytearray; found {patched}")
    return "".join(lines)


def circuitpython_typeshed(dest: Path, board_id: str) -> Path:
    """A typeshed for `--custom-typeshed-dir`, as the firmware sees modules on `board_id`."""
    source = CPSTUBS / "stdlib"
    board_stub = CPSTUBS / "board_definitions" / board_id / "__init__.pyi"
    if not source.is_dir():
        pytest.fail(f"{source} is missing: run `make setup-test` (pip install --target .cpstubs ...)")
    if not board_stub.is_file():
        pytest.fail(f"circuitpython-stubs has no board definition {board_id!r} in {board_stub.parent.parent}")
    stdlib = dest / "stdlib"
    stdlib.mkdir(parents=True)
    for entry in source.iterdir():
        name = entry.name.removesuffix(".pyi")
        if name in ("builtins", "board", "__pycache__"):
            continue
        stubs = CPSTUBS / f"{name}-stubs"
        if stubs.is_dir():
            (stdlib / name).symlink_to(stubs)
        else:
            (stdlib / entry.name).symlink_to(entry)
    for stubs in CPSTUBS.glob("*-stubs"):
        name = stubs.name.removesuffix("-stubs")
        if name != "board" and not (stdlib / name).exists() and not (stdlib / f"{name}.pyi").exists():
            (stdlib / name).symlink_to(stubs)
    for (package, submodule), text in STUB_GAPS.items():
        (stdlib / package).unlink()
        (stdlib / package).mkdir()
        init = (CPSTUBS / f"{package}-stubs" / "__init__.pyi").read_text()
        (stdlib / package / "__init__.pyi").write_text(f"{init}\nfrom {package} import {submodule} as {submodule}\n")
        (stdlib / package / f"{submodule}.pyi").write_text(text)
    for name, text in FROZEN_STUBS.items():
        (stdlib / f"{name}.pyi").write_text(text)
    (stdlib / "board").mkdir()
    (stdlib / "board" / "__init__.pyi").write_bytes(board_stub.read_bytes())
    (stdlib / "builtins.pyi").write_text(_micropython_builtins((source / "builtins.pyi").read_text()))
    (dest / "stubs").symlink_to(CPSTUBS / "stubs")
    return dest


def run_mypy(targets: list[Path], board_id: str, work: Path) -> subprocess.CompletedProcess[str]:
    """mypy with the firmware's config, this board's typeshed, and the device libraries on MYPYPATH."""
    if importlib.util.find_spec("mypy") is None:
        pytest.fail("mypy is not installed in .venv: run `make setup` (installs the test extras)")
    typeshed = circuitpython_typeshed(work / "typeshed", board_id)
    libs = work / "libs"
    libs.mkdir()
    for module in LIBRARIES:
        src = library_source(module)
        (libs / src.name).symlink_to(src)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(MYPY_INI),
            "--custom-typeshed-dir",
            str(typeshed),
            "--cache-dir",
            str(work / "cache"),
            *map(str, targets),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env={**os.environ, "MYPYPATH": str(libs)},
    )


def test_firmware_is_there() -> None:
    """The per-file gates below are parametrized over files: make sure there are files."""
    assert (CIRCUITPY / "code.py").is_file(), "CIRCUITPY/code.py is missing"
    assert any(FIRMWARE_LIB.glob("*.py")), "CIRCUITPY/lib/camstream/ has no modules"


@pytest.mark.parametrize("path", FIRMWARE_PY, ids=[str(p.relative_to(CIRCUITPY)) for p in FIRMWARE_PY])
def test_compiles_with_mpy_cross(path: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(_mpy_cross()), "-o", str(tmp_path / "out.mpy"), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"mpy-cross rejects {path.relative_to(ROOT)}:\n{proc.stderr}{proc.stdout}"


def test_mpy_cross_gate_bites(tmp_path: Path) -> None:
    """MicroPython's grammar has no `match` statement: the compile gate must say so."""
    bad = tmp_path / "bad.py"
    bad.write_text("match 1:\n    case 1:\n        pass\n")
    proc = subprocess.run(
        [str(_mpy_cross()), "-o", str(tmp_path / "bad.mpy"), str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "SyntaxError" in proc.stderr, proc.stdout + proc.stderr


@pytest.mark.parametrize("board_id", CAMERA_BOARDS)
def test_firmware_type_checks(board_id: str, tmp_path: Path) -> None:
    proc = run_mypy(list(FIRMWARE_TARGETS), board_id, tmp_path)
    assert proc.returncode == 0, f"mypy (CircuitPython stubs, board {board_id}):\n{proc.stdout}{proc.stderr}"


def test_type_gate_rejects_cpython_only_apis(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        textwrap.dedent(
            """\
            import time


            def elapsed(start):
                return time.perf_counter() - start


            def strip(path: str) -> str:
                return path.removeprefix("/")


            def strip_bytes(data: bytes) -> bytes:
                return data.removesuffix(b"\\n")
            """
        )
    )
    proc = run_mypy([probe], CAMERA_BOARDS[0], tmp_path)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert 'probe.py:5: error: Module has no attribute "perf_counter"' in out, out
    assert 'probe.py:9: error: "str" has no attribute "removeprefix"' in out, out
    assert 'probe.py:13: error: "bytes" has no attribute "removesuffix"' in out, out


def test_type_gate_accepts_circuitpython_10_apis(tmp_path: Path) -> None:
    """CircuitPython 10 names (from circuitpython-stubs, not the typeshed's older copies) and board pins pass."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        textwrap.dedent(
            """\
            import time

            import adafruit_connection_manager
            import adafruit_requests
            import board
            import espcamera
            import microcontroller
            import supervisor
            import wifi

            wifi.radio.power_management = wifi.PowerManagement.NONE
            pool = adafruit_connection_manager.get_radio_socketpool(wifi.radio)
            session = adafruit_requests.Session(pool)
            camera = espcamera.Camera(
                data_pins=list(board.CAMERA_DATA),
                pixel_clock_pin=board.CAMERA_PCLK,
                vsync_pin=board.CAMERA_VSYNC,
                href_pin=board.CAMERA_HREF,
                i2c=board.I2C(),
                external_clock_pin=board.CAMERA_XCLK,
                pixel_format=espcamera.PixelFormat.JPEG,
                frame_size=espcamera.FrameSize.HD,
            )
            started_ns: int = time.monotonic_ns()
            ticks: int = supervisor.ticks_ms()
            led: microcontroller.Pin = microcontroller.pin.GPIO21
            """
        )
    )
    proc = run_mypy([probe], "adafruit_esp32s3_camera", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
