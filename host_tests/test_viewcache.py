"""camhub.viewcache: views over every device are rendered at most once per interval, however many clients poll."""

import asyncio
import gzip
import time

from camhub import viewcache
from camhub.keys import VIEWS
from camhub.viewcache import ViewCache
from testkit.hubs import post_frame


def test_one_rendering_per_interval(manual_clock):
    cache = ViewCache(1.0, manual_clock)
    renders = []

    def render():
        renders.append(manual_clock.now)
        return str(len(renders)).encode()

    assert [cache.get("devices", render).body for _ in range(100)] == [b"1"] * 100
    manual_clock.now += 0.99
    assert cache.get("devices", render).body == b"1"
    manual_clock.now += 0.01
    assert cache.get("devices", render).body == b"2"
    assert cache.get("metrics", render).body == b"3"  # each view on its own
    view = cache.get("metrics", render)
    assert gzip.decompress(view.gzipped()) == b"3" and view.gzipped() is view.gzipped()  # compressed once


def test_the_cache_is_bounded(manual_clock, monkeypatch):
    monkeypatch.setattr(viewcache, "MAX_VIEWS", 10)
    cache = ViewCache(1.0, manual_clock)
    for n in range(100):
        cache.get(f"page {n}", lambda: b"x")
    assert len(cache._views) == 10


async def test_polling_clients_share_renderings(hub_factory, client):
    """Issue 10: with 10k devices four clients looping /api/v1/devices cut the cameras to 8% of their rate."""
    hub = await hub_factory(views_max_age_s=1.0)
    assert (await post_frame(client, hub.url))[0] == 200
    ends = time.monotonic() + 1.5

    async def poll(path):
        count = 0
        while time.monotonic() < ends:
            async with client.get(f"{hub.url}{path}") as response:
                assert response.status == 200
                await response.read()
            count += 1
        return count

    counts = await asyncio.gather(*(poll(path) for path in ("/api/v1/devices", "/metrics") * 2))
    assert sum(counts) > 40
    assert hub.app[VIEWS].renders <= 2 * 3  # two views, at most one rendering per second each


async def test_the_device_list_comes_in_pages_gzipped_on_request(hub_factory, client):
    hub = await hub_factory()
    for n in range(450):
        assert (await post_frame(client, hub.url, device=f"d{n:03d}"))[0] == 200
    seen, url = [], "/api/v1/devices"
    while url:
        async with client.get(f"{hub.url}{url}") as response:
            assert response.headers["Content-Encoding"] == "gzip"  # aiohttp's client asks for it and unpacks it
            page = await response.json()
        assert page["total"] == 450 and len(page["devices"]) <= 200
        seen += [d["deviceId"] for d in page["devices"]]
        url = page["next"]
    assert seen == [f"d{n:03d}" for n in range(450)]
    async with client.get(f"{hub.url}/api/v1/devices?offset=440&limit=5", headers={"Accept-Encoding": "identity"}) as r:
        page = await r.json()
        assert "Content-Encoding" not in r.headers and [d["deviceId"] for d in page["devices"]] == [
            f"d{n}" for n in range(440, 445)
        ]
    for query in ("limit=0", "limit=1001", "offset=-1", "offset=1e3", "limit=" + "9" * 5000):
        async with client.get(f"{hub.url}/api/v1/devices?{query}") as response:
            assert response.status == 400 and "query parameter" in (await response.json())["error"]
