"""camhub.banner: the start-up message carries a ready-to-paste settings.toml snippet with a reachable URL."""

import ipaddress
import tomllib

from camhub import banner


def test_lan_address_is_an_ipv4_address():
    assert ipaddress.ip_address(banner.lan_address()).version == 4


def test_snippet_is_valid_toml_with_url_and_key():
    text = banner.render("0.0.0.0", 9005, "k3y", "generated")
    snippet = text.split("\n\n", 1)[1]
    settings = tomllib.loads(snippet)
    assert settings == {"CAMSTREAM_SERVER_URL": f"http://{banner.lan_address()}:9005", "CAMSTREAM_API_KEY": "k3y"}
    assert "generated now" in text


def test_specific_listen_address_is_used_as_is():
    assert 'CAMSTREAM_SERVER_URL = "http://10.1.2.3:9100"' in banner.render("10.1.2.3", 9100, "k", "configured")
