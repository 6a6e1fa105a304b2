"""Hub settings: one immutable object built from flags, `CAMHUB_*` environment variables and defaults."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ALL_DEVICES = "all"


@dataclass(frozen=True)
class Config:
    host: str = "0.0.0.0"
    port: int = 9005
    data_dir: Path = Path("camhub-data")
    api_keys: tuple[str, ...] = ()
    view_password: str = ""
    max_frame_bytes: int = 4 * 1024 * 1024
    viewer_timeout_s: float = 10.0
    heartbeat_interval_s: float = 10.0
    flush_interval_s: float = 5.0
    record: frozenset[str] = frozenset()
    retention_hours: float = 72.0
    retention_gb: float = 10.0
    log_level: str = "INFO"

    @property
    def record_all(self) -> bool:
        return ALL_DEVICES in self.record


def parse_record(value: str) -> frozenset[str]:
    """`all`, or a comma list of device ids; empty means recording is off."""
    ids = frozenset(part.strip() for part in value.split(",") if part.strip())
    return frozenset({ALL_DEVICES}) if ALL_DEVICES in ids else ids


def parse_keys(value: str) -> tuple[str, ...]:
    return tuple(key.strip() for key in value.split(",") if key.strip())


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def convert(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
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
        "comma-separated device API keys; when unset a key is generated once and kept in the data dir",
    ),
    (
        "--view-password",
        "view_password",
        str,
        "password for every viewer page, stream and JSON view (HTTP Basic, any user name); empty = open",
    ),
    ("--max-frame-bytes", "max_frame_bytes", _positive(int), "largest JPEG frame accepted (413 above)"),
    (
        "--viewer-timeout",
        "viewer_timeout_s",
        _positive(float),
        "seconds a viewer's write may stall before the viewer is dropped",
    ),
    (
        "--heartbeat-interval",
        "heartbeat_interval_s",
        _positive(float),
        "assumed heartbeat interval until one is inferred per device; offline after 3 intervals of silence",
    ),
    ("--flush-interval", "flush_interval_s", _positive(float), "seconds between registry counter flushes to SQLite"),
    ("--record", "record", parse_record, "device ids to record (comma list) or 'all'; empty = off"),
    ("--retention-hours", "retention_hours", _positive(float), "delete recordings older than this"),
    ("--retention-gb", "retention_gb", _positive(float), "keep recordings under this many GB"),
    ("--log-level", "log_level", str, "DEBUG, INFO, WARNING or ERROR"),
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
    return config
