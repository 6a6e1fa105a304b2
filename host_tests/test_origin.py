"""camhub.origin: the Host allow-list against DNS rebinding, and CSRF checks on changes, down to a real browser."""

import asyncio
import os
from pathlib import Path

import pytest
from aiohttp import web

from camhub.keys import RECORDER
from camhub.origin import HostAllowList, host_name, own_names
from testkit.browser import CHROMIUM
from testkit.hubs import JPEG, KEY, post_frame
from testkit.rawhttp import send


@pytest.mark.parametrize(
    ("host", "name"),
    [("hub.lan:9005", "hub.lan"), ("[::1]:9005", "::1"), ("10.0.0.2", "10.0.0.2"), ("HUB.LAN", "hub.lan")],
)
def test_host_name(host, name):
    assert host_name(host) == name


def test_auto_allows_addresses_and_own_names_only():
    hosts = HostAllowList(["auto"])
    for host in ("127.0.0.1:9005", "192.168.1.9", "[fe80::1]:80", "localhost:9005", "cam.localhost", None):
        assert hosts.allows(host), host
    for name in own_names():
        assert hosts.allows(f"{name}:9005")
    for host in ("evil.example:9005", "127.0.0.1.nip.io", "localhost.evil.example"):
        assert not hosts.allows(host), host


def test_listed_names_and_suffixes():
    hosts = HostAllowList(["camhub.lan", ".home.arpa"])
    assert hosts.allows("camhub.lan:9005") and hosts.allows("hub.home.arpa") and hosts.allows("home.arpa")
    assert not hosts.allows("127.0.0.1") and not hosts.allows("evilhome.arpa")
    assert HostAllowList(["*"]).allows("anything.example")


async def test_a_rebound_name_is_refused_but_cameras_may_use_any_name(hub):
    answer = await send(hub.url, "GET", "/api/v1/devices", {"Host": "attacker.example:9005"})
    assert answer.status == 421 and b"--allowed-hosts" in answer.body
    answer = await send(
        hub.url,
        "POST",
        "/api/v1/stream/stream",
        {"Host": "camhub.lan:9005", "X-API-Key": KEY, "Content-Type": "image/jpeg", "X-Device-Id": "cam1"},
        JPEG,
    )
    assert answer.status == 200  # a camera's CAMSTREAM_SERVER_URL may name the hub however the LAN does
    assert (await send(hub.url, "GET", "/healthz", {"Host": "attacker.example"})).status == 200


async def test_allowed_hosts_option(hub_factory):
    url = (await hub_factory(allowed_hosts=("camhub.lan",))).url
    assert (await send(url, "GET", "/api/v1/devices", {"Host": "camhub.lan:9005"})).status == 200
    assert (await send(url, "GET", "/api/v1/devices", {"Host": "127.0.0.1"})).status == 421


TOGGLE = "/api/v1/devices/cam1/recording"
OFF = b'{"enabled": false}'


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({"Content-Type": "text/plain"}, 415, b"application/json"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415, b"application/json"),
        ({"Content-Type": "application/json", "Origin": "http://evil.example"}, 403, b"cross-origin"),
        ({"Content-Type": "application/json", "Origin": "null"}, 403, b"cross-origin"),
        ({"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403, b"cross-site"),
        ({"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"}, 403, b"cross-site"),
    ],
)
async def test_changes_refuse_what_another_site_could_send(hub_factory, headers, status, message):
    hub = await hub_factory(record=frozenset({"cam1"}))
    answer = await send(hub.url, "POST", TOGGLE, headers, OFF)
    assert answer.status == status and message in answer.body
    assert hub.app[RECORDER].wants("cam1")


async def test_same_origin_changes_pass(hub_factory):
    hub = await hub_factory(record=frozenset({"cam1"}))
    headers = {"Content-Type": "application/json", "Origin": hub.url, "Sec-Fetch-Site": "same-origin"}
    answer = await send(hub.url, "POST", TOGGLE, headers, OFF)
    assert answer.status == 200, answer.body
    assert not hub.app[RECORDER].wants("cam1")
    on = b'{"enabled": true}'
    assert (await send(hub.url, "POST", TOGGLE, {"Content-Type": "application/json"}, on)).status == 200  # curl
    assert hub.app[RECORDER].wants("cam1")


ATTACK_PAGE = """<!doctype html><title>cat pictures</title>
<form id="f" method="POST" enctype="text/plain" action="{hub}{toggle}">
<input name='{{"enabled": false, "x": "' value='"}}'></form>
<script>
window.done = (async () => {{
  const target = "{hub}{toggle}";
  const body = JSON.stringify({{enabled: false}});
  const tries = [
    fetch(target, {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}}, body}}),
    fetch(target, {{method: "POST", headers: {{"Content-Type": "application/json"}}, body}}),
    fetch(target, {{method: "POST", mode: "no-cors", credentials: "include", body}}),
  ];
  for (const t of tries) {{ try {{ await t; }} catch (e) {{}} }}
  return "sent";
}})();
</script>"""


@pytest.mark.skipif(not Path(CHROMIUM).exists() and os.environ.get("CI") != "true", reason=f"{CHROMIUM} missing")
async def test_a_page_on_another_site_cannot_turn_recording_off_in_chromium(hub_factory, client, browser):
    hub = await hub_factory(record=frozenset({"cam1"}))
    assert (await post_frame(client, hub.url))[0] == 200
    page_app = web.Application()
    html = ATTACK_PAGE.format(hub=hub.url, toggle=TOGGLE)

    async def attack(_: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    page_app.router.add_get("/", attack)
    runner = web.AppRunner(page_app)
    await runner.setup()
    site = web.TCPSite(runner, "localhost", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        page = await browser.new_page()
        await page.goto(f"http://localhost:{port}/")
        assert await page.evaluate("window.done") == "sent"
        await page.evaluate("document.getElementById('f').submit()")
        await asyncio.sleep(1.0)
    finally:
        await runner.cleanup()
    async with client.get(f"{hub.url}/api/v1/devices/cam1/recordings") as response:
        assert (await response.json())["recording"] is True
