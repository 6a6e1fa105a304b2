"""The kernel's side of a viewer's connection: what it still holds for the viewer.

Without a look at it a slow viewer's socket buffer grows (Linux autotunes it to MBs) and fills with old frames that
the viewer then reads seconds late: the hub's own buffers looked empty while the kernel queued 3-4 MB. The stream
chooses its next frame only once the kernel holds at most UNSENT_LIMIT unsent bytes. (TCP_NOTSENT_LOWAT would
bound the same queue in the kernel, but made the hub use 4-9% more CPU per frame in its benchmark; the check
before each part bounds it alone.)
"""

from __future__ import annotations

import fcntl
import struct
import termios

# The next part is sent only while fewer than this are unsent: about a third of a 720p frame, enough to keep a
# fast link busy between wake-ups, far too little to hold a backlog of frames.
UNSENT_LIMIT = 16 * 1024
SIOCOUTQ = termios.TIOCOUTQ  # bytes in the send queue not yet acknowledged by the peer (unsent + in flight)
SIOCOUTQNSD = 0x894B  # bytes in the send queue not yet sent
_INT = struct.Struct("i")


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
