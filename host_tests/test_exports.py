"""Export routes on the real hub: the estimate, a job from request to file (with byte ranges), cancelling and
deleting, the one-request download for scripts, and every bad request answered with a clear 4xx."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from camhub.keys import RECORDER
from testkit.hubs import RunningHub
from testkit.players import FFPROBE, probe
from testkit.recordings import record_run

if not Path(FFPROBE).exists() and os.environ.get("CI") != "true":
    pytest.skip(f"{FFPROBE} is missing (apt-get install ffmpeg); required when CI=true", allow_module_level=True)

T0 = float(int(time.time()) - 600)  # recent, so retention keeps it


@pytest.fixture
async def recorded(hub: RunningHub) -> RunningHub:
    """The hub with 3 s of cam1 at 20 fps from T0."""
    await record_run(hub.app[RECORDER], "cam1", T0, 60, 20)
    return hub


async def call(
    client: aiohttp.ClientSession, method: str, url: str, status: int, **kwargs: Any
) -> tuple[dict[str, Any], aiohttp.typedefs.LooseHeaders]:
    async with client.request(method, url, **kwargs) as response:
        assert response.status == status, await response.text()
        assert response.content_type == "application/json"
        return await response.json(), response.headers


async def until_done(client: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with asyncio.timeout(60):
        while True:
            job, _ = await call(client, "GET", url, 200)
            if job["state"] not in ("queued", "running"):
                return job
            await asyncio.sleep(0.1)


async def test_estimate_before_an_export(recorded: RunningHub, client: aiohttp.ClientSession) -> None:
    base = f"{recorded.url}/api/v1/devices/cam1/export?start={T0}&end={T0 + 10}"
    mkv, _ = await call(client, "GET", f"{base}&format=mkv", 200)
    assert (mkv["frames"], mkv["format"], mkv["reencode"]) == (60, "mkv", False)
    assert (mkv["firstTime"], mkv["lastTime"]) == (T0, pytest.approx(T0 + 2.95))
    assert mkv["estimatedBytes"] > mkv["sourceBytes"] > 0
    mp4, _ = await call(client, "GET", base, 200)  # MP4 unless told
    assert mp4["format"] == "mp4" and mp4["reencode"] is True and mp4["estimatedBytes"] < mkv["estimatedBytes"]


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("start={t}&end={e}&format=mov", 400, "format='mov' is not one of mp4, mkv, avi"),
        ("end={e}", 400, "missing 'start'"),
        ("start={t}&end=soon", 400, "end='soon' is neither unix seconds nor ISO 8601"),
        ("start={t}&end={far}", 400, "at most 24 hours"),
        ("start={later}&end={e}", 400, "before start"),
        ("start={t}&end={t}", 400, "must be after start"),
        ("start={e}&end={f}", 404, "nothing recorded for device 'cam1'"),
    ],
)
async def test_bad_estimates(
    recorded: RunningHub, client: aiohttp.ClientSession, query: str, status: int, message: str
) -> None:
    filled = query.format(t=T0, e=T0 + 10, f=T0 + 20, later=T0 + 30, far=T0 + 90000)
    body, _ = await call(client, "GET", f"{recorded.url}/api/v1/devices/cam1/export?{filled}", status)
    assert message in body["error"]


async def test_an_export_job_from_request_to_file(recorded: RunningHub, client: aiohttp.ClientSession) -> None:
    url = recorded.url
    job, headers = await call(
        client, "POST", f"{url}/api/v1/devices/cam1/exports", 202, json={"start": T0, "end": T0 + 10, "format": "mp4"}
    )
    assert headers["Location"] == f"/api/v1/exports/{job['id']}"
    assert (job["frames"], job["format"], job["deviceId"]) == (60, "mp4", "cam1")
    async with client.get(f"{url}/exports/{job['id']}/{job['fileName']}") as early:
        assert early.status == 409
        assert (await early.json())["error"] in (f"export {job['id']} is queued", f"export {job['id']} is running")
    done = await until_done(client, f"{url}{headers['Location']}")
    assert done["state"] == "done" and done["progress"] == 1.0 and done["framesDone"] == 60
    listed, _ = await call(client, "GET", f"{url}/api/v1/devices/cam1/exports", 200)
    assert [j["id"] for j in listed["exports"]] == [job["id"]]
    async with client.get(f"{url}{done['url']}") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "video/mp4"
        assert response.headers["Content-Disposition"] == f'attachment; filename="{done["fileName"]}"'
        body = await response.read()
    assert len(body) == done["bytes"]
    async with client.get(f"{url}{done['url']}", headers={"Range": "bytes=100-199"}) as part:
        assert part.status == 206 and await part.read() == body[100:200]  # what <video> seeking needs
    deleted, _ = await call(client, "DELETE", f"{url}/api/v1/exports/{job['id']}", 200)
    assert deleted == {"id": job["id"], "deleted": True}
    await call(client, "GET", f"{url}/api/v1/exports/{job['id']}", 404)
    await call(client, "GET", f"{url}{done['url']}", 404)
    await call(client, "DELETE", f"{url}/api/v1/exports/{job['id']}", 404)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "body is not valid JSON"),
        (b"[1, 2]", 400, "body must be a JSON object, got list"),
        (b'{"start": NaN, "end": 5}', 400, "body is not valid JSON"),
        (b'{"end": 5}', 400, "missing 'start'"),
        (b'{"start": true, "end": 5}', 400, "missing 'start'"),
        (b'{"start": "{t}", "end": "{e}", "format": 4}', 400, '"format" must be one of mp4, mkv, avi'),
        (b'{"start": "{t}", "end": "{e}", "format": "gif"}', 400, "format='gif' is not one of"),
        (b'{"start": "{f}", "end": "{g}"}', 404, "nothing recorded"),
    ],
)
async def test_bad_export_requests(
    recorded: RunningHub, client: aiohttp.ClientSession, body: bytes, status: int, message: str
) -> None:
    filled = body.replace(b"{t}", str(T0).encode()).replace(b"{e}", str(T0 + 10).encode())
    filled = filled.replace(b"{f}", str(T0 + 100).encode()).replace(b"{g}", str(T0 + 200).encode())
    answer, _ = await call(
        client,
        "POST",
        f"{recorded.url}/api/v1/devices/cam1/exports",
        status,
        data=filled,
        headers={"Content-Type": "application/json"},
    )
    assert message in answer["error"]
    listed, _ = await call(client, "GET", f"{recorded.url}/api/v1/devices/cam1/exports", 200)
    assert listed["exports"] == []


async def test_a_full_disk_refuses_the_export(
    recorded: RunningHub, client: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("camhub.export.jobs.RESERVE_BYTES", 2**62)
    answer, _ = await call(
        client, "POST", f"{recorded.url}/api/v1/devices/cam1/exports", 507, json={"start": T0, "end": T0 + 5}
    )
    assert "not enough disk space" in answer["error"]


async def test_one_request_download_for_scripts(
    recorded: RunningHub, client: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async with client.get(f"{recorded.url}/devices/cam1/export.mkv?start={T0}&end={T0 + 2}") as response:
        assert response.status == 200 and response.headers["Content-Type"] == "video/x-matroska"
        assert response.headers["Content-Disposition"].startswith('attachment; filename="cam1_')
        out = tmp_path / "clip.mkv"
        out.write_bytes(await response.read())
    assert probe(out).frames == 41  # 0 .. 2.0 s at 20 fps
    listed, _ = await call(client, "GET", f"{recorded.url}/api/v1/devices/cam1/exports", 200)
    assert listed["exports"] == []  # deleted once sent
    async with client.head(f"{recorded.url}/devices/cam1/export.mp4?start={T0}&end={T0 + 2}") as response:
        assert response.status == 200 and response.headers["Content-Type"] == "video/mp4"
        assert await response.read() == b""
    listed, _ = await call(client, "GET", f"{recorded.url}/api/v1/devices/cam1/exports", 200)
    assert listed["exports"] == []  # HEAD exports nothing
    missing, _ = await call(client, "GET", f"{recorded.url}/devices/cam1/export.avi?start={T0 + 50}&end={T0 + 60}", 404)
    assert "nothing recorded" in missing["error"]
    async with client.get(f"{recorded.url}/devices/cam1/export.gif?start={T0}&end={T0 + 2}") as response:
        assert response.status == 404
