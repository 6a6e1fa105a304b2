"""Device control requests: register and heartbeat, small JSON posts through adafruit_requests.

Two adafruit_requests traps are handled here: the body is always read before the response is
closed (or the next request on that socket reads stale bytes), and after any failure every pooled
socket is dropped (a socket that fails while headers are parsed is never released otherwise).
"""

import json

from camstream.errors import HTTPStatusError, ProtocolError, classify, error_detail, printable

REGISTER_PATH = "/api/v1/devices/register"
HEARTBEAT_PATH = "/api/v1/devices/heartbeat"
CAPABILITIES = ("jpeg", "multipart", "raw", "heartbeat", "settings")
ANSWER_MAX = 8192  # a heartbeat answer carrying settings is a few hundred bytes


class Control:
    """`session` is adafruit_requests.Session(pool, ssl_context); `reset_sockets` closes the pool's sockets."""

    def __init__(self, session, server, api_key, device_id, reset_sockets, timeout_s=5.0):
        self._session = session
        self._server = server
        self._device_id = device_id
        self._headers = {"X-API-Key": api_key, "X-Device-Id": device_id}
        self._reset_sockets = reset_sockets
        self._timeout_s = timeout_s
        self.registered = False

    def _post(self, path, body):
        """POST JSON, read the whole response; returns (status, content)."""
        try:
            response = self._session.post(
                self._server.url(path), json=body, headers=self._headers, timeout=self._timeout_s
            )
            try:
                status = response.status_code
                content = response.content
            finally:
                response.close()
        except Exception as exc:
            self._reset_sockets()
            if classify(exc) == "other":
                # adafruit_requests parses the answer itself: a status line or header it cannot read
                # (ValueError, UnicodeError, "Unable to read HTTP response.") is the hub's fault, not ours.
                raise ProtocolError("%s: %s" % (type(exc).__name__, printable(str(exc))))
            raise
        return status, content

    def register(self, name, ip_address, extra):
        """Announce this camera; raises HTTPStatusError unless the hub accepts it."""
        body = {
            "deviceId": self._device_id,
            "deviceName": name,
            "deviceType": "camera",
            "ipAddress": ip_address,
            "capabilities": list(CAPABILITIES),
        }
        body.update(extra)
        status, content = self._post(REGISTER_PATH, body)
        if not 200 <= status < 300:
            self.registered = False
            raise HTTPStatusError(status, "register", error_detail(content))
        self.registered = True
        print("Hub: registered %s as %r at %s" % (self._device_id, name, self._server))

    def heartbeat(self, fields):
        """Report liveness; returns the hub's answer (a dict; {} if it is not a JSON object).

        A 404 means the hub forgot us, so the next step registers again."""
        body = {"deviceId": self._device_id, "status": "online"}
        body.update(fields)
        status, content = self._post(HEARTBEAT_PATH, body)
        if status == 404:
            self.registered = False
            print("Hub: heartbeat answered 404 (device unknown); registering again")
            return {}
        if not 200 <= status < 300:
            raise HTTPStatusError(status, "heartbeat", error_detail(content))
        if not content or len(content) > ANSWER_MAX:
            return {}
        try:
            answer = json.loads(content)
        except ValueError:  # not JSON, or not UTF-8 (UnicodeError is a ValueError)
            return {}
        return answer if isinstance(answer, dict) else {}
