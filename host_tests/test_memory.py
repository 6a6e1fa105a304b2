"""camhub.memory: with glibc's mmap threshold fixed, freed frames go back to the system; trim() returns the rest."""

import subprocess
import sys

import pytest

SCRIPT = """
import sys
from pathlib import Path
from camhub import memory

def rss():
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024

if sys.argv[1] == "configured":
    assert memory.configure()
big = bytearray(4_000_000)
del big  # unconfigured, glibc now serves blocks up to 4 MB from the heap
base = rss()
frames = [bytearray(2_000_000) for _ in range(40)]
pin = bytearray(200_000)  # allocated after them, from the heap too: it cannot shrink from its top
del frames
held = rss() - base
trimmed = memory.trim()
print(round(held), round(rss() - base), trimmed)
"""


def run(mode):
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=60, check=True)
    held, after_trim, trimmed = done.stdout.split()
    return float(held), float(after_trim), trimmed == "True"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_frames_go_back_to_the_system():
    held, _, _ = run("configured")
    assert held < 10, f"{held} MiB of 80 MiB of freed frames still resident"
    held, after_trim, trimmed = run("default")
    assert held > 50, "glibc's default kept the freed frames (the behaviour configure() exists for)"
    assert trimmed and after_trim < 10, "trim() gave them back"
