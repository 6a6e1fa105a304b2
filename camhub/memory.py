"""Handing freed memory back to the system (glibc; elsewhere these do nothing).

glibc serves a large allocation from mmap only while it is above a threshold that it raises to the size of
every large block freed, so after a few 2 MB frames every later one comes from the heap, whose freed middle is
never given back: a burst of viewers or big frames left the hub at its peak size for good. A fixed threshold
keeps large frames in mmap (returned on free), and trim() returns what the heap holds free after a burst.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
MMAP_THRESHOLD = 256 * 1024  # above typical camera frames (20-200 KB), below attack-sized ones


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


_LIBC = _libc()


def configure() -> bool:
    """Fix the mmap threshold (once per process is enough; again is harmless). False where there is no glibc."""
    return bool(_LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) if _LIBC is not None else False


def trim() -> bool:
    """Returns whether the allocator gave memory back."""
    return bool(_LIBC.malloc_trim(0)) if _LIBC is not None else False
