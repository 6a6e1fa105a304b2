"""camhub.camera_settings: GET/PUT /api/v1/devices/{id}/settings on a real socket, the operator's access, and the
settings riding on heartbeat answers until the camera reports them applied or refused."""

import base64

import pytest

from camhub.camera_settings import FIELDS, validate_settings
from camhub.errors import ApiError
from testkit.hubs import HEARTBEAT, KEY, REGISTER, get_json, hub_config, post_json, running_hub

PASSWORD = "op-secret"
SETTINGS_PATH = "/api/v1/devices/cam1/settings"
CHANGE = {"frameSize": "VGA", "vflip": True, "quality": 12}


def basic(password, user="operator"):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def registered(hub_factory, client, **config):
    hub = await hub_factory(**config)
    assert (await post_json(client, hub.url, "/api/v1/devices/register", {**REGISTER, "capabilities": ["settings"]}))[
        0
    ] == 200
    return hub


async def put(client, url, body, headers=None, **kwargs):
    async with client.put(f"{url}{SETTINGS_PATH}", json=body, headers=headers, **kwargs) as response:
        return response.status, await response.json(), response.headers


async def beat(client, url, report):
    return await post_json(client, url, "/api/v1/devices/heartbeat", {**HEARTBEAT, "settings": report})


async def test_get_shows_fields_and_says_how_to_allow_changes(hub_factory, client):
    hub = await registered(hub_factory, client)
    status, body = await get_json(client, hub.url, SETTINGS_PATH)
    assert status == 200
    assert (body["version"], body["desired"], body["state"], body["supported"]) == (0, {}, {}, True)
    assert body["fields"]["frameSize"]["choices"][-1] == "QSXGA" and body["fields"]["quality"]["max"] == 55
    assert body["changes"]["enabled"] is False and "--operator-password" in body["changes"]["hint"]
    assert (await get_json(client, hub.url, "/api/v1/devices/nope/settings"))[0] == 404


async def test_without_an_operator_password_changes_are_refused_and_say_how_to_enable_them(hub_factory, client):
    hub = await registered(hub_factory, client)
    status, body, _ = await put(client, hub.url, CHANGE, basic("anything"))
    assert status == 403
    assert "--operator-password" in body["error"] and "CAMHUB_OPERATOR_PASSWORD" in body["error"]
    assert (await get_json(client, hub.url, SETTINGS_PATH))[1]["version"] == 0


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "operator password required"),
        (basic("wrong"), 401, "operator password required"),
        ({"Authorization": "Bearer wrong"}, 401, "operator password required"),
        ({**basic(PASSWORD), "Origin": "http://evil.example"}, 403, "cross-origin request refused"),
        ({**basic(PASSWORD), "Origin": "null"}, 403, "cross-origin request refused"),
        ({**basic(PASSWORD), "Sec-Fetch-Site": "cross-site"}, 403, "cross-site request refused"),
        ({**basic(PASSWORD), "Content-Type": "text/plain"}, 415, "application/json"),
    ],
)
async def test_changes_need_the_operator_from_this_hub_with_json(hub_factory, client, headers, status, message):
    hub = await registered(hub_factory, client, operator_password=PASSWORD)
    if headers.get("Content-Type") == "text/plain":
        async with client.put(f"{hub.url}{SETTINGS_PATH}", data='{"vflip": true}', headers=headers) as response:
            got, body, answer = response.status, await response.json(), response.headers
    else:
        got, body, answer = await put(client, hub.url, CHANGE, headers)
    assert got == status and message in body["error"], body
    if status == 401:
        assert answer["WWW-Authenticate"].startswith("Basic")
    assert (await get_json(client, hub.url, SETTINGS_PATH))[1]["version"] == 0  # nothing stored


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"zoom": 2}, "unknown setting 'zoom'"),
        ({"frameSize": "8K"}, "setting 'frameSize' must be one of"),
        ({"quality": 1}, "setting 'quality' must be 2..55, got 1"),
        ({"quality": 10.5}, "setting 'quality' must be a whole number"),
        ({"vflip": "yes"}, "setting 'vflip' must be true or false"),
        ({"aeLevel": 6}, "setting 'aeLevel' must be -5..5"),
        ({"quality": 30, "maxQuality": 20}, "'maxQuality' must be at least 'quality'"),
        ({"frameSize": "VGA", "minFrameSize": "HD"}, "'minFrameSize' must be no larger than 'frameSize'"),
        ([1, 2], "body must be a JSON object"),
    ],
)
async def test_bad_settings_are_refused_with_the_setting_named(hub_factory, client, body, message):
    hub = await registered(hub_factory, client, operator_password=PASSWORD)
    status, answer, _ = await put(client, hub.url, body, basic(PASSWORD))
    assert status == 400 and message in answer["error"]
    assert (await get_json(client, hub.url, SETTINGS_PATH))[1]["version"] == 0


async def test_a_change_rides_on_heartbeat_answers_until_the_camera_reports_it(hub_factory, client):
    hub = await registered(hub_factory, client, operator_password=PASSWORD)
    url = hub.url
    same_origin = {"Origin": url, "Sec-Fetch-Site": "same-origin", **basic(PASSWORD, user="anyone")}
    status, body, _ = await put(client, url, {**CHANGE, "brightness": None}, same_origin)
    assert status == 200 and body["version"] == 1 and body["desired"] == CHANGE
    assert {key: entry["state"] for key, entry in body["state"].items()} == dict.fromkeys(CHANGE, "pending")
    # a camera still on version 0 is sent version 1; one without remote settings (no report) is sent nothing
    assert (await beat(client, url, {"version": 0, "applied": {}, "refused": {}}))[1]["settings"] == {
        "version": 1,
        "values": CHANGE,
    }
    assert "settings" not in (await post_json(client, url, "/api/v1/devices/heartbeat", HEARTBEAT))[1]
    report = {"version": 1, "applied": {"vflip": True, "quality": 12}, "refused": {"frameSize": "no PSRAM left"}}
    status, answer = await beat(client, url, report)
    assert status == 200 and "settings" not in answer
    state = (await get_json(client, url, SETTINGS_PATH))[1]["state"]
    assert state["vflip"] == {"value": True, "state": "applied"} and state["quality"]["state"] == "applied"
    assert state["frameSize"] == {"value": "VGA", "state": "refused", "reason": "no PSRAM left"}
    status, body, _ = await put(client, url, CHANGE, basic(PASSWORD))
    assert body["version"] == 1  # the same settings again: no new version
    status, body, _ = await put(client, url, {}, basic(PASSWORD))
    assert (body["version"], body["desired"], body["state"]) == (2, {}, {})
    assert (await beat(client, url, report))[1]["settings"] == {"version": 2, "values": {}}


async def test_desired_settings_survive_a_restart(client, tmp_path):
    config = hub_config(tmp_path / "kept", operator_password=PASSWORD)
    async with running_hub(config) as hub:
        await post_json(client, hub.url, "/api/v1/devices/register", REGISTER)
        await put(client, hub.url, CHANGE, basic(PASSWORD))
    async with running_hub(config) as hub:
        body = (await get_json(client, hub.url, SETTINGS_PATH))[1]
        assert (body["version"], body["desired"]) == (1, CHANGE)


async def test_the_operator_password_opens_the_viewer_pages_too(hub_factory, client):
    hub = await registered(hub_factory, client, operator_password=PASSWORD, view_password="viewer")
    async with client.get(f"{hub.url}{SETTINGS_PATH}") as response:
        assert response.status == 401
    for password in ("viewer", PASSWORD):
        async with client.get(f"{hub.url}{SETTINGS_PATH}", headers=basic(password)) as response:
            assert response.status == 200
    assert (await put(client, hub.url, CHANGE, basic("viewer")))[0] == 401  # a viewer may not change them
    assert (await put(client, hub.url, CHANGE, basic(PASSWORD)))[0] == 200


def test_validate_drops_nulls_and_every_field_checks_its_kind():
    assert validate_settings({"vflip": False, "quality": None}) == {"vflip": False}
    for key, field in FIELDS.items():
        wrong = "x" if field.kind != "choice" else 7
        with pytest.raises(ApiError, match=key):
            validate_settings({key: wrong})


async def test_device_key_is_not_enough_and_a_bearer_password_is(hub_factory, client):
    hub = await registered(hub_factory, client, operator_password=PASSWORD)
    assert (await put(client, hub.url, CHANGE, {"X-API-Key": KEY}))[0] == 401
    assert (await put(client, hub.url, CHANGE, {"Authorization": f"Bearer {PASSWORD}"}))[0] == 200


def test_the_hub_knows_the_firmwares_frame_sizes():
    """The hub does not import the firmware (another program, on another machine): the lists must agree."""
    from camhub import camera_settings
    from camstream import framesize

    assert camera_settings.FRAME_SIZES == framesize.NAMES and camera_settings.LADDER == framesize.LADDER


def test_the_hub_offers_exactly_the_settings_the_firmware_applies_in_its_ranges():
    """A key, choice or bound only one side knows is a setting the page offers that every camera refuses."""
    from camstream import ratecontrol, remote

    assert set(FIELDS) == set(remote.KEYS)
    assert FIELDS["adapt"].choices == ratecontrol.POLICIES
    for key, (low, high) in remote.NUMBERS.items():
        assert (FIELDS[key].low, FIELDS[key].high) == (low, high), key
    for key in remote.KNOBS:
        if FIELDS[key].kind == "int":  # the widest range of any sensor the firmware knows
            lows, highs = zip(*(ranges[key] for ranges in remote.SENSOR_RANGES.values()), strict=True)
            assert (FIELDS[key].low, FIELDS[key].high) == (min(lows), max(highs)), key
