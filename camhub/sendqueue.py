"""The kernel's side of a viewer's connection: what it still holds for the viewer, and keeping that small.

Without this a slow viewer's socket buffer grows (Linux autotunes it to MBs) and fills with old frames that the
viewer then reads seconds late: the hub's own buffers looked empty while the kernel queued 3-4 MB.
"""

from __future__ import annotations

import fcntl
import socket
import struct
import termios
from typing import Protocol

# The kernel accepts more bytes only while fewer than this are unsent: about a third of a 720p frame, enough to
# keep a fast link busy between wake-ups, far too little to hold a backlog of frames.
NOTSENT_LOWAT = 16 * 1024
SIOCOUTQ = termios.TIOCOUTQ  # bytes in the send queue not yet acknowledged by the peer (unsent + in flight)
SIOCOUTQNSD = 0x894B  # bytes in the send queue not yet sent
_TCP_NOTSENT_LOWAT = getattr(socket, "TCP_NOTSENT_LOWAT", 25)
_INT = struct.Struct("i")


class _Socket(Protocol):  # a socket, or the wrapper an asyncio transport hands out
    def setsockopt(self, level: int, option: int, value: int, /) -> None: ...


def limit_unsent(sock: _Socket) -> bool:
    """Lets the kernel hold at most about NOTSENT_LOWAT unsent bytes; False where the system has no such option."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, _TCP_NOTSENT_LOWAT, NOTSENT_LOWAT)
    except OSError:
        return False
    return True


def _ioctl(fd: int, request: int) -> int:
    if fd < 0:
        return 0
    try:
        return int(_INT.unpack(fcntl.ioctl(fd, request, bytes(_INT.size)))[0])
    except OSError:
        return 0


def queued(fd: int) -> int:
    """Bytes the kernel holds for the peer (unsent or unacknowledged); 0 where it cannot tell or the socket is gone."""
    return _ioctl(fd, SIOCOUTQ)


def unsent(fd: int) -> int:
    """Bytes the kernel has not yet sent; 0 where it cannot tell or the socket is gone."""
    return _ioctl(fd, SIOCOUTQNSD)
