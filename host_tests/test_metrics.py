"""camhub.metrics: Prometheus text with per-device counters and fan-out figures."""

import shutil
import subprocess

import pytest

from testkit.hubs import HEARTBEAT, REGISTER, post_frame, post_json
from testkit.jpegs import make_jpeg


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


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus) is installed by make test")
async def test_promtool_accepts_the_metrics(hub, client):
    await post_frame(client, hub.url, make_jpeg("promtool"), seq=1, **{"X-Capture-Ms": "1000"})
    viewer = await client.get(f"{hub.url}/devices/cam1/stream.mjpg")
    async with client.get(f"{hub.url}/metrics") as response:
        text = await response.text()
    viewer.close()
    assert "camhub_device_latency_seconds" in text and "camhub_viewer_kernel_queued_bytes" in text
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), done.stdout + done.stderr
