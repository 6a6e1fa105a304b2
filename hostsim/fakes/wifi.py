"""CircuitPython `wifi`: one `radio` (class `Radio`, as adafruit_connection_manager expects) on a virtual AP.

The AP is the CIRCUITPY_WIFI_SSID/PASSWORD of settings.toml (any network is accepted without them); the
board's own address is 127.0.0.1 so the hub on this PC is reachable. `--fault wifi@...` takes the AP away.
"""

from __future__ import annotations

import ipaddress as _ipaddress
import time as _time
from typing import ClassVar

from hostsim import world as _world
from hostsim.cpenum import CPEnum

_JOIN_SECONDS = 0.2  # association + DHCP
_FAIL_SECONDS = 2.0  # scan that finds no such network, or an authentication failure
_DEFAULT_TIMEOUT = 8.0
_CHANNEL = 6


class PowerManagement(CPEnum):
    MIN: ClassVar[PowerManagement]
    MAX: ClassVar[PowerManagement]
    NONE: ClassVar[PowerManagement]
    UNKNOWN: ClassVar[PowerManagement]


class AuthMode(CPEnum):
    OPEN: ClassVar[AuthMode]
    WEP: ClassVar[AuthMode]
    WPA: ClassVar[AuthMode]
    WPA2: ClassVar[AuthMode]
    WPA3: ClassVar[AuthMode]
    PSK: ClassVar[AuthMode]
    ENTERPRISE: ClassVar[AuthMode]


class Network:
    def __init__(self, ssid: str, rssi: int) -> None:
        self.ssid = ssid
        self.rssi = rssi
        self.channel = _CHANNEL
        self.bssid = b"\x02\x00\x00\x00\x00\x01"
        self.country = "US"
        self.authmode = [AuthMode.WPA2, AuthMode.PSK]

    def __repr__(self) -> str:
        return "<Network>"


def _text(value, name: str) -> str:  # type: ignore[no-untyped-def]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode()
    if not isinstance(value, str):
        raise TypeError(f"{name} must be str or bytes")
    return value


class Radio:
    @property
    def enabled(self) -> bool:
        return _world.get().wifi_enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        world = _world.get()
        world.wifi_enabled = bool(value)
        if not value:
            world.wifi_joined = False

    @property
    def hostname(self) -> str:
        return "cpy-" + _world.get().config.mac[3:].hex()

    @property
    def mac_address(self) -> bytes:
        return bytes(_world.get().config.mac)

    @property
    def mac_address_ap(self) -> bytes:
        mac = bytearray(_world.get().config.mac)
        mac[5] = (mac[5] + 1) & 0xFF
        return bytes(mac)

    @property
    def tx_power(self) -> float:
        return _world.get().tx_power

    @tx_power.setter
    def tx_power(self, value: float) -> None:
        _world.get().tx_power = max(2.0, min(21.0, float(value)))

    @property
    def power_management(self) -> PowerManagement:
        return PowerManagement.named(_world.get().power_management)

    @power_management.setter
    def power_management(self, value: PowerManagement) -> None:
        if not isinstance(value, PowerManagement):
            raise TypeError("power_management must be PowerManagement")
        _world.get().power_management = value.name

    @property
    def connected(self) -> bool:
        return _world.get().wifi_up()

    @property
    def ipv4_address(self):  # type: ignore[no-untyped-def]
        return _ipaddress.IPv4Address("127.0.0.1") if self.connected else None

    @property
    def ipv4_gateway(self):  # type: ignore[no-untyped-def]
        return _ipaddress.IPv4Address("127.0.0.1") if self.connected else None

    @property
    def ipv4_subnet(self):  # type: ignore[no-untyped-def]
        return _ipaddress.IPv4Address("255.0.0.0") if self.connected else None

    @property
    def ipv4_dns(self):  # type: ignore[no-untyped-def]
        return _ipaddress.IPv4Address("127.0.0.1") if self.connected else _ipaddress.IPv4Address("0.0.0.0")

    @property
    def addresses(self) -> tuple[str, ...]:
        return ("127.0.0.1",) if self.connected else ()

    @property
    def ap_info(self):  # type: ignore[no-untyped-def]
        world = _world.get()
        return Network(world.wifi_ssid or "", world.rssi()) if world.wifi_up() else None

    def connect(self, ssid, password=b"", *, channel=0, bssid=None, timeout=None) -> None:  # type: ignore[no-untyped-def]
        """Join the AP; raises ConnectionError after the board's delays when it is absent or refuses."""
        ssid, password = _text(ssid, "ssid"), _text(password, "password")
        # shared-bindings/wifi/Radio.c checks byte lengths before anything else, with ValueError.
        if not 1 <= len(ssid.encode()) <= 32:
            raise ValueError("ssid length must be 1-32")
        if password and not 8 <= len(password.encode()) <= 64:
            raise ValueError("password length must be 8-64")
        if len(password.encode()) == 64 and not all(c in "0123456789abcdefABCDEF" for c in password):
            raise ValueError("Invalid hex password")
        world = _world.get()
        world.wifi_enabled = True
        if world.wifi_up() and world.wifi_ssid == ssid:
            return
        start = world.clock()
        limit = _DEFAULT_TIMEOUT if timeout is None or timeout <= 0 else float(timeout)
        ap = world.access_point()
        if ap is not None and ap[0] != ssid:
            _time.sleep(min(limit, _FAIL_SECONDS))
            raise ConnectionError("No network with that ssid")
        if ap is not None and ap[1] != password:
            _time.sleep(min(limit, _FAIL_SECONDS))
            raise ConnectionError("Authentication failure")
        while world.fault("wifi") is not None:
            if world.clock() - start >= limit:
                raise ConnectionError("No network with that ssid")
            _time.sleep(0.05)
        _time.sleep(_JOIN_SECONDS)
        world.wifi_joined, world.wifi_ssid = True, ssid

    def ping(self, ip, *, timeout=0.5):  # type: ignore[no-untyped-def]
        world = _world.get()
        if not world.wifi_up():
            _time.sleep(timeout)
            return None
        _time.sleep(world.link.rtt)
        return world.link.rtt + 0.002

    def start_scanning_networks(self, *, start_channel=1, stop_channel=11):  # type: ignore[no-untyped-def]
        world = _world.get()
        ap = world.access_point()
        visible = world.fault("wifi") is None
        return iter([Network(ap[0] if ap else "hostsim", world.rssi())] if visible else [])

    def stop_scanning_networks(self) -> None:
        pass

    def start_station(self) -> None:
        _world.get().wifi_enabled = True

    def stop_station(self) -> None:
        _world.get().wifi_joined = False


radio = Radio()
