"""camstream.urls: base URL parsing."""

import pytest

from camstream.urls import parse


def test_http_with_port():
    url = parse("http://192.168.1.50:9005")
    assert (url.proto, url.host, url.port, url.base_path, url.is_ssl) == ("http:", "192.168.1.50", 9005, "", False)
    assert url.host_header == "192.168.1.50:9005"
    assert url.url("/api/v1/devices/register") == "http://192.168.1.50:9005/api/v1/devices/register"


def test_https_default_port_and_base_path():
    url = parse(" HTTPS://cams.example.org/hub/ ")
    assert (url.proto, url.port, url.base_path, url.host_header, url.is_ssl) == (
        "https:",
        443,
        "/hub",
        "cams.example.org",
        True,
    )
    assert url.path("/api/v1/stream/stream") == "/hub/api/v1/stream/stream"
    assert str(url) == "https://cams.example.org/hub"


@pytest.mark.parametrize(
    "text,message",
    [
        ("192.168.1.50:9005", "expected a URL"),
        ("ftp://host", "http or https"),
        ("http://host:port", "port must be"),
        ("http://host:0", "port must be"),
        ("http://", "host name"),
        ("http://host/?a=1", "query"),
        ("http://user:pw@host", "API key"),
    ],
)
def test_bad_urls(text, message):
    with pytest.raises(ValueError, match=message):
        parse(text)
