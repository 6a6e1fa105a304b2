"""camhub.demo: hub + supervised camera processes (a stand-in for hostsim here), restarts, clean stop."""

import asyncio
import json
import signal
import sys
import textwrap
import urllib.request

import pytest

from camhub import demo
from testkit.jpegs import make_jpeg

# Stands in for `python -m hostsim CIRCUITPY ...`: registers, then posts frames like the firmware does.
CAMERA = textwrap.dedent("""
    import json, signal, sys, time, urllib.request
    url, key, device, name, jpeg_path, stubborn = sys.argv[1:]
    if stubborn == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    jpeg = open(jpeg_path, "rb").read()
    def post(path, data, kind):
        request = urllib.request.Request(url + path, data=data, method="POST", headers={
            "X-API-Key": key, "Content-Type": kind, "X-Device-Id": device})
        urllib.request.urlopen(request).read()
    post("/api/v1/devices/register", json.dumps({"deviceId": device, "deviceName": name}).encode(),
         "application/json")
    print("registered", device, flush=True)
    while True:
        post("/api/v1/stream/stream", jpeg, "image/jpeg")
        time.sleep(0.05)
""")


def device_list(url):
    with urllib.request.urlopen(f"{url}/api/v1/devices", timeout=5) as response:
        return {d["deviceId"]: d for d in json.loads(response.read())["devices"]}


async def wait_until(predicate, timeout=15.0):
    for _ in range(int(timeout / 0.1)):
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("stubborn", ["0", "1"])
async def test_demo_runs_cameras_restarts_them_and_stops_everything(tmp_path, monkeypatch, capsys, stubborn):
    monkeypatch.setattr(demo, "STOP_GRACE_S", 0.5)
    script = tmp_path / "camera.py"
    script.write_text(CAMERA)
    jpeg = tmp_path / "frame.jpg"
    jpeg.write_bytes(make_jpeg("demo"))

    def command(url, key, device_id, name):
        real = demo.hostsim_command(url, key, device_id, name)
        assert real[1:4] == ["-m", "hostsim", "CIRCUITPY"] and real[real.index("--link-kbps") + 1] == "400"
        return [sys.executable, str(script), url, key, device_id, name, str(jpeg), stubborn]

    ready: list = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        demo.run_demo(stop, 0, tmp_path / "data", command, lambda url, cams: ready.append((url, cams)))
    )
    await wait_until(lambda: bool(ready))
    url, cameras = ready[0]
    await wait_until(lambda: all(d["frames"] > 2 for d in device_list(url).values()) and len(device_list(url)) == 2)
    names = {d["name"] for d in (await asyncio.to_thread(device_list, url)).values()}
    assert names == {"Front door", "Back yard"}

    cameras[0].process.send_signal(signal.SIGKILL)  # a crashed camera comes back
    await wait_until(lambda: cameras[0].starts == 2)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert all(camera.process.returncode is not None for camera in cameras)
    out = capsys.readouterr().out
    assert f"open {url}/" in out and "[demo-cam-1] registered demo-cam-1" in out and "restarting in 1 s" in out
