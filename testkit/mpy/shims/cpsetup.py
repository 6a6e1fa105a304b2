"""Run first inside MicroPython: give it CircuitPython's module surface (see circuitpython-facts.md).

MicroPython's `time` has ticks_ms/ticks_diff but no monotonic/monotonic_ns, and it has no `supervisor`;
CircuitPython is the reverse. Replacing `time` with the CircuitPython surface means firmware that reaches
for a MicroPython-only call fails here as it would on the board.

`errno` cannot be shimmed the same way: the compiler folds `errno.EAGAIN` into the build's own number.
The node port uses Linux numbers (EAGAIN 11, as on the board); the WASI build's EAGAIN is 6.
"""

import sys

import cptime

sys.modules["time"] = cptime
