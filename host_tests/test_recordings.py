"""Recording routes over real HTTP (pytest-aiohttp's TestServer) on a small app: the routes and a Recorder."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from camhub.framing import BOUNDARY
from camhub.keys import RECORDER
from camhub.recording import Frame
from camhub.recordings import frame_delay
from testkit.jpegs import seeded_jpeg, tagged
from testkit.recordings import H0

Client = TestClient[web.Request, web.Application]
JPEGS = [seeded_jpeg(seed) for seed in range(6)]
START = datetime(2024, 5, 1, 12, tzinfo=UTC)


def parse_mjpeg(body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Strict multipart/x-mixed-replace parser: boundary, headers, exactly Content-Length bytes, close delimiter."""
    parts: list[tuple[dict[str, str], bytes]] = []
    delimiter = f"--{BOUNDARY}".encode()
    pos = 0
    while True:
        assert body[pos : pos + len(delimiter)] == delimiter, f"no boundary at {pos}"
        pos += len(delimiter)
        if body[pos:] == b"--\r\n":
            return parts
        assert body[pos : pos + 2] == b"\r\n"
        head_end = body.index(b"\r\n\r\n", pos)
        headers = dict(line.split(": ", 1) for line in body[pos + 2 : head_end].decode().split("\r\n"))
        start = head_end + 4
        end = start + int(headers["Content-Length"])
        parts.append((headers, body[start:end]))
        assert body[end : end + 2] == b"\r\n"
        pos = end + 2


async def record(recordings_client: Client, device: str, count: int, step: float = 0.1, t0: float = H0) -> list[bytes]:
    rec = recordings_client.app[RECORDER]
    sent = [tagged(JPEGS[i % len(JPEGS)], f"{device}:{i}") for i in range(count)]
    for i, jpeg in enumerate(sent):
        await rec.record(device, i, 10_000 + round(i * step * 1000), t0 + i * step, jpeg)
    return sent


async def get_json(recordings_client: Client, url: str, status: int = 200) -> Any:
    response = await recordings_client.get(url)
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    return await response.json()


async def test_playback_is_bit_exact(recordings_client: Client) -> None:
    sent = await record(recordings_client, "cam1", 12)
    response = await recordings_client.get(f"/devices/cam1/playback.mjpg?start={H0}&end={H0 + 60}&speed=0")
    assert response.status == 200
    assert response.headers["Content-Type"] == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
    parts = parse_mjpeg(await response.read())
    assert [jpeg for _, jpeg in parts] == sent
    headers = parts[3][0]
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["X-Frame-Seq"] == "3"
    assert float(headers["X-Timestamp"]) == pytest.approx(H0 + 0.3)


async def test_playback_selects_the_range_iso_or_unix(recordings_client: Client) -> None:
    sent = await record(recordings_client, "cam1", 30)
    response = await recordings_client.get(
        "/devices/cam1/playback.mjpg", params={"start": "2024-05-01T12:00:01Z", "end": str(H0 + 1.45), "speed": "0"}
    )
    assert [jpeg for _, jpeg in parse_mjpeg(await response.read())] == sent[10:15]
    response = await recordings_client.get(  # no zone means UTC; an unencoded '+' arrives as a space
        "/devices/cam1/playback.mjpg?start=2024-05-01T12:00:02&end=2024-05-01T14:00:02.05 02:00&speed=0"
    )
    assert [jpeg for _, jpeg in parse_mjpeg(await response.read())] == sent[20:21]


async def test_playback_is_paced_by_recorded_time(recordings_client: Client) -> None:
    await record(recordings_client, "cam1", 5, step=0.1)
    for speed, low, high in (("1", 0.38, 1.0), ("4", 0.09, 0.3)):
        began = time.monotonic()
        response = await recordings_client.get(f"/devices/cam1/playback.mjpg?start={H0}&end={H0 + 1}&speed={speed}")
        assert len(parse_mjpeg(await response.read())) == 5
        assert low <= time.monotonic() - began < high, speed


async def test_download_is_an_attachment_with_the_same_frames(recordings_client: Client) -> None:
    sent = await record(recordings_client, "cam1", 8)
    response = await recordings_client.get(f"/devices/cam1/recording.mjpg?start={H0}&end={H0 + 0.35}")
    assert response.status == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="cam1_20240501T120000Z_20240501T120000Z.mjpg"'
    )
    assert "Content-Length" not in response.headers  # streamed as read, not built in memory
    assert [jpeg for _, jpeg in parse_mjpeg(await response.read())] == sent[:4]


async def test_playback_across_hourly_files(recordings_client: Client) -> None:
    sent = await record(recordings_client, "cam1", 6, step=0.5, t0=H0 - 1.2)
    spans = (await get_json(recordings_client, "/api/v1/devices/cam1/recordings"))["spans"]
    assert [s["file"] for s in spans] == ["cam1/2024-05-01/11.mjpg", "cam1/2024-05-01/12.mjpg"]
    response = await recordings_client.get(f"/devices/cam1/recording.mjpg?start={H0 - 60}&end={H0 + 60}")
    assert [jpeg for _, jpeg in parse_mjpeg(await response.read())] == sent


async def test_nothing_in_range_is_404(recordings_client: Client) -> None:
    await record(recordings_client, "cam1", 3)
    for path in ("playback", "recording"):
        body = await get_json(recordings_client, f"/devices/cam1/{path}.mjpg?start={H0 + 10}&end={H0 + 20}", 404)
        assert "nothing recorded" in body["error"]
        await get_json(recordings_client, f"/devices/cam9/{path}.mjpg?start={H0}&end={H0 + 20}", 404)


async def test_playback_starts_at_any_second_and_runs_to_the_end_of_the_recording(recordings_client: Client) -> None:
    sent = await record(recordings_client, "cam1", 40, step=0.25)
    response = await recordings_client.get(f"/devices/cam1/playback.mjpg?start={H0 + 3.1}&speed=0")
    parts = parse_mjpeg(await response.read())
    assert [jpeg for _, jpeg in parts] == sent[13:]  # 3.25 s is the first frame at or after 3.1 s
    assert float(parts[0][0]["X-Timestamp"]) == pytest.approx(H0 + 3.25)
    gap = await recordings_client.get(f"/devices/cam1/playback.mjpg?start={H0 - 30}&end=&speed=0")
    assert len(parse_mjpeg(await gap.read())) == 40  # from inside a gap: the next recorded frame
    body = await get_json(recordings_client, f"/devices/cam1/playback.mjpg?start={H0 + 11}", 404)
    assert body["error"].endswith("and now")


async def test_timeline_lists_spans_and_gaps(recordings_client: Client) -> None:
    rec = recordings_client.app[RECORDER]
    for i in range(10):
        await rec.record("cam1", i, None, H0 - 0.5 + i * 0.1, JPEGS[0])  # across the hour boundary
    for i in range(5):
        await rec.record("cam1", 10 + i, None, H0 + 60 + i * 0.2, JPEGS[1])
    body = await get_json(recordings_client, f"/api/v1/devices/cam1/timeline?start={H0 - 3600}&end={H0 + 3600}")
    assert body["deviceId"] == "cam1" and body["gapS"] == 5.0
    assert body["segments"] == [
        {
            "start": H0 - 0.5,
            "end": pytest.approx(H0 + 0.4),
            "startIso": "2024-05-01T11:59:59.500Z",
            "endIso": "2024-05-01T12:00:00.400Z",
            "frames": 10,
        },
        {
            "start": H0 + 60,
            "end": pytest.approx(H0 + 60.8),
            "startIso": "2024-05-01T12:01:00.000Z",
            "endIso": "2024-05-01T12:01:00.800Z",
            "frames": 5,
        },
    ]
    assert body["gaps"] == [{"start": pytest.approx(H0 + 0.4), "end": H0 + 60, "seconds": 59.6}]
    cut = await get_json(recordings_client, f"/api/v1/devices/cam1/timeline?start={H0}&end={H0 + 60.3}")
    assert [(s["start"], s["frames"]) for s in cut["segments"]] == [(H0, 5), (H0 + 60, 2)]
    body = await get_json(recordings_client, f"/api/v1/devices/cam1/timeline?start={H0}&end={H0 + 40 * 86400}", 400)
    assert "at most 744 hours" in body["error"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "missing 'start'"),
        (f"start=yesterday&end={H0}", "neither unix seconds nor ISO 8601"),
        (f"start=nan&end={H0}", "must be a time between 1970 and the year 9999"),
        ("start=1e308&end=1e308", "must be a time between 1970 and the year 9999"),  # issue 10: was a 500
        (f"start={H0}&end=9999-12-31T23:00:00-05:00", "must be a time between 1970 and the year 9999"),
        (f"start=-1&end={H0}", "must be a time between 1970"),
        (f"start={H0}&end={H0 + 5}&speed=1e-300", "between 0.01 and 1000"),  # issue 10: held a connection for good
        (f"start={H0 + 5}&end={H0}", "before start"),
        (f"start={H0}&end={H0 + 5}&speed=fast", "not a number"),
        (f"start={H0}&end={H0 + 5}&speed=-1", "between 0"),
        (f"start={H0}&end={H0 + 5}&speed=inf", "between 0"),
    ],
)
async def test_bad_playback_params_are_400(recordings_client: Client, query: str, message: str) -> None:
    await record(recordings_client, "cam1", 1)
    body = await get_json(recordings_client, f"/devices/cam1/playback.mjpg?{query}", 400)
    assert message in body["error"]
    if "speed" not in query:
        body = await get_json(recordings_client, f"/devices/cam1/recording.mjpg?{query}", 400)
        assert message in body["error"]


async def test_download_needs_an_end(recordings_client: Client) -> None:
    await record(recordings_client, "cam1", 1)
    body = await get_json(recordings_client, f"/devices/cam1/recording.mjpg?start={H0}", 400)
    assert "missing 'end'" in body["error"]


async def test_list_recordings(recordings_client: Client) -> None:
    sent = await record(recordings_client, "cam1", 4, step=0.25)
    body = await get_json(recordings_client, "/api/v1/devices/cam1/recordings")
    assert body["deviceId"] == "cam1" and body["recording"] is True
    assert body["frames"] == 4 and body["bytes"] == sum(map(len, sent))
    assert body["spans"] == [
        {
            "file": "cam1/2024-05-01/12.mjpg",
            "start": H0,
            "end": H0 + 0.75,
            "startIso": "2024-05-01T12:00:00.000Z",
            "endIso": "2024-05-01T12:00:00.750Z",
            "frames": 4,
            "bytes": sum(map(len, sent)),
        }
    ]
    empty = await get_json(recordings_client, "/api/v1/devices/cam2/recordings")
    assert empty == {"deviceId": "cam2", "recording": False, "frames": 0, "bytes": 0, "spans": []}


async def test_toggle_recording(recordings_client: Client) -> None:
    rec = recordings_client.app[RECORDER]
    response = await recordings_client.post("/api/v1/devices/cam2/recording", json={"enabled": True})
    assert response.status == 200
    assert await response.json() == {"deviceId": "cam2", "recording": True}
    assert rec.wants("cam2")
    assert (await get_json(recordings_client, "/api/v1/devices/cam2/recordings"))["recording"] is True
    response = await recordings_client.post("/api/v1/devices/cam1/recording", json={"enabled": False})
    assert await response.json() == {"deviceId": "cam1", "recording": False}
    assert not rec.wants("cam1")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "body is not valid JSON"),
        (b'{"enabled": "yes"}', '"enabled" must be true or false'),
        (b'{"enabled": 1}', '"enabled" must be true or false'),
        (b"[true]", "body must be a JSON object"),
        (b"{}", '"enabled" must be true or false'),
    ],
)
async def test_bad_toggle_is_400(recordings_client: Client, body: bytes, message: str) -> None:
    response = await recordings_client.post(
        "/api/v1/devices/cam1/recording", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert message in (await response.json())["error"]
    assert recordings_client.app[RECORDER].wants("cam1")


async def test_encoded_device_id_reaches_its_own_recording(recordings_client: Client) -> None:
    rec = recordings_client.app[RECORDER]
    await rec.record("a/b", 1, None, H0, JPEGS[0])
    await rec.record("a_b", 1, None, H0, JPEGS[1])
    response = await recordings_client.get(f"/devices/a%2Fb/recording.mjpg?start={H0}&end={H0 + 1}")
    assert [jpeg for _, jpeg in parse_mjpeg(await response.read())] == [JPEGS[0]]
    body = await get_json(recordings_client, "/api/v1/devices/a%2Fb/recordings")
    assert [s["file"] for s in body["spans"]] == ["a%2Fb/2024-05-01/12.mjpg"]


async def test_viewer_leaving_mid_playback_does_not_hurt_the_next(
    recordings_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    await record(recordings_client, "cam1", 10, step=0.05)
    response = await recordings_client.get(f"/devices/cam1/playback.mjpg?start={H0}&end={H0 + 5}&speed=1")
    await response.content.readexactly(200)
    response.close()
    response = await recordings_client.get(f"/devices/cam1/playback.mjpg?start={H0}&end={H0 + 5}&speed=1")
    assert len(parse_mjpeg(await response.read())) == 10  # outlasts the first one's schedule
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_frame_delay_paces_by_the_capture_clock_and_compresses_gaps() -> None:
    def at(t: float, capture_ms: int | None) -> Frame:
        return Frame(t, None, capture_ms, b"")

    assert frame_delay(at(10.0, 1000), at(10.13, 1100)) == pytest.approx(0.1)  # network jitter ignored
    assert frame_delay(at(10.0, None), at(3610.0, None)) == 2.0  # camera was offline for an hour
    assert frame_delay(at(10.0, None), at(9.0, None)) == 0.0  # hub clock stepped back
