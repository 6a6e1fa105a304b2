"""camhub.viewcache: views over every device are rendered at most once per interval, however many clients poll."""

import asyncio
import time

from camhub.keys import VIEWS
from camhub.viewcache import ViewCache
from testkit.hubs import post_frame


def test_one_rendering_per_interval(manual_clock):
    cache = ViewCache(1.0, manual_clock)
    renders = []

    def render():
        renders.append(manual_clock.now)
        return str(len(renders)).encode()

    assert [cache.get("devices", render) for _ in range(100)] == [b"1"] * 100
    manual_clock.now += 0.99
    assert cache.get("devices", render) == b"1"
    manual_clock.now += 0.01
    assert cache.get("devices", render) == b"2"
    assert cache.get("metrics", render) == b"3"  # each view on its own


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
