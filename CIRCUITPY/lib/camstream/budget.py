"""Time limits of every blocking call, and what they add up to: the floor of CAMSTREAM_WATCHDOG_S.

The loop feeds the watchdog between the phases of a step (joining WiFi, registering, a heartbeat,
taking a frame, sending it, reading an answer), so the watchdog must outlast the slowest phase; a
phase that takes longer is a hang. Each bound below follows from these limits and from how
CircuitPython and the libraries use them (CircuitPython 10.2 and adafruit_requests 4.1 sources).
"""

from camstream import camera

REQUEST_TIMEOUT_S = 5  # frame socket: connect, each read, and the deadline of one frame's request and answer
CONTROL_TIMEOUT_S = 3  # register and heartbeat (adafruit_requests): connect, and each read
WIFI_TIMEOUT_S = 5  # wifi.radio.connect(timeout=): after it no new attempt starts
# A join attempt begun before the timeout runs to its end: a scan of every channel, association, DHCP.
WIFI_ATTEMPT_S = 5
# lwIP asks the DNS server 4 times, 1, 1, 2 and 3 s apart; a name resolved once is cached.
DNS_S = 7
CAMERA_INIT_S = 2  # one espcamera.Camera(): sensor probe over SCCB, buffers, XCLK
MARGIN_S = 2


def wifi_s():
    return WIFI_TIMEOUT_S + WIFI_ATTEMPT_S


def control_s(dns_s):
    """adafruit_requests tries twice (connect, send, wait for the first byte), then reads the answer.

    Its connection manager retries a failed connect only when other freed sockets exist; the frame
    socket has a manager of its own, so none do.
    """
    return dns_s + 2 * (CONTROL_TIMEOUT_S + CONTROL_TIMEOUT_S) + CONTROL_TIMEOUT_S


def camera_s():
    return camera.INIT_RETRIES * (CAMERA_INIT_S + camera.INIT_RETRY_DELAY_S)


def frame_s(dns_s):
    """One deadline covers a frame's request and the answer read with it; a connect or read begun just
    before the deadline may run one socket timeout past it."""
    return dns_s + 2 * REQUEST_TIMEOUT_S


def watchdog_floor_s(host_is_name):
    """The smallest CAMSTREAM_WATCHDOG_S that no healthy board can trip (a hub given by IP needs no DNS)."""
    dns_s = DNS_S if host_is_name else 0
    slowest = max(wifi_s(), control_s(dns_s), camera_s(), frame_s(dns_s))
    return int(slowest + MARGIN_S + 0.999)
