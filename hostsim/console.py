"""The serial console: whole lines only, so hostsim's monitor never splits a line code.py is printing."""

from __future__ import annotations

import threading
from typing import TextIO


class LineConsole:
    """A stdout stand-in that buffers each thread's partial line and writes complete lines atomically."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._partial: dict[int, str] = {}
        self.encoding = getattr(out, "encoding", "utf-8")

    def write(self, text: str) -> int:
        ident = threading.get_ident()
        with self._lock:
            pending = self._partial.pop(ident, "") + text
            head, newline, tail = pending.rpartition("\n")
            if newline:
                self._out.write(head + "\n")
                self._out.flush()
            if tail:
                self._partial[ident] = tail
        return len(text)

    def flush(self) -> None:
        """Partial lines wait for their newline; complete ones are already out."""
        with self._lock:
            self._out.flush()

    def close_lines(self) -> None:
        """End of run: whatever is still pending goes out."""
        with self._lock:
            for tail in self._partial.values():
                self._out.write(tail + "\n")
            self._partial.clear()
            self._out.flush()

    def isatty(self) -> bool:
        return self._out.isatty()

    def fileno(self) -> int:
        return self._out.fileno()
