"""Prometheus text exposition of the registry, the fan-out and the refusals."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from . import __version__
from .keys import ACCESS, CLOCK, FANOUT, GATE, RECORDER, REGISTRY, REJECTS, STARTED, VIEWS


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}" if labels else ""


def _family(name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{_labels(**labels)} {value}" for labels, value in samples]
    return lines


def render(app: web.Application, now: float) -> str:
    registry, fanout = app[REGISTRY], app[FANOUT]
    devices = registry.devices()
    slots = [(d.device_id, fanout.peek(d.device_id)) for d in devices]

    def per_device(value) -> list[tuple[dict[str, str], float]]:  # type: ignore[no-untyped-def]
        return [({"device": d.device_id}, value(d)) for d in devices if value(d) is not None]

    def per_slot(value) -> list[tuple[dict[str, str], float]]:  # type: ignore[no-untyped-def]
        return [({"device": device_id}, value(slot)) for device_id, slot in slots if slot is not None]

    families = [
        _family("camhub_build_info", "gauge", "The hub's version (value 1).", [({"version": __version__}, 1)]),
        _family("camhub_up_seconds", "gauge", "Seconds since the hub started.", [({}, round(now - app[STARTED], 3))]),
        _family(
            "camhub_device_info",
            "gauge",
            "Registered devices (value 1) with their name and type.",
            [({"device": d.device_id, "name": d.name, "type": d.device_type}, 1) for d in devices],
        ),
        _family(
            "camhub_device_online",
            "gauge",
            "1 while the device was heard from within 3 heartbeat intervals.",
            per_device(lambda d: int(registry.is_online(d, now))),
        ),
        _family("camhub_frames_total", "counter", "Frames accepted.", per_device(lambda d: d.frames)),
        _family("camhub_frame_bytes_total", "counter", "JPEG bytes accepted.", per_device(lambda d: d.bytes)),
        _family(
            "camhub_frame_drops_total",
            "counter",
            "Frames lost on the way, from X-Frame-Seq gaps.",
            per_device(lambda d: d.drops),
        ),
        _family(
            "camhub_device_rejects_total",
            "counter",
            "Requests of this device refused.",
            per_device(lambda d: d.rejects),
        ),
        _family(
            "camhub_device_fps",
            "gauge",
            "Frames per second received recently.",
            per_device(lambda d: round(d.fps(now), 3)),
        ),
        _family(
            "camhub_device_latency_seconds",
            "gauge",
            "Upload delay beyond the fastest frame seen (device clock).",
            per_device(lambda d: None if d.latency_ms is None else round(d.latency_ms / 1000.0, 6)),
        ),
        _family(
            "camhub_device_wifi_rssi_dbm",
            "gauge",
            "WiFi RSSI from the last heartbeat.",
            per_device(lambda d: d.wifi_rssi),
        ),
        _family(
            "camhub_device_free_heap_bytes",
            "gauge",
            "Free heap from the last heartbeat.",
            per_device(lambda d: d.free_heap),
        ),
        _family(
            "camhub_device_uptime_seconds",
            "gauge",
            "Device uptime from the last heartbeat.",
            per_device(lambda d: None if d.uptime_ms is None else d.uptime_ms / 1000.0),
        ),
        _family(
            "camhub_device_last_seen_timestamp_seconds",
            "gauge",
            "Unix time of the last request.",
            per_device(lambda d: d.last_seen),
        ),
        _family("camhub_viewers", "gauge", "Live MJPEG viewers connected.", per_slot(lambda s: len(s.viewers))),
        _family(
            "camhub_viewer_parts_sent_total",
            "counter",
            "MJPEG parts sent to viewers.",
            per_slot(lambda s: s.parts_sent),
        ),
        _family(
            "camhub_viewer_parts_skipped_total",
            "counter",
            "Frames viewers skipped: they were behind, or asked for a lower ?fps.",
            per_slot(lambda s: s.parts_skipped),
        ),
        _family(
            "camhub_viewers_dropped_total",
            "counter",
            "Viewers dropped because their writes stalled.",
            per_slot(lambda s: s.viewers_dropped),
        ),
        _family(
            "camhub_viewer_streams_ended_total",
            "counter",
            "Live streams ended because the camera stopped sending or went offline.",
            per_slot(lambda s: s.streams_ended),
        ),
        _family(
            "camhub_viewer_buffered_bytes",
            "gauge",
            "Bytes queued for viewers and not yet acknowledged by them: the hub's write buffers plus the kernel's "
            "send queues.",
            per_slot(lambda s: s.buffered()),
        ),
        _family(
            "camhub_viewer_kernel_queued_bytes",
            "gauge",
            "The kernel's part of camhub_viewer_buffered_bytes (SIOCOUTQ of the viewers' sockets).",
            per_slot(lambda s: s.kernel_queued()),
        ),
        _family(
            "camhub_rejected_requests_total",
            "counter",
            "Device API requests refused, by HTTP status.",
            [({"status": str(status)}, count) for status, count in sorted(app[REJECTS].items())],
        ),
        *_limits(app),
    ]
    return "\n".join(line for family in families for line in family) + "\n"


def _limits(app: web.Application) -> list[list[str]]:
    """How close the hub runs to its caps, and what they turned away."""
    fanout, access = app[FANOUT], app[ACCESS]
    families = [
        _family("camhub_viewers_total_open", "gauge", "Live streams open, all cameras.", [({}, fanout.viewers)]),
        _family(
            "camhub_viewers_refused_total",
            "counter",
            "Live streams refused at a viewer cap.",
            [({}, fanout.viewers_refused)],
        ),
        _family(
            "camhub_live_frame_bytes", "gauge", "Bytes of latest frames held for live view.", [({}, fanout.held_bytes)]
        ),
        _family(
            "camhub_live_frames_released_total",
            "counter",
            "Latest frames let go: silent cameras, or past --live-memory-mb.",
            [({}, fanout.frames_released)],
        ),
        _family(
            "camhub_auth_refused_total",
            "counter",
            "Requests refused with 429 after too many wrong keys or passwords from their address.",
            [({}, access.failures.refused)],
        ),
        _family(
            "camhub_storage_failing",
            "gauge",
            "1 while saving fails (the reason is in /healthz): registry or recording.",
            [
                ({"store": "registry"}, int(app[REGISTRY].save_error is not None)),
                ({"store": "recording"}, int(app[RECORDER].problem is not None)),
            ],
        ),
    ]
    gate = app.get(GATE)
    if gate is not None:
        families += [
            _family("camhub_connections_open", "gauge", "Client connections open.", [({}, gate.open)]),
            _family(
                "camhub_connections_refused_total",
                "counter",
                "Connections answered 503 at --max-connections.",
                [({}, gate.refused)],
            ),
            _family(
                "camhub_connections_slow_head_total",
                "counter",
                "Connections closed because a request head did not arrive within --header-timeout.",
                [({}, gate.slow_heads)],
            ),
            _family(
                "camhub_malformed_requests_total",
                "counter",
                "Requests too malformed for any handler (answered 400).",
                [({}, gate.malformed.count)],
            ),
        ]
    return families


async def metrics(request: web.Request) -> web.Response:
    body = request.app[VIEWS].get("metrics", lambda: render(request.app, request.app[CLOCK]()).encode())
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
