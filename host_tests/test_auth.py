"""camhub.auth: device keys, fleet or bound to one device; a bound key cannot speak for another camera."""

import stat

import pytest

from camhub.auth import load_api_keys, parse_key
from testkit.hubs import HEARTBEAT, JPEG, KEY, REGISTER, devices, post_frame, post_json
from testkit.rawhttp import send


def test_key_generated_once_and_kept_private(tmp_path):
    keys, source = load_api_keys((), tmp_path)
    assert source == "generated" and len(keys[0]) >= 32
    assert stat.S_IMODE((tmp_path / "api_key").stat().st_mode) == 0o600
    assert load_api_keys((), tmp_path) == (keys, "stored")
    assert load_api_keys(("a", "b"), tmp_path) == (("a", "b"), "configured")


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [("fleet-key", ("fleet-key", None)), ("s3cret@cam1", ("s3cret", "cam1")), ("a@b@cam:2", ("a@b", "cam:2"))],
)
def test_key_entries(entry, parsed):
    assert parse_key(entry) == parsed


@pytest.mark.parametrize(
    ("entry", "message"),
    [("@cam1", "no key before '@'"), ("key@", "bound to device"), ("key@bad/id", "bound to device"), ("k y", "ASCII")],
)
def test_bad_key_entries_say_what_is_wrong(entry, message):
    with pytest.raises(ValueError, match=message):
        parse_key(entry)


BOUND = "cam1-only"


async def test_a_bound_key_speaks_only_for_its_device(hub_factory, client):
    url = (await hub_factory(api_keys=(KEY, f"{BOUND}@cam1"))).url
    assert (await post_json(client, url, "/api/v1/devices/register", REGISTER, key=BOUND))[0] == 200
    assert (await post_json(client, url, "/api/v1/devices/register", {**REGISTER, "deviceId": "cam2"}))[0] == 200
    before = {d["deviceId"]: d for d in await devices(client, url)}

    as_cam2 = {**REGISTER, "deviceId": "cam2", "deviceName": "spoofed"}
    status, answer = await post_json(client, url, "/api/v1/devices/register", as_cam2, key=BOUND)
    assert (status, answer["error"]) == (403, "this API key belongs to device 'cam1', not 'cam2'")
    status, _ = await post_json(client, url, "/api/v1/devices/heartbeat", {**HEARTBEAT, "deviceId": "cam2"}, key=BOUND)
    assert status == 403
    for multipart in (False, True):
        status, answer = await post_frame(client, url, device="cam2", key=BOUND, seq=10**9, multipart=multipart)
        assert (status, answer["error"]) == (403, "this API key belongs to device 'cam1', not 'cam2'")
    status, answer = await post_frame(client, url, device="brand-new", key=BOUND)
    assert status == 403

    after = {d["deviceId"]: d for d in await devices(client, url)}
    assert set(after) == {"cam1", "cam2"}  # no implicit device was created
    cam2 = after["cam2"]
    assert (cam2["name"], cam2["frames"], cam2["drops"], cam2["lastHeartbeat"], cam2["rejects"]) == (
        before["cam2"]["name"],
        0,
        0,
        None,
        0,
    )
    assert (await post_frame(client, url, device="cam1", key=BOUND, seq=1))[0] == 200
    assert (await post_frame(client, url, device="cam2", key=KEY, seq=1))[0] == 200  # the fleet key may


async def test_undecodable_bytes_in_the_key_are_a_401_not_a_crash(hub):
    for value in (b"\xff\xfe", b"test-key\xff", "clé".encode()):
        answer = await send(
            hub.url,
            "POST",
            "/api/v1/stream/stream",
            {"X-API-Key": value, "Content-Type": "image/jpeg", "X-Device-Id": "cam1"},
            JPEG,
        )
        assert (answer.status, answer.body) == (401, b'{"error": "invalid API key"}')


async def test_guessing_keys_is_rate_limited_per_address(hub_factory, client):
    url = (await hub_factory(auth_failures_per_minute=5)).url
    for _ in range(5):
        assert (await post_frame(client, url, key="guess"))[0] == 401
    status, answer = await post_frame(client, url, key="guess")
    assert status == 429 and "too many wrong API keys from 127.0.0.1" in answer["error"]
    # Locked out for the rest of the minute, the right key included: guessing cannot go on meanwhile.
    async with client.post(
        f"{url}/api/v1/stream/stream", data=JPEG, headers={"X-API-Key": KEY, "Content-Type": "image/jpeg"}
    ) as response:
        assert response.status == 429 and 1 <= int(response.headers["Retry-After"]) <= 60
