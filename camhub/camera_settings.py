"""Camera settings steered from the hub: what may be set and within which bounds, `GET`/`PUT
/api/v1/devices/{id}/settings`, and the state of each setting (applied, pending or refused and why).

A `PUT` is a change: the access middleware lets only the operator through, and only from this hub's own pages
(access.py, origin.py). Settings steer a device, so they stay read-only until an operator password is set.

The hub checks each value's type and the widest range any supported sensor takes (the OV5640's); the camera
checks it against its own sensor and PSRAM, applies it, and says in its next heartbeat what it applied and what it
refused. A `PUT` replaces what the hub wants of that camera; a setting left out (or null) is the camera's own,
from its settings.toml.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import validate
from .errors import ApiError
from .keys import CLOCK, CONFIG, REGISTRY, SETTINGS
from .registry import Device
from .settings_store import Desired, SettingsStore, reported_version

log = logging.getLogger(__name__)

# espcamera.FrameSize names in the order of esp32-camera's framesize_t, and the landscape ones rate control uses.
FRAME_SIZES = (
    "R96X96", "QQVGA", "QCIF", "HQVGA", "R240X240", "QVGA", "CIF", "HVGA", "VGA", "SVGA", "XGA", "HD", "SXGA",
    "UXGA", "FHD", "P_HD", "P_3MP", "QXGA", "QHD", "WQXGA", "P_FHD", "QSXGA",
)  # fmt: skip
LADDER = (
    "QQVGA", "QCIF", "HQVGA", "QVGA", "CIF", "HVGA", "VGA", "SVGA", "XGA", "HD", "SXGA", "UXGA", "FHD",
    "QXGA", "QHD", "WQXGA", "QSXGA",
)  # fmt: skip
EFFECTS = ("none", "negative", "grayscale", "red tint", "green tint", "blue tint", "sepia")
_REASON_LIMIT = 200


@dataclass(frozen=True)
class Field:
    kind: str  # "int", "bool" or "choice"
    label: str
    help: str
    low: int = 0
    high: int = 0
    choices: tuple[str, ...] = ()

    def problem(self, value: object) -> str | None:
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
        if self.kind == "choice":
            return None if value in self.choices else f"must be one of {', '.join(self.choices)}, got {value!r}"
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number {self.low}..{self.high}, got {value!r}"
        if not self.low <= value <= self.high:
            return f"must be {self.low}..{self.high}, got {value}"
        return None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "label": self.label, "help": self.help}
        if self.kind == "int":
            out.update(min=self.low, max=self.high)
        if self.kind == "choice":
            out["choices"] = list(self.choices)
        return out


FIELDS: dict[str, Field] = {
    "frameSize": Field(
        "choice", "Frame size", "the largest picture; rate control may step down from it", choices=FRAME_SIZES
    ),
    "quality": Field("int", "JPEG quality number", "lower = better picture and bigger frames", 2, 55),
    "targetFps": Field("int", "Target fps", "frames per second to aim for", 1, 60),
    "adapt": Field(
        "choice",
        "Adapt to the link",
        "fps: hold the frame rate (quality first, then frame size); quality: hold the picture; off",
        choices=("fps", "quality", "off"),
    ),
    "minFrameSize": Field(
        "choice", "Smallest frame size", "how far rate control may step the size down", choices=LADDER
    ),
    "maxQuality": Field("int", "Worst quality number", "how far rate control may raise the quality number", 2, 55),
    "vflip": Field("bool", "Flip vertically", "for a camera mounted upside down"),
    "hmirror": Field("bool", "Mirror horizontally", "left and right swapped"),
    "brightness": Field("int", "Brightness", "OV5640 -3..3, OV2640 -2..2", -3, 3),
    "contrast": Field("int", "Contrast", "OV5640 -3..3, OV2640 -2..2", -3, 3),
    "saturation": Field("int", "Saturation", "OV5640 -4..4, OV2640 -2..2", -4, 4),
    "aeLevel": Field("int", "Exposure level", "OV5640 -5..5, OV2640 -2..2", -5, 5),
    "specialEffect": Field("int", "Special effect", ", ".join(f"{i} {n}" for i, n in enumerate(EFFECTS)), 0, 6),
    "heartbeatS": Field(
        "int", "Heartbeat period (s)", "how often the camera reports, and hears of new settings", 1, 3600
    ),
}


def validate_settings(body: dict[str, Any]) -> dict[str, Any]:
    """The settings of a PUT body, each checked against its field; nulls dropped. Raises ApiError(400)."""
    values: dict[str, Any] = {}
    for key, value in body.items():
        field = FIELDS.get(key)
        if field is None:
            raise ApiError(400, f"unknown setting {key[:40]!r}; settings: {', '.join(FIELDS)}")
        if value is None:
            continue
        problem = field.problem(value)
        if problem:
            raise ApiError(400, f"setting '{key}' {problem}")
        values[key] = value
    if "quality" in values and "maxQuality" in values and values["maxQuality"] < values["quality"]:
        raise ApiError(400, "setting 'maxQuality' must be at least 'quality' (it is the worst rate control may use)")
    size, smallest = values.get("frameSize"), values.get("minFrameSize")
    if size in LADDER and smallest is not None and LADDER.index(smallest) > LADDER.index(size):
        raise ApiError(400, "setting 'minFrameSize' must be no larger than 'frameSize'")
    return values


def _reported(device: Device) -> dict[str, Any] | None:
    """The settings report of the camera's last heartbeat, only in its expected shape."""
    report = device.heartbeat_extra.get("settings")
    if not isinstance(report, dict) or (version := reported_version(report)) is None:
        return None
    applied, refused = report.get("applied"), report.get("refused")
    if not isinstance(applied, dict):
        return None
    return {
        "version": version,
        "applied": {k: v for k, v in applied.items() if k in FIELDS},
        "refused": {str(k)[:40]: str(v)[:_REASON_LIMIT] for k, v in (refused or {}).items()}
        if isinstance(refused, dict)
        else {},
    }


def states(desired: Desired, reported: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """applied / pending / refused (with the camera's reason) for each setting the hub wants."""
    out: dict[str, dict[str, Any]] = {}
    current = reported is not None and reported["version"] == desired.version
    for key, value in desired.values.items():
        entry: dict[str, Any] = {"value": value, "state": "pending"}
        if current and reported is not None:
            if key in reported["refused"]:
                entry.update(state="refused", reason=reported["refused"][key])
            elif key in reported["applied"]:
                entry["state"] = "applied"
        out[key] = entry
    return out


def _live(device: Device) -> dict[str, Any]:
    """What the camera runs now, from its last heartbeat (rate control may have moved it below the settings)."""
    extra = device.heartbeat_extra
    adapt = extra.get("adapt")
    return {
        "frameSize": extra.get("frameSize"),
        "quality": extra.get("quality"),
        "targetFps": extra.get("targetFps"),
        "fps": extra.get("fps"),
        "adapt": adapt if isinstance(adapt, dict) else None,
    }


def _changes(request: web.Request) -> dict[str, Any]:
    if request.app[CONFIG].operator_password:
        return {"enabled": True, "hint": "changes need the operator password"}
    return {
        "enabled": False,
        "hint": "changing settings is turned off: start the hub with --operator-password"
        " (or CAMHUB_OPERATOR_PASSWORD) to allow it",
    }


def settings_json(request: web.Request, device: Device) -> dict[str, Any]:
    desired = request.app[SETTINGS].get(device.device_id)
    reported = _reported(device)
    return {
        "deviceId": device.device_id,
        "version": desired.version,
        "updatedAt": desired.updated_at,
        "desired": desired.values,
        "reported": reported,
        "state": states(desired, reported),
        "live": _live(device),
        "supported": "settings" in device.capabilities,
        "changes": _changes(request),
        "fields": {key: field.describe() for key, field in FIELDS.items()},
    }


def _device(request: web.Request) -> Device:
    device_id = request.match_info["device_id"]
    device = request.app[REGISTRY].get(device_id)
    if device is None:
        raise ApiError(404, f"unknown device {device_id!r}")
    return device


async def get_settings(request: web.Request) -> web.Response:
    return web.json_response(settings_json(request, _device(request)))


async def put_settings(request: web.Request) -> web.Response:
    if not request.app[CONFIG].operator_password:
        raise ApiError(403, _changes(request)["hint"])
    device = _device(request)
    values = validate_settings(await validate.json_object(request))
    desired = await request.app[SETTINGS].put(device.device_id, values)
    log.info("settings of %s are now version %d: %s", device.device_id, desired.version, values)
    return web.json_response(settings_json(request, device))


def setup(app: web.Application) -> None:
    """The settings store (beside the registry) and the routes."""
    config = app[CONFIG]
    app[SETTINGS] = SettingsStore(config.data_dir / "registry.sqlite3", app[CLOCK])

    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        await app[SETTINGS].open()
        yield
        await app[SETTINGS].close()

    app.cleanup_ctx.append(store_ctx)
    app.router.add_get("/api/v1/devices/{device_id}/settings", get_settings)
    app.router.add_put("/api/v1/devices/{device_id}/settings", put_settings)
