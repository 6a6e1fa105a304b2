"""Shared test set-up: the firmware package is importable as `camstream` on CPython."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_LIB = ROOT / "CIRCUITPY" / "lib"

for path in (str(ROOT), str(FIRMWARE_LIB), str(Path(__file__).resolve().parent)):
    if path not in sys.path:
        sys.path.insert(0, path)
