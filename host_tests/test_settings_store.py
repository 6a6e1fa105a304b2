"""camhub.settings_store: versions per camera, kept in the registry's SQLite file, and what heartbeats are sent."""

from camhub.registry import Registry
from camhub.settings_store import SettingsStore


async def test_versions_move_on_only_when_the_settings_change(tmp_path):
    store = SettingsStore(tmp_path / "registry.sqlite3", clock=lambda: 1000.0)
    await store.open()
    assert store.get("cam1").version == 0
    assert (await store.put("cam1", {})).version == 0  # nothing wanted, nothing to version
    first = await store.put("cam1", {"vflip": True})
    assert (first.version, first.values, first.updated_at) == (1, {"vflip": True}, 1000.0)
    assert (await store.put("cam1", {"vflip": True})) is first
    assert (await store.put("cam1", {"vflip": False})).version == 2
    assert (await store.put("cam2", {"quality": 20})).version == 1
    await store.close()


async def test_kept_beside_the_registry_and_reloaded(tmp_path):
    path = tmp_path / "registry.sqlite3"
    registry = Registry(path)
    await registry.open()
    store = SettingsStore(path, clock=lambda: 5.0)
    await store.open()
    await store.put("cam1", {"frameSize": "VGA"})
    await store.close()
    await registry.register("cam1", "Front", "camera", "", [])
    await registry.close()
    again = SettingsStore(path, clock=lambda: 6.0)
    await again.open()
    assert again.get("cam1").values == {"frameSize": "VGA"} and again.get("cam1").version == 1
    await again.close()


async def test_heartbeats_get_the_settings_only_when_their_version_differs(tmp_path):
    store = SettingsStore(tmp_path / "registry.sqlite3", clock=lambda: 0.0)
    await store.open()
    await store.put("cam1", {"quality": 15})
    assert store.for_heartbeat("cam1", {"version": 0}) == {"settings": {"version": 1, "values": {"quality": 15}}}
    assert store.for_heartbeat("cam1", {"version": 1}) == {}
    assert store.for_heartbeat("cam1", None) == {}  # firmware without remote settings
    assert store.for_heartbeat("cam1", {"version": True}) == {} and store.for_heartbeat("cam1", "v1") == {}
    assert store.for_heartbeat("cam9", {"version": 4}) == {"settings": {"version": 0, "values": {}}}
    await store.close()
