"""camhub.access: viewer, operator and metrics roles over real HTTP; failed logins are rate limited."""

import base64

import pytest

from camhub.access import METRICS, OPERATOR, VIEWER, required_role
from testkit.hubs import KEY, post_frame
from testkit.rawhttp import send


def basic(password, user="viewer"):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("POST", "/api/v1/stream/stream", None),
        ("POST", "/api/v1/devices/register", None),
        ("GET", "/api/v1/devices/register", VIEWER),
        ("GET", "/api/v1/devices/heartbeat", VIEWER),
        ("GET", "/api/v1/stream/stream", VIEWER),
        ("GET", "/healthz", None),
        ("POST", "/healthz", OPERATOR),
        ("GET", "/metrics", METRICS),
        ("GET", "/", VIEWER),
        ("POST", "/api/v1/devices/cam1/recording", OPERATOR),
        ("PUT", "/api/v1/devices/cam1/settings", OPERATOR),
        ("DELETE", "/api/v1/devices/cam1", OPERATOR),
    ],
)
def test_required_role(method, path, role):
    assert required_role(method, path) == role


VIEWER_PATHS = [
    "/",
    "/devices/cam1",
    "/devices/cam1/stream.mjpg",
    "/devices/cam1/snapshot.jpg",
    "/api/v1/devices",
    "/api/v1/devices/cam1",
    "/metrics",
    "/static/style.css",
]


@pytest.mark.parametrize("path", VIEWER_PATHS)
async def test_viewer_password_protects_viewers(hub_factory, client, path):
    url = (await hub_factory(view_password="s3cret")).url
    assert (await post_frame(client, url))[0] == 200  # device API: X-API-Key only
    for headers in ({}, basic("wrong"), {"Authorization": "Bearer wrong"}, {"Authorization": "Basic %%%"}):
        async with client.get(f"{url}{path}", headers=headers) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Basic")
            assert "viewer password required" in (await response.json())["error"]
    for headers in (basic("s3cret", user="anyone"), {"Authorization": "Bearer s3cret"}):
        async with client.get(f"{url}{path}", headers=headers) as response:
            assert response.status == 200
            assert response.content_type != "application/json" or "error" not in await response.json()


@pytest.mark.parametrize("path", ["/api/v1/devices/register", "/api/v1/devices/heartbeat", "/api/v1/stream/stream"])
async def test_device_paths_are_open_only_to_the_device_api_itself(hub_factory, client, path):
    url = (await hub_factory(view_password="s3cret")).url
    async with client.get(f"{url}{path}") as response:
        assert response.status == 401


async def test_open_paths_with_viewer_password(hub_factory, client):
    url = (await hub_factory(view_password="s3cret")).url
    async with client.get(f"{url}/healthz") as response:
        assert response.status == 200
    async with client.post(
        f"{url}/api/v1/devices/register", json={"deviceId": "cam2"}, headers={"X-API-Key": KEY}
    ) as response:
        assert response.status == 200
    async with client.post(
        f"{url}/api/v1/stream/stream", data=b"\xff\xd8", headers={"X-API-Key": "bad", "Content-Type": "image/jpeg"}
    ) as response:
        assert response.status == 401 and "WWW-Authenticate" not in response.headers


async def toggle(client, url, enabled, headers):
    async with client.post(f"{url}/api/v1/devices/cam1/recording", json={"enabled": enabled}, headers=headers) as r:
        return r.status, await r.json()


async def test_changes_need_the_operator_password(hub_factory, client):
    url = (await hub_factory(view_password="look", operator_password="change", record=frozenset({"cam1"}))).url
    for headers in ({}, basic("look"), basic("wrong"), {"X-API-Key": KEY}):
        status, answer = await toggle(client, url, False, headers)
        assert status == 401 and "operator password required" in answer["error"]
    async with client.get(f"{url}/api/v1/devices/cam1/recordings", headers=basic("look")) as response:
        assert (await response.json())["recording"] is True  # nothing changed
    assert await toggle(client, url, False, basic("change")) == (200, {"deviceId": "cam1", "recording": False})
    assert (await toggle(client, url, True, {"Authorization": "Bearer change"}))[0] == 200
    async with client.get(f"{url}/api/v1/devices", headers=basic("change")) as response:
        assert response.status == 200  # one login in the browser serves viewing too


async def test_undecodable_credentials_are_a_401_not_a_crash(hub_factory):
    """Issue 10: byte 0xff in Authorization was a 500 with a traceback (the key's twin is in test_auth)."""
    url = (await hub_factory(view_password="look", operator_password="change", metrics_token="scrape")).url
    values = (b"Basic \xff\xfe", b"Basic " + base64.b64encode(b"viewer:\xff"), b"Bearer \xff", b"\xff")
    for value in values:
        for method, path in (("GET", "/api/v1/devices"), ("GET", "/metrics"), ("PUT", "/api/v1/devices/cam1/settings")):
            headers = {"Authorization": value, "Content-Type": "application/json"}
            answer = await send(url, method, path, headers, b'{"vflip": true}')
            assert answer.status == 401 and b"error" in answer.body, (value, path, answer.status, answer.body)


async def test_operator_password_alone_leaves_viewing_open(hub_factory, client):
    url = (await hub_factory(operator_password="change")).url
    async with client.get(f"{url}/api/v1/devices") as response:
        assert response.status == 200
    assert (await toggle(client, url, False, {}))[0] == 401


async def test_metrics_token(hub_factory, client):
    url = (await hub_factory(view_password="look", metrics_token="scrape")).url
    for headers in ({}, basic("look"), {"Authorization": "Bearer nope"}):
        async with client.get(f"{url}/metrics", headers=headers) as response:
            assert response.status == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    async with client.get(f"{url}/metrics", headers={"Authorization": "Bearer scrape"}) as response:
        assert response.status == 200 and "camhub_build_info" in await response.text()
    async with client.get(f"{url}/api/v1/devices", headers={"Authorization": "Bearer scrape"}) as response:
        assert response.status == 401  # the token opens /metrics only


async def test_wrong_passwords_are_rate_limited(hub_factory, client):
    url = (await hub_factory(view_password="look", auth_failures_per_minute=3)).url
    for _ in range(3):
        async with client.get(f"{url}/api/v1/devices", headers=basic("guess")) as response:
            assert response.status == 401
    async with client.get(f"{url}/api/v1/devices", headers=basic("look")) as response:
        assert response.status == 429 and "too many failed logins" in (await response.json())["error"]
        assert 1 <= int(response.headers["Retry-After"]) <= 60
    async with client.get(f"{url}/healthz") as response:
        assert response.status == 200


async def test_a_browser_asking_without_credentials_is_not_a_failure(hub_factory, client):
    url = (await hub_factory(view_password="look", auth_failures_per_minute=1)).url
    for _ in range(5):  # every first load of a page is asked once without credentials
        async with client.get(f"{url}/") as response:
            assert response.status == 401
    async with client.get(f"{url}/", headers=basic("look")) as response:
        assert response.status == 200
