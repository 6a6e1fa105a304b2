"""The WiFi link: join if CircuitPython has not, rejoin after a drop, tune the radio for streaming."""

from camstream.budget import WIFI_TIMEOUT_S
from camstream.errors import LinkDown


def bad_credentials(exc):
    """What wifi.radio.connect()'s ValueError means, naming the settings.toml key to fix."""
    text = str(exc)
    if "ssid" in text.lower():
        return "CIRCUITPY_WIFI_SSID must be 1..32 bytes (%s)" % text
    return "CIRCUITPY_WIFI_PASSWORD must be empty, 8..63 characters or 64 hex digits (%s)" % text


class WifiLink:
    """`radio` is wifi.radio; `close_sockets` drops every pooled socket (they die with the link)."""

    def __init__(self, radio, ssid, password, close_sockets, power_none=None):
        self._radio = radio
        self._ssid = ssid
        self._password = password or ""
        self._close_sockets = close_sockets
        self._power_none = power_none
        self.joins = 0
        self._up = False

    def ensure(self):
        """Make sure the link is up; returns True if it had to (re)join. Raises LinkDown.

        A link found lost raises LinkDown once (so the loss is counted and reported) before rejoining.
        """
        if self._radio.connected:
            self._up = True
            return False
        self.lost()
        if self._up:
            self._up = False
            raise LinkDown("connection to %r lost; rejoining" % self._ssid)
        if not self._ssid:
            raise LinkDown("not connected and CIRCUITPY_WIFI_SSID is not set in settings.toml")
        try:
            self._radio.connect(self._ssid, self._password, timeout=WIFI_TIMEOUT_S)
        except OSError as exc:  # ConnectionError is an OSError
            raise LinkDown("cannot join %r: %s" % (self._ssid, exc))
        except ValueError as exc:  # the radio checks lengths before it tries
            raise LinkDown("cannot join %r: %s" % (self._ssid, bad_credentials(exc)))
        if not self._radio.connected:
            raise LinkDown("joined %r but the radio reports no connection" % self._ssid)
        self.joins += 1
        self._up = True
        self.tune()
        print("WiFi: joined %s, IP %s, RSSI %s dBm" % (self._ssid, self.ip(), self.rssi()))
        return True

    def lost(self):
        """Close pooled sockets: after a drop they are dead, and reusing them only times out."""
        self._close_sockets()

    def tune(self):
        """No power saving while streaming: modem sleep costs most of the upload throughput."""
        if self._power_none is not None:
            try:
                self._radio.power_management = self._power_none
            except (AttributeError, NotImplementedError):
                pass  # before CircuitPython 10

    def rssi(self):
        info = self._radio.ap_info
        return None if info is None else info.rssi

    def ip(self):
        address = self._radio.ipv4_address
        return "" if address is None else str(address)
