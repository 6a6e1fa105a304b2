"""The hub's base URL (CAMSTREAM_SERVER_URL), split once so requests only append API paths."""

_DEFAULT_PORTS = {"http": 80, "https": 443}


class ServerURL:
    def __init__(self, scheme, host, port, base_path):
        self.scheme = scheme
        self.proto = scheme + ":"
        self.is_ssl = scheme == "https"
        self.host = host
        self.port = port
        self.base_path = base_path
        parts = host.split(".")
        # An IPv4 literal needs no DNS lookup; anything else is a name.
        self.host_is_name = not (len(parts) == 4 and all(p.isdigit() for p in parts))
        if port == _DEFAULT_PORTS[scheme]:
            self.host_header = host
        else:
            self.host_header = "%s:%d" % (host, port)

    def path(self, api_path):
        """The request target for an API path such as /api/v1/devices/register."""
        return self.base_path + api_path

    def url(self, api_path):
        """The absolute URL, as adafruit_requests wants it."""
        return "%s//%s:%d%s" % (self.proto, self.host, self.port, self.path(api_path))

    def __str__(self):
        return "%s//%s%s" % (self.proto, self.host_header, self.base_path)


def parse(text):
    """Split a base URL such as http://192.168.1.50:9005; ValueError says what is wrong."""
    text = text.strip()
    sep = text.find("://")
    if sep < 0:
        raise ValueError("expected a URL like http://192.168.1.50:9005")
    scheme = text[:sep].lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("the scheme must be http or https, not " + scheme)
    rest = text[sep + 3 :]
    if "?" in rest or "#" in rest:
        raise ValueError("a base URL has no query or fragment")
    slash = rest.find("/")
    if slash < 0:
        hostport, base_path = rest, ""
    else:
        hostport, base_path = rest[:slash], rest[slash:]
    while base_path.endswith("/"):
        base_path = base_path[:-1]
    if "@" in hostport:
        raise ValueError("user:password@ is not supported; the API key goes in CAMSTREAM_API_KEY")
    port = _DEFAULT_PORTS[scheme]
    colon = hostport.find(":")
    host = hostport
    if colon >= 0:
        host = hostport[:colon]
        digits = hostport[colon + 1 :]
        if not digits.isdigit() or not 0 < int(digits) < 65536:
            raise ValueError("the port must be a number 1..65535, not " + repr(digits))
        port = int(digits)
    if not host or " " in host:
        raise ValueError("the host name is missing or contains a space")
    return ServerURL(scheme, host, port, base_path)
