"""Copy-paste set-ups for the clients people point at a camera: Home Assistant, go2rtc, Frigate, ffmpeg, VLC,
GStreamer, OpenCV. Built here, not in the page, so that the tests run exactly what the page shows."""

from __future__ import annotations

import re
import shlex
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from aiohttp import web

from .errors import error
from .keys import CONFIG, REGISTRY
from .registry import Device

VIEW_USER = "camstream"  # clients such as Home Assistant send no credentials with an empty user name
PASSWORD_PLACEHOLDER = "YOUR_VIEW_PASSWORD"
DETECT_WIDTH = 640  # Frigate's detector works on small frames: the hub sends them ready-sized
DETECT_FPS = 5


def _slug(text: str) -> str:
    """A name go2rtc and Frigate accept as a stream or camera key."""
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "camera"


def _with_user(url: str, password: str | None) -> str:
    if password is None:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{VIEW_USER}:{quote(password, safe='')}@{parts.netloc}"))


def snippets(base: str, device: Device, password: str | None) -> list[dict[str, str]]:
    """One entry per client: `client`, `title`, `text` (what to paste), `note`. `password` is None on an open hub."""
    path = f"{base}/devices/{quote(device.device_id, safe='')}"
    stream, still = f"{path}/stream.mjpg", f"{path}/snapshot.jpg"
    name, slug = device.name, _slug(device.name)
    detect_height = round(device.height * DETECT_WIDTH / device.width) if device.width else DETECT_WIDTH * 9 // 16
    detect_height -= detect_height % 2
    auth_lines = f"\n    username: {VIEW_USER}\n    password: {password}" if password is not None else ""
    secret = _with_user(stream, password)
    detect = _with_user(f"{stream}?fps={DETECT_FPS}&width={DETECT_WIDTH}", password)
    return [
        {
            "client": "home-assistant",
            "title": "Home Assistant (MJPEG IP Camera), configuration.yaml",
            "text": f"camera:\n  - platform: mjpeg\n    name: {_yaml(name)}\n    mjpeg_url: {stream}\n"
            f"    still_image_url: {still}{auth_lines}",
            "note": "Or Settings > Devices & services > Add integration > MJPEG IP Camera with the same URLs. "
            "The still image URL lets Home Assistant fetch one frame instead of opening the stream."
            + (f" The user name must not be empty ({VIEW_USER} is fine)." if password is not None else ""),
        },
        {
            "client": "go2rtc",
            "title": "go2rtc, go2rtc.yaml",
            "text": f"streams:\n  {slug}: {secret}",
            "note": "go2rtc reads the MJPEG stream and serves it as WebRTC, RTSP and MJPEG.",
        },
        {
            "client": "frigate",
            "title": "Frigate, config.yml (detection on a reduced stream)",
            "text": f"cameras:\n  {slug}:\n    ffmpeg:\n      inputs:\n        - path: {detect}\n"
            f"          input_args: preset-http-mjpeg-generic\n          roles:\n            - detect\n"
            f"    detect:\n      width: {DETECT_WIDTH}\n      height: {detect_height}\n      fps: {DETECT_FPS}",
            "note": f"The hub sends {DETECT_FPS} frames/s at {DETECT_WIDTH} px, what Frigate's detector uses; the "
            "preset takes each frame's arrival time as its timestamp.",
        },
        {
            "client": "ffmpeg",
            "title": "ffmpeg: record 60 s",
            "text": f"ffmpeg -use_wallclock_as_timestamps 1 -i {shlex.quote(secret)} -t 60 -c:v copy {slug}.mkv",
            "note": "-use_wallclock_as_timestamps 1 keeps the camera's real timing: without it ffmpeg assumes "
            "25 frames/s and a 30 frames/s recording plays 1.2x slow. The stream ends when the camera stops.",
        },
        {
            "client": "vlc",
            "title": "VLC",
            "text": f"vlc --network-caching=300 {shlex.quote(secret)}",
            "note": "Or Media > Open Network Stream with the stream URL.",
        },
        {
            "client": "gstreamer",
            "title": "GStreamer",
            "text": f"gst-launch-1.0 souphttpsrc location={shlex.quote(secret)} is-live=true ! multipartdemux ! "
            "jpegdec ! videoconvert ! autovideosink",
            "note": "multipartdemux splits the stream into JPEG frames.",
        },
        {
            "client": "opencv",
            "title": "OpenCV (Python)",
            "text": f"import cv2\ncapture = cv2.VideoCapture({secret!r}, cv2.CAP_FFMPEG)\nok, frame = capture.read()",
            "note": "A slow reader gets the newest frame, never a backlog. For detection add ?fps=5&width=640.",
        },
    ]


def _yaml(text: str) -> str:
    """A YAML scalar that stays the text it is, whatever characters a device name has."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def list_snippets(request: web.Request) -> web.Response:
    device_id = request.match_info["device_id"]
    device = request.app[REGISTRY].get(device_id)
    if device is None:
        return error(404, f"unknown device {device_id!r}")
    password = PASSWORD_PLACEHOLDER if request.app[CONFIG].view_password else None
    body: dict[str, Any] = {"deviceId": device_id, "snippets": snippets(str(request.url.origin()), device, password)}
    return web.json_response(body)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/devices/{device_id}/integrations", list_snippets)
