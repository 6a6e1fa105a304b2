"""Guest side of the heap budget with rate control on (runs under MicroPython and CircuitPython's core).

The firmware's own `Streamer.step()` (camera wrapper, rate control, the uplink, statistics) over a
`fakes.FakeSocket` whose bytes take their air time on a `fakes.FakeLink`, with a `fakes.FakeCamera` whose frame
sizes follow quality and frame size (the q ** -0.75 law rate control predicts with). The link starts at
`start_kbps`, so rate control steps the picture down (quality first, then one reconfigure()), and jumps to
`fast_kbps` half way, so it steps back up: the measured steps include window decisions and changes. Each step
runs right after a collection with the GC disabled; its `gc.mem_alloc()` delta is what that step allocated.
"""

import gc
import json

from fakes import (
    API_KEY,
    DEVICE_ID,
    SERVER_URL,
    FakeCamera,
    FakeClock,
    FakeConnectionManager,
    FakeControl,
    FakeLink,
    FakeRadio,
    FakeSocket,
    FakeSystem,
    synthetic_jpeg,
)

from camstream import settings
from camstream.camera import Camera
from camstream.ratecontrol import predict
from camstream.streamer import Streamer
from camstream.uplink import FrameUplink
from camstream.wifilink import WifiLink

# Where each measured frame size starts: (frame size, quality number) giving about that many bytes.
START = {20: ("VGA", 11), 60: ("HD", 13), 150: ("SXGA", 6)}
REFERENCE = (109000, "HD", 6)  # an OV5640 frame at CamStream's defaults


def sizes(frame_size, quality):
    return predict(REFERENCE[0], REFERENCE[1], REFERENCE[2], frame_size, quality)


def build(kb, kbps, fps):
    frame_size, quality = START[kb]
    values = {
        "CIRCUITPY_WIFI_SSID": "probe-net",
        "CAMSTREAM_SERVER_URL": SERVER_URL,
        "CAMSTREAM_API_KEY": API_KEY,
        "CAMSTREAM_DEVICE_ID": DEVICE_ID,
        "CAMSTREAM_FRAME_SIZE": frame_size,
        "CAMSTREAM_JPEG_QUALITY": str(quality),
        "CAMSTREAM_TARGET_FPS": str(fps),
        "CAMSTREAM_HEARTBEAT_S": "3600",  # off the frame path: not in the measured steps
        "CAMSTREAM_STATS_S": "3600",
    }
    cfg = settings.load(values.get, b"\x02\x00\x00\xbe\x4c\x01")
    clock = FakeClock()
    link = FakeLink(clock, kbps)
    sock = FakeSocket(max_send=5744, eagain_every=7, link=link)
    fake = FakeCamera([synthetic_jpeg(200 * 1024)], frame_size=frame_size, quality=quality, sizes=sizes)
    camera = Camera(lambda **kw: fake, cfg.frame_size, cfg.jpeg_quality, cfg.framebuffers, True, clock.sleep, _nothing)
    camera.open()
    manager = FakeConnectionManager(lambda: sock)
    uplink = FrameUplink(manager, cfg.server, cfg.api_key, cfg.device_id, cfg.upload, None, 5.0, clock)
    wifi = WifiLink(FakeRadio(), cfg.wifi_ssid, cfg.wifi_password, manager.close_all)
    streamer = Streamer(cfg, camera, uplink, FakeControl(), wifi, FakeSystem(), clock, clock.sleep)
    return streamer, camera, link


def _nothing():
    pass


def measure(kb, steps, start_kbps, fast_kbps, fps=20):
    """`steps` measured steps after a warm-up step (connect, first calls); the link turns fast half way."""
    streamer, camera, link = build(kb, start_kbps, fps)
    streamer.step()
    rows = []
    for i in range(steps):
        if i == steps // 2:
            link.bytes_per_ms = fast_kbps
        changes = streamer.rate.changes
        sent = streamer.stats.frames_sent
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        streamer.step()
        alloc = gc.mem_alloc() - before
        gc.enable()
        rows.append(
            {
                "alloc": alloc,
                "changed": streamer.rate.changes != changes,
                "sent": streamer.stats.frames_sent - sent,
                "picture": "%s q%d" % (camera.frame_size, camera.quality),
            }
        )
    return {
        "kb": kb,
        "rows": rows,
        "changes": streamer.rate.changes,
        "reconfigures": camera.reconfigures,
        "errors": streamer.stats.errors,
    }


def report(result):
    print("RESULT", json.dumps(result))
