"""Live video out: MJPEG streams fed from the fan-out slot (bounded lag, reduced sizes and rates, a clean end when
the camera stops), and single snapshots."""

from __future__ import annotations

import asyncio
import logging
import math

from aiohttp import web

from .errors import error
from .fanout import Slot, Viewer, ViewerLimit
from .framing import BOUNDARY, CONTENT_TYPE, PREAMBLE, last_part
from .keys import CLOCK, CONFIG, FANOUT, REGISTRY
from .registry import Device
from .resize import ResizeError, parse_width
from .sendqueue import UNSENT_LIMIT

log = logging.getLogger(__name__)

_NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate", "Pragma": "no-cache"}
MAX_FPS = 60.0
# How often a viewer whose kernel queue is still above UNSENT_LIMIT is looked at again: only slow viewers wait
# here, and for them a frame is due every 33-200 ms.
UNSENT_POLL_S = 0.01
_END_WRITE_S = 1.0  # the closing part is best effort: a viewer that stalls on it is not waited for
_NOTHING_SENT_END = f"--{BOUNDARY}--\r\n".encode()


def parse_fps(raw: str | None) -> float | None:
    """`?fps=`: at most this many frames a second (the newest each time), 0 < fps <= MAX_FPS; None when absent."""
    if raw is None:
        return None
    try:
        fps = float(raw)
    except ValueError:
        raise ValueError(f"fps={raw[:40]!r} is not a number") from None
    if not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise ValueError(f"fps={raw[:40]} must be above 0 and at most {MAX_FPS:g}")
    return fps


def _device(request: web.Request) -> Device | web.Response:
    device_id = request.match_info["device_id"]
    device = request.app[REGISTRY].get(device_id)
    return device if device is not None else error(404, f"unknown device {device_id!r}")


class _Stream:
    """One viewer's endless stream: waits for its socket to take the previous part, then sends the newest frame."""

    def __init__(self, request: web.Request, device: Device, slot: Slot, fps: float | None, width: int | None):
        self.request, self.device, self.slot, self.width = request, device, slot, width
        self.period = 1.0 / fps if fps else 0.0
        app = request.app
        self.clock, self.registry, config = app[CLOCK], app[REGISTRY], app[CONFIG]
        self.stall_s, self.end_after_s = config.viewer_timeout_s, config.stream_end_s
        self.viewer = Viewer(request.transport)
        self.opened_at = self.clock()
        self.seen = 0  # the last frame sent or skipped
        self.sent = 0

    def _socket_full(self) -> bool:
        """Whether the hub still holds bytes for this viewer or the kernel more than UNSENT_LIMIT unsent ones."""
        return bool(self.viewer.buffered()) or self.viewer.unsent() > UNSENT_LIMIT

    async def _socket_drained(self, loop: asyncio.AbstractEventLoop) -> None:
        """Raises TimeoutError when the viewer has taken nothing for `stall_s`."""
        give_up = loop.time() + self.stall_s
        while self._socket_full():
            if loop.time() >= give_up:
                raise TimeoutError
            await asyncio.sleep(UNSENT_POLL_S)

    async def _newer_frame(self) -> str | None:
        """None once the slot has a frame newer than the last one sent; otherwise why the stream ends."""
        slot, device = self.slot, self.device
        while slot.seq == self.seen:
            if slot.closed:
                return "hub shutting down"
            now = self.clock()
            if not self.registry.is_online(device, now):
                return "camera offline"
            silent_since = max(slot.received_at, self.opened_at)
            end_in = silent_since + slot.interval + self.end_after_s - now
            if end_in <= 0:
                return f"camera sent no frame for {now - silent_since:.1f} s"
            await slot.changed()  # Fanout.tick() wakes it while the camera is silent
        return None if not slot.closed else "hub shutting down"

    async def run(self, response: web.StreamResponse) -> None:
        loop, viewer = asyncio.get_running_loop(), self.viewer
        due = 0.0
        while True:
            if self._socket_full():
                await self._socket_drained(loop)
            if self.period and (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            reason = await self._newer_frame()
            if reason is not None:
                return await self._end(response, reason)
            seq = self.slot.seq
            try:
                _, part = await self.slot.variant(self.width)
            except ResizeError as exc:
                log.warning("frame %d of %s skipped: %s", seq, self.device.device_id, exc)
                self.seen = seq
                continue
            self.slot.count_sent(self.seen)
            data = part if self.sent else PREAMBLE + part  # a copy of the first part only
            now = loop.time()
            self.seen, self.sent, due = seq, self.sent + 1, now + self.period
            # Not a timer per part: Fanout.tick() aborts a write stuck for stall_s.
            viewer.writing_since = now
            await response.write(data)
            viewer.writing_since = None
            if viewer.stalled:
                return  # Fanout.tick() aborted it

    async def _end(self, response: web.StreamResponse, reason: str) -> None:
        """The last frame once more with the reason in X-End-Of-Stream, then the close delimiter."""
        self.slot.streams_ended += 1
        log.info("stream of %s to %s ended: %s", self.device.device_id, self.request.remote, reason)
        closing = _NOTHING_SENT_END
        if self.sent and self.slot.jpeg:
            try:
                jpeg, _ = await self.slot.variant(self.width)
                closing = last_part(jpeg, self.slot.seq, self.slot.received_at, reason)
            except ResizeError:
                pass  # the close delimiter alone still ends the stream
        response.force_close()  # the connection closes after the end, as a client that reads to EOF expects
        await asyncio.wait_for(response.write(closing), _END_WRITE_S)
        await response.write_eof()


async def stream(request: web.Request) -> web.StreamResponse:
    """`?fps=` (at most that rate) and `?width=` (reduced, aspect kept) make a lighter stream."""
    device = _device(request)
    if isinstance(device, web.Response):
        return device
    try:
        fps = parse_fps(request.query.get("fps"))
        width = parse_width(request.query.get("width"))
    except ValueError as exc:
        return error(400, str(exc))
    registry = request.app[REGISTRY]
    if not registry.is_online(device):
        return error(503, f"camera {device.device_id!r} is offline: its stream starts again when it sends frames")
    fanout = request.app[FANOUT]
    slot = fanout.slot(device.device_id)
    viewer_stream = _Stream(request, device, slot, fps, width)
    try:
        fanout.admit(slot, viewer_stream.viewer)
    except ViewerLimit as exc:
        return error(503, str(exc), **{"Retry-After": "10"})
    try:
        response = web.StreamResponse(headers={"Content-Type": CONTENT_TYPE, "X-Accel-Buffering": "no", **_NO_CACHE})
        await response.prepare(request)
        return await _watch(request, viewer_stream, response)
    finally:
        fanout.leave(slot, viewer_stream.viewer)


async def _watch(request: web.Request, viewer_stream: _Stream, response: web.StreamResponse) -> web.StreamResponse:
    device_id, slot, timeout = viewer_stream.device.device_id, viewer_stream.slot, viewer_stream.stall_s
    try:
        await viewer_stream.run(response)
    except TimeoutError:
        slot.viewers_dropped += 1
        log.warning("dropped viewer %s of %s: it took nothing for %.1f s", request.remote, device_id, timeout)
        if request.transport is not None:
            request.transport.abort()  # frees whatever is still buffered for it at once
    except ConnectionError:
        if not viewer_stream.viewer.stalled:  # Fanout.tick() counted and logged a stalled one
            log.debug("viewer %s of %s went away", request.remote, device_id)
    return response


async def snapshot(request: web.Request) -> web.StreamResponse:
    """Latest frame, `?width=` reduced; the ETag names frame and size so a polling page pays only for new frames."""
    device = _device(request)
    if isinstance(device, web.Response):
        return device
    try:
        width = parse_width(request.query.get("width"))
    except ValueError as exc:
        return error(400, str(exc))
    slot = request.app[FANOUT].peek(device.device_id)
    if slot is None or not slot.seq:
        return error(404, f"no frame received yet from {device.device_id!r}")
    if not slot.jpeg:
        return error(404, f"no frame from {device.device_id!r} for a while: it is let go after some silence")
    seq, received_at = slot.seq, slot.received_at
    etag = f'"{seq}"' if width is None else f'"{seq}w{width}"'
    headers = {"ETag": etag, "X-Frame-Seq": str(seq), "X-Timestamp": f"{received_at:.3f}", **_NO_CACHE}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    try:
        jpeg, _ = await slot.variant(width)
    except ResizeError as exc:  # the camera's data, not the hub, is at fault
        return error(422, f"frame {seq} of {device.device_id!r}: {exc}")
    return web.Response(body=jpeg, content_type="image/jpeg", headers=headers)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/devices/{device_id}/stream.mjpg", stream)
    app.router.add_get("/devices/{device_id}/snapshot.jpg", snapshot)
