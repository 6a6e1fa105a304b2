"""bench.soak: a failed check is one short row (its cause's first line and tail), and the other rows still print."""

from __future__ import annotations

from bench import soak


def test_a_long_failure_is_cut_to_its_first_line_and_tail():
    console = "Camera: OV5640 ready\n" + "Error reset #1: connection lost\n" * 20_000 + "the end"
    cause = soak._cause(RuntimeError(f"CircuitPython timed out after 60.0s; stdout:\n{console}"))
    assert cause.startswith("RuntimeError: CircuitPython timed out after 60.0s; stdout:")
    assert "the end" in cause and len(cause) < 1000
    assert soak._cause(ValueError("short")) == "ValueError: short"
    rows = [soak.Row("firmware", False, cause), soak.Row("kill -9", True, "kills survived 20/20")]
    lines = soak.table(rows).splitlines()
    assert len(lines) == 4 and "FAILED" in lines[2] and "ok" in lines[3]
