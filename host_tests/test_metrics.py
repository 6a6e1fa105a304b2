"""camhub.metrics: Prometheus text with per-device counters and fan-out figures."""

from testkit.hubs import HEARTBEAT, REGISTER, post_frame, post_json


async def test_metrics_exposition(hub, client):
    url = hub.url
    await post_json(client, url, "/api/v1/devices/register", {**REGISTER, "deviceName": 'Say "hi"'})
    await post_json(client, url, "/api/v1/devices/heartbeat", HEARTBEAT)
    for seq in (1, 3):
        await post_frame(client, url, seq=seq)
    await post_frame(client, url, b"junk")
    async with client.get(f"{url}/metrics") as response:
        assert response.status == 200 and response.content_type == "text/plain"
        text = await response.text()
    for line in (
        'camhub_device_info{device="cam1",name="Say \\"hi\\"",type="camera"} 1',
        'camhub_device_online{device="cam1"} 1',
        'camhub_frames_total{device="cam1"} 2',
        'camhub_frame_drops_total{device="cam1"} 1',
        'camhub_device_rejects_total{device="cam1"} 1',
        'camhub_device_wifi_rssi_dbm{device="cam1"} -58',
        'camhub_device_uptime_seconds{device="cam1"} 123.456',
        'camhub_viewers{device="cam1"} 0',
        'camhub_rejected_requests_total{status="400"} 1',
    ):
        assert line in text.splitlines(), line
    assert "# TYPE camhub_frames_total counter" in text
