"""Hub settings: one immutable object built from flags, `CAMHUB_*` environment variables and defaults."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .auth import parse_key

ALL_DEVICES = "all"


@dataclass(frozen=True)
class Config:
    host: str = "0.0.0.0"
    port: int = 9005
    data_dir: Path = Path("camhub-data")
    api_keys: tuple[str, ...] = ()
    view_password: str = ""
    operator_password: str = ""
    metrics_token: str = ""
    allowed_hosts: tuple[str, ...] = ("auto",)
    auth_failures_per_minute: int = 20
    tls_cert: str = ""
    tls_key: str = ""
    max_frame_bytes: int = 4 * 1024 * 1024
    viewer_timeout_s: float = 10.0
    stream_end_s: float = 5.0
    heartbeat_interval_s: float = 10.0
    flush_interval_s: float = 5.0
    record: frozenset[str] = frozenset()
    retention_hours: float = 72.0
    retention_gb: float = 10.0
    log_level: str = "INFO"
    max_connections: int = 1000
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    idle_timeout_s: float = 75.0
    views_max_age_s: float = 1.0
    max_viewers: int = 256
    max_viewers_per_camera: int = 64
    frame_idle_s: float = 600.0
    live_memory_mb: float = 512.0

    @property
    def record_all(self) -> bool:
        return ALL_DEVICES in self.record


def parse_record(value: str) -> frozenset[str]:
    """`all`, or a comma list of device ids; empty means recording is off."""
    ids = frozenset(part.strip() for part in value.split(",") if part.strip())
    return frozenset({ALL_DEVICES}) if ALL_DEVICES in ids else ids


def parse_keys(value: str) -> tuple[str, ...]:
    """Comma list of `key` (fleet key) or `key@device-id` (bound to that device)."""
    keys = tuple(key.strip() for key in value.split(",") if key.strip())
    for key in keys:
        try:
            parse_key(key)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return keys


def parse_names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


def _number(kind: type[int] | type[float], *, zero_ok: bool = False) -> Callable[[str], int | float]:
    """A finite number > 0 (or >= 0 with `zero_ok`), for argparse and the environment alike."""

    def convert(text: str) -> int | float:
        value = kind(text)
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
            raise argparse.ArgumentTypeError(f"must be a number {'>=' if zero_ok else '>'} 0, got {text!r}")
        return value

    convert.__name__ = kind.__name__
    return convert


# (flag, config field, type, help); each flag's environment variable is CAMHUB_<FLAG IN CAPITALS>.
_OPTIONS: tuple[tuple[str, str, Callable[[str], Any], str], ...] = (
    ("--host", "host", str, "address to listen on"),
    ("--port", "port", int, "TCP port to listen on"),
    ("--data-dir", "data_dir", Path, "folder for the SQLite registry, recordings and the generated API key"),
    (
        "--api-keys",
        "api_keys",
        parse_keys,
        "comma-separated device API keys, each KEY (any device) or KEY@DEVICE-ID (that device only); "
        "when unset a key is generated once and kept in the data dir",
    ),
    (
        "--view-password",
        "view_password",
        str,
        "password for every viewer page, stream and JSON view (HTTP Basic, any user name); empty = open",
    ),
    (
        "--operator-password",
        "operator_password",
        str,
        "password for changes: recording on/off, settings, deletion (HTTP Basic or Bearer); "
        "empty = whoever may view may change, but camera settings cannot be changed",
    ),
    (
        "--metrics-token",
        "metrics_token",
        str,
        "token Prometheus sends for /metrics (Authorization: Bearer); empty = /metrics is a viewer page",
    ),
    (
        "--allowed-hosts",
        "allowed_hosts",
        parse_names,
        "names browsers may use for the hub (comma list; .example.lan = any name under it; * = any); "
        "auto = IP addresses, localhost and this machine's names",
    ),
    (
        "--auth-failures-per-minute",
        "auth_failures_per_minute",
        _number(int),
        "wrong keys or passwords one address may send per minute before it gets 429 for the rest of that minute",
    ),
    ("--tls-cert", "tls_cert", str, "PEM certificate (chain) to serve HTTPS with; needs --tls-key"),
    ("--tls-key", "tls_key", str, "PEM private key of --tls-cert"),
    ("--max-frame-bytes", "max_frame_bytes", _number(int), "largest JPEG frame accepted (413 above)"),
    (
        "--viewer-timeout",
        "viewer_timeout_s",
        _number(float),
        "seconds a viewer's write may stall before the viewer is dropped",
    ),
    (
        "--stream-end-after",
        "stream_end_s",
        _number(float),
        "seconds beyond a camera's frame interval without a frame after which its live streams end "
        "(at once when it goes offline); viewers reconnect when it is back",
    ),
    (
        "--heartbeat-interval",
        "heartbeat_interval_s",
        _number(float),
        "assumed heartbeat interval until one is inferred per device; offline after 3 intervals of silence",
    ),
    ("--flush-interval", "flush_interval_s", _number(float), "seconds between registry counter flushes to SQLite"),
    ("--record", "record", parse_record, "device ids to record (comma list) or 'all'; empty = off"),
    ("--retention-hours", "retention_hours", _number(float), "delete recordings older than this"),
    ("--retention-gb", "retention_gb", _number(float), "keep recordings under this many GB"),
    ("--log-level", "log_level", str, "DEBUG, INFO, WARNING or ERROR"),
    (
        "--max-connections",
        "max_connections",
        _number(int),
        "open connections the hub serves at once; more get 503 at once (also bounded by the open-file limit)",
    ),
    (
        "--header-timeout",
        "header_timeout_s",
        _number(float),
        "seconds a request's head may take to arrive before the connection is closed",
    ),
    ("--body-timeout", "body_timeout_s", _number(float), "seconds a request body may take to arrive (408 after)"),
    ("--idle-timeout", "idle_timeout_s", _number(float), "seconds an idle keep-alive connection is kept open"),
    (
        "--views-max-age",
        "views_max_age_s",
        _number(float, zero_ok=True),
        "seconds /api/v1/devices and /metrics may be reused for every client (0 = rendered for each request)",
    ),
    ("--max-viewers", "max_viewers", _number(int), "live streams the hub serves at once; more get 503"),
    (
        "--max-viewers-per-camera",
        "max_viewers_per_camera",
        _number(int),
        "live streams of one camera at once; more get 503",
    ),
    (
        "--frame-idle",
        "frame_idle_s",
        _number(float),
        "seconds a silent camera's last frame is kept for snapshots while nobody watches it",
    ),
    (
        "--live-memory-mb",
        "live_memory_mb",
        _number(float),
        "MiB of latest frames kept for live view in all; past it the least recently updated cameras' go first",
    ),
)


def env_name(flag: str) -> str:
    return "CAMHUB_" + flag.lstrip("-").replace("-", "_").upper()


def _shown_default(field: str) -> str:
    value = getattr(Config, field)
    if isinstance(value, (tuple, frozenset)):
        return ",".join(sorted(value)) or "(none)"
    return str(value) if value != "" else "(none)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="camhub",
        description="CamStream hub: receives JPEG frames from CircuitPython cameras, shows them live, records them.",
        epilog="Every flag can also be set with the environment variable shown; flags win over the environment. "
        "`camhub export --help` tells how to write a recorded range to MP4, MKV or AVI.",
    )
    for flag, field, kind, text in _OPTIONS:
        parser.add_argument(
            flag,
            dest=field,
            type=kind,
            default=None,
            help=f"{text} [env {env_name(flag)}; default {_shown_default(field)}]",
        )
    return parser


def load(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Flags override `CAMHUB_*` variables, which override the defaults; bad values exit with a usage error."""
    environ = os.environ if environ is None else environ
    parser = build_parser()
    args = parser.parse_args(argv)
    values: dict[str, object] = {}
    for flag, field, kind, _ in _OPTIONS:
        value = getattr(args, field)
        if value is None and env_name(flag) in environ:
            raw = environ[env_name(flag)]
            try:
                value = kind(raw)
            except (ValueError, argparse.ArgumentTypeError) as exc:
                parser.error(f"{env_name(flag)}={raw!r}: {exc}")
        if value is not None:
            values[field] = value
    config = Config(**values)  # type: ignore[arg-type]  # keys and types come from _OPTIONS
    if config.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        parser.error(f"log level must be DEBUG, INFO, WARNING or ERROR, got {config.log_level!r}")
    if bool(config.tls_cert) != bool(config.tls_key):
        parser.error("--tls-cert and --tls-key (CAMHUB_TLS_CERT, CAMHUB_TLS_KEY) go together: give both or neither")
    for name, path in (("--tls-cert", config.tls_cert), ("--tls-key", config.tls_key)):
        if path and not os.access(path, os.R_OK):
            parser.error(f"{name} {path!r}: no such readable file")
    return config
