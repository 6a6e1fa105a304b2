"""The viewer pages in Debian's chromium (Playwright): the dashboard lists the camera, the live view moves."""

import asyncio
import os
from pathlib import Path

import aiohttp
import pytest

from testkit.browser import CHROMIUM, OUTPUT
from testkit.jpegs import make_jpeg

if not Path(CHROMIUM).exists() and os.environ.get("CI") != "true":
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); required when CI=true", allow_module_level=True)

from testkit.hubs import post_frame


async def camera(client, url, stop: asyncio.Event):
    """A test camera: ~8 fps of Pillow JPEGs with the frame number drawn in."""
    n = 0
    while not stop.is_set():
        status, _ = await post_frame(client, url, make_jpeg(f"frame {n}", size=(320, 240)), device="cam1", seq=n)
        assert status == 200
        n += 1
        await asyncio.sleep(0.12)


async def test_dashboard_and_live_view(hub, client, browser):
    url = hub.url
    async with client.post(
        f"{url}/api/v1/devices/register",
        headers={"X-API-Key": "test-key"},
        json={"deviceId": "cam1", "deviceName": "Front door"},
    ) as response:
        assert response.status == 200
    stop = asyncio.Event()
    feeder = asyncio.create_task(camera(client, url, stop))
    try:
        page = await browser.new_page()
        await page.goto(f"{url}/")
        tile = page.locator('article[data-device="cam1"]')
        await tile.locator(".status", has_text="online").wait_for(timeout=10_000)
        assert await tile.locator(".name").inner_text() == "Front door"
        await page.wait_for_function(
            "document.querySelector('article[data-device=\"cam1\"] img').naturalWidth === 320", timeout=10_000
        )
        OUTPUT.mkdir(exist_ok=True)
        await page.screenshot(path=str(OUTPUT / "dashboard.png"))

        await tile.locator("a.name").click()
        await page.wait_for_url(f"{url}/devices/cam1")
        live = page.locator("#live")
        await page.wait_for_function("document.getElementById('live').naturalWidth === 320", timeout=10_000)
        first = await live.screenshot()
        changed = False
        for _ in range(30):
            await asyncio.sleep(0.2)
            if await live.screenshot() != first:
                changed = True
                break
        assert changed, "the live view's image did not change while the camera was sending"
        await page.locator("#stats dd", has_text="320×240").wait_for(timeout=5_000)
        await page.screenshot(path=str(OUTPUT / "live-view.png"))
    finally:
        stop.set()
        await feeder
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        assert 'camhub_viewers_dropped_total{device="cam1"} 0' in await response.text()


async def test_recordings_section_toggles_lists_plays_and_downloads(hub, client, browser):
    url = hub.url
    assert (await post_frame(client, url, make_jpeg("first", size=(320, 240)), device="cam1"))[0] == 200
    stop = asyncio.Event()
    feeder = asyncio.create_task(camera(client, url, stop))
    try:
        page = await browser.new_page()
        await page.goto(f"{url}/devices/cam1")
        toggle = page.locator("#rec-toggle")
        await page.locator("#no-spans").wait_for(timeout=10_000)
        assert await toggle.is_enabled() and not await toggle.is_checked()
        await toggle.check()
        await page.locator("#rec-summary", has_text="recording ·").wait_for(timeout=5_000)
        async with client.get(f"{url}/api/v1/devices/cam1/recordings") as response:
            assert (await response.json())["recording"] is True
        span = page.locator("#spans button").first
        await span.wait_for(timeout=10_000)
        assert await page.locator("#no-spans").is_hidden()
        await span.click()
        await page.wait_for_function("document.getElementById('playback').naturalWidth === 320", timeout=10_000)
        href = await page.locator("#download").get_attribute("href")
        assert href.startswith("/devices/cam1/recording.mjpg?start=")
        download = await page.request.get(f"{url}{href}")
        assert download.ok and download.headers["content-type"].startswith("multipart/x-mixed-replace")
        assert (await download.body()).count(b"Content-Type: image/jpeg") >= 1
        OUTPUT.mkdir(exist_ok=True)
        await page.screenshot(path=str(OUTPUT / "recordings.png"), full_page=True)
        await toggle.uncheck()
        await page.locator("#rec-summary", has_text="not recording").wait_for(timeout=5_000)
    finally:
        stop.set()
        await feeder
    async with client.get(f"{url}/api/v1/devices/cam1/recordings") as response:
        assert (await response.json())["recording"] is False
