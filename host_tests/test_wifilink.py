"""camstream.wifilink: join when needed, close pooled sockets on loss, power management, RSSI."""

import pytest

from camstream.budget import WIFI_TIMEOUT_S
from camstream.errors import LinkDown
from camstream.wifilink import WifiLink


class Network:
    rssi = -58


class Radio:
    def __init__(self, connected=True, fail=None):
        self.connected = connected
        self.fail = fail
        self.joins = []
        self.power_management = "MIN"
        self.ipv4_address = "192.168.1.77" if connected else None
        self.ap_info = Network() if connected else None

    def connect(self, ssid, password, *, channel=0, bssid=None, timeout=None):
        self.joins.append((ssid, password, timeout))
        if self.fail:
            raise self.fail
        self.connected = True
        self.ipv4_address = "192.168.1.77"
        self.ap_info = Network()


def make(radio, ssid="home"):
    closes = []
    return WifiLink(radio, ssid, "pw", lambda: closes.append(1), power_none="NONE"), closes


def test_already_connected_does_nothing():
    radio = Radio()
    link, closes = make(radio)
    assert link.ensure() is False
    assert radio.joins == [] and closes == []
    assert link.rssi() == -58 and link.ip() == "192.168.1.77"


def test_rejoin_closes_sockets_and_disables_power_saving(capsys):
    radio = Radio(connected=False)
    link, closes = make(radio)
    assert link.ensure() is True
    assert radio.joins == [("home", "pw", WIFI_TIMEOUT_S)]
    assert closes == [1] and radio.power_management == "NONE" and link.joins == 1
    assert "WiFi: joined home, IP 192.168.1.77, RSSI -58 dBm" in capsys.readouterr().out


def test_join_failure_is_linkdown():
    class JoinFailed(OSError):  # CircuitPython raises ConnectionError, an OSError
        pass

    link, closes = make(Radio(connected=False, fail=JoinFailed("No network with that ssid")))
    with pytest.raises(LinkDown, match="cannot join 'home': No network with that ssid"):
        link.ensure()


@pytest.mark.parametrize(
    ("message", "key"),
    [
        ("password length must be 8-64", "CIRCUITPY_WIFI_PASSWORD must be empty, 8..63 characters or 64 hex digits"),
        ("Invalid hex password", "CIRCUITPY_WIFI_PASSWORD"),
        ("ssid length must be 1-32", "CIRCUITPY_WIFI_SSID must be 1..32 bytes"),
    ],
)
def test_credentials_the_radio_rejects_are_linkdown_naming_the_key(message, key):
    """wifi.radio.connect() raises ValueError (not ConnectionError) for lengths it refuses to try."""
    link, closes = make(Radio(connected=False, fail=ValueError(message)))
    with pytest.raises(LinkDown) as info:
        link.ensure()
    assert str(info.value).startswith("cannot join 'home': " + key) and message in str(info.value)


def test_no_ssid_is_a_clear_linkdown():
    link, closes = make(Radio(connected=False), ssid=None)
    with pytest.raises(LinkDown, match="CIRCUITPY_WIFI_SSID is not set"):
        link.ensure()


def test_rssi_none_without_access_point():
    link, closes = make(Radio(connected=False))
    assert link.rssi() is None and link.ip() == ""


def test_loss_is_reported_once_then_rejoined():
    radio = Radio()
    link, closes = make(radio)
    assert link.ensure() is False
    radio.connected = False
    with pytest.raises(LinkDown, match="connection to 'home' lost"):
        link.ensure()
    assert closes == [1] and radio.joins == []
    assert link.ensure() is True
    assert radio.joins == [("home", "pw", WIFI_TIMEOUT_S)] and link.joins == 1
