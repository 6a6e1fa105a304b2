"""Guest side of the firmware soak: the firmware's own loop for many frames with failures mixed in (resets
mid-upload, refused connects, camera timeouts, a hub answering 500), gc on, and the free heap after a
collection sampled as it goes. The fakes' own histories are cleared before each sample, so only the
firmware's memory is measured.
"""

import gc
import json

from board_probe import JPEG, OK, Board
from fakes import FakeSocket, http_response

SAMPLE_EVERY = 500


def faulty_frame_sockets():
    """Every 9th connect refused; each socket resets mid-upload after 20-60 frames' worth of bytes."""
    made = [0]

    def connect():
        made[0] += 1
        if made[0] % 9 == 0:
            raise OSError(111)
        return FakeSocket(OK, eagain_every=7, reset_after=len(JPEG) * (20 + made[0] * 7 % 41))

    return connect


def forget(board):
    """Drop what the fakes record for tests (their lists would grow for ever), not what the firmware holds."""
    board.clock.sleeps.clear()
    board.fake_camera.timeouts.clear()
    board.manager.sockets.clear()
    board.pool.sockets.clear()


def run(frames):
    board = Board(
        frame_socket=faulty_frame_sockets(),
        control_answers=[OK, OK, http_response(500, b"busy", b"text/plain"), OK],
        frames=[JPEG] * 30 + [None],  # a camera timeout every 31 frames
    )
    free = [0] * ((frames - 1) // SAMPLE_EVERY + 1)  # made up front: a growing list would be the probe leaking
    for step in range(frames):
        board.streamer.step()
        if step % SAMPLE_EVERY == 0:
            forget(board)
            gc.collect()
            free[step // SAMPLE_EVERY] = gc.mem_free()
    print("RESULT " + json.dumps({"every": SAMPLE_EVERY, "free": free, "errors": board.streamer.stats.errors}))
    board.close()
