"""camhub.auth: generated API key kept in the data dir; the viewer password guards everything but the device API."""

import base64
import stat

import pytest

from camhub.auth import load_api_keys
from testkit.hubs import JPEG, KEY, post_frame


def test_key_generated_once_and_kept_private(tmp_path):
    keys, source = load_api_keys((), tmp_path)
    assert source == "generated" and len(keys[0]) >= 32
    assert stat.S_IMODE((tmp_path / "api_key").stat().st_mode) == 0o600
    assert load_api_keys((), tmp_path) == (keys, "stored")
    assert load_api_keys(("a", "b"), tmp_path) == (("a", "b"), "configured")


def basic(password, user="viewer"):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/devices/cam1",
        "/devices/cam1/stream.mjpg",
        "/devices/cam1/snapshot.jpg",
        "/api/v1/devices",
        "/api/v1/devices/cam1",
        "/metrics",
        "/static/style.css",
    ],
)
async def test_viewer_password_protects_viewers(hub_factory, client, path):
    url = (await hub_factory(view_password="s3cret")).url
    assert (await post_frame(client, url))[0] == 200  # device API: X-API-Key only
    for headers in ({}, basic("wrong"), {"Authorization": "Bearer s3cret"}):
        async with client.get(f"{url}{path}", headers=headers) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Basic")
            assert "viewer password required" in (await response.json())["error"]
    async with client.get(f"{url}{path}", headers=basic("s3cret", user="anyone")) as response:
        assert response.status == 200
        assert response.content_type != "application/json" or "error" not in await response.json()


async def test_open_paths_with_viewer_password(hub_factory, client):
    url = (await hub_factory(view_password="s3cret")).url
    async with client.get(f"{url}/healthz") as response:
        assert response.status == 200
    async with client.post(
        f"{url}/api/v1/devices/register", json={"deviceId": "cam2"}, headers={"X-API-Key": KEY}
    ) as response:
        assert response.status == 200
    async with client.post(
        f"{url}/api/v1/stream/stream", data=JPEG, headers={"X-API-Key": "bad", "Content-Type": "image/jpeg"}
    ) as response:
        assert response.status == 401 and "WWW-Authenticate" not in response.headers
