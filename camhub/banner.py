"""What the hub prints at start: where it listens and the settings.toml lines a camera needs."""

from __future__ import annotations

import socket

# TEST-NET-1 (RFC 5737): never routed, and a UDP connect() sends nothing; it only picks the outgoing interface.
_PROBE = ("192.0.2.1", 9)


def lan_address() -> str:
    """This machine's LAN address as other hosts would reach it, without sending any traffic."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(_PROBE)
            address = probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    return address if address and address != "0.0.0.0" else "127.0.0.1"


def camera_host(listen_host: str) -> str:
    return lan_address() if listen_host in ("0.0.0.0", "", "::") else listen_host


def settings_snippet(server_url: str, api_key: str) -> str:
    return f'CAMSTREAM_SERVER_URL = "{server_url}"\nCAMSTREAM_API_KEY = "{api_key}"\n'


_ORIGIN = {
    "generated": "generated now, saved in the data dir",
    "stored": "saved in the data dir",
    "configured": "from CAMHUB_API_KEYS / --api-keys",
}


def render(
    listen_host: str, port: int, api_key: str, key_source: str, *, https: bool = False, notes: tuple[str, ...] = ()
) -> str:
    url = f"{'https' if https else 'http'}://{camera_host(listen_host)}:{port}"
    return (
        f"CamStream hub listening on {listen_host}:{port}\n"
        f"  dashboard: {url}/\n"
        f"  API key ({_ORIGIN[key_source]}): {api_key}\n"
        + "".join(f"  note: {note}\n" for note in notes)
        + "Add these lines to each camera's CIRCUITPY/settings.toml (next to its WiFi settings):\n\n"
        + settings_snippet(url, api_key)
    )
