"""camhub.registry: online/offline from inferred heartbeat spacing, counters, SQLite only on flush."""

import asyncio
import sqlite3

import pytest

from camhub.registry import MAX_DROP_GAP, Registry, device_id_problem


def rows(tmp_path):
    with sqlite3.connect(tmp_path / "registry.sqlite3") as db:
        return db.execute("SELECT device_id, frames, drops FROM devices").fetchall()


async def test_offline_after_three_inferred_intervals(registry):
    clock = registry.clock
    await registry.register("cam1", "Cam", "camera", "10.0.0.2", [])
    device = registry.get("cam1")
    assert registry.heartbeat_interval(device) == 10.0  # default until heartbeats show the real spacing
    for _ in range(4):
        clock.now += 2.0
        registry.heartbeat("cam1", 1, 2, -50, "online", {})
    assert registry.heartbeat_interval(device) == 2.0
    clock.now += 5.9
    assert registry.is_online(device)
    clock.now += 0.2
    assert not registry.is_online(device)
    registry.frame("cam1", 1, None, 100, 8, 8, clock.now)  # any traffic brings it back
    assert registry.is_online(device)


async def test_a_missed_heartbeat_does_not_stretch_the_interval(registry):
    clock = registry.clock
    await registry.register("cam1", "Cam", "camera", "", [])
    for gap in (10, 10, 10, 30, 10):
        clock.now += gap
        registry.heartbeat("cam1", None, None, None, None, {})
    assert registry.heartbeat_interval(registry.get("cam1")) == 10


async def test_counters_stay_in_memory_until_flush(registry, tmp_path):
    clock = registry.clock
    for seq in (7, 8, 11, 12, 3):  # 2 lost after 8; 3 after 12 is a reboot, not a loss
        registry.frame("cam1", seq, None, 1000, 16, 16, clock.now)
    registry.reject("cam1")
    registry.reject("ghost")
    device = registry.get("cam1")
    assert (device.frames, device.bytes, device.drops, device.rejects, device.implicit) == (5, 5000, 2, 1, True)
    assert rows(tmp_path) == []
    await registry.flush()
    assert rows(tmp_path) == [("cam1", 5, 2)]
    assert registry.get("ghost") is None


async def test_fps_and_stopped_stream(registry):
    clock = registry.clock
    for _ in range(11):
        registry.frame("cam1", None, None, 10, 1, 1, clock.now)
        clock.now += 0.1
    assert registry.get("cam1").fps(clock.now) == pytest.approx(10.0)
    assert registry.get("cam1").fps(clock.now + 5) == 0.0


async def test_latency_is_delay_beyond_the_fastest_frame(registry):
    clock = registry.clock
    base = clock.now
    for capture_ms, arrival_delay_ms in ((1000, 50), (1100, 20), (1200, 80)):
        registry.frame("cam1", None, capture_ms, 10, 1, 1, base + (capture_ms + arrival_delay_ms) / 1000)
    assert registry.get("cam1").latency_ms == pytest.approx(60.0, abs=0.01)
    registry.frame("cam1", None, 5, 10, 1, 1, base + 2)  # board rebooted: new clock base
    assert registry.get("cam1").latency_ms == 0.0


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("cam-1", True),
        ("a.b_c:d", True),
        ("x" * 64, True),
        ("", False),
        ("x" * 65, False),
        ("../x", False),
        ("a b", False),
        (5, False),
    ],
)
def test_device_id_rules(value, ok):
    assert (device_id_problem(value) is None) == ok


def full_disk(rows):
    """Registry._write on a disk that is full."""
    raise sqlite3.OperationalError("database or disk is full")


async def test_a_failed_save_is_kept_reported_and_retried(registry, tmp_path, monkeypatch):
    """Issue 10: one failed save used to end the periodic saving for good and drop what it held."""
    await registry.register("cam1", "Cam", "camera", "", [])
    registry.frame("cam1", 1, None, 1000, 16, 16, registry.clock.now)
    write = registry._write

    monkeypatch.setattr(registry, "_write", full_disk)
    assert await registry.flush() is False
    assert registry.save_error == "OperationalError: database or disk is full"
    registry.frame("cam1", 2, None, 1000, 16, 16, registry.clock.now)
    assert await registry.flush() is False  # still failing: nothing lost, nothing raised
    monkeypatch.setattr(registry, "_write", write)
    assert await registry.flush() is True
    assert registry.save_error is None
    assert rows(tmp_path) == [("cam1", 2, 0)]


async def test_a_final_save_that_fails_is_logged_and_shutdown_goes_on(registry, monkeypatch, caplog):
    """Issue 10: SIGTERM after a failed save ended the hub with exit status 1 and no word of what was lost."""
    await registry.register("cam1", "Cam", "camera", "", [])
    registry.frame("cam1", 1, None, 1000, 16, 16, registry.clock.now)

    monkeypatch.setattr(registry, "_write", full_disk)
    await registry.close()  # raises nothing: the hub's shutdown goes on to the recorder and exits 0
    assert "registry: 1 devices' latest changes are not saved: OperationalError: database or disk is full" in (
        caplog.text
    )


async def test_a_new_device_is_saved_at_once(registry, tmp_path):
    """A camera killed seconds after its first frame must not vanish from the registry while its recordings stay."""
    registry.frame("fresh", 1, None, 1000, 16, 16, registry.clock.now)
    for _ in range(50):
        await asyncio.sleep(0.02)
        if rows(tmp_path):
            break
    assert rows(tmp_path) == [("fresh", 1, 0)]


async def test_a_huge_seq_jump_is_a_new_count_not_lost_frames(registry):
    registry.frame("cam1", 5, None, 10, 1, 1, registry.clock.now)
    registry.frame("cam1", 2**53 - 1, None, 10, 1, 1, registry.clock.now)
    registry.frame("cam1", 5 + MAX_DROP_GAP + 2, None, 10, 1, 1, registry.clock.now)
    registry.frame("cam1", 5 + MAX_DROP_GAP + 4, None, 10, 1, 1, registry.clock.now)
    assert registry.get("cam1").drops == 1


async def test_non_finite_numbers_stored_by_an_older_hub_are_read_back_as_null(tmp_path, manual_clock):
    first = Registry(tmp_path / "registry.sqlite3", default_interval_s=10.0, clock=manual_clock)
    await first.open()
    await first.register("cam1", "Cam", "camera", "", [])
    await first.close()
    with sqlite3.connect(tmp_path / "registry.sqlite3") as db:
        db.execute("UPDATE devices SET heartbeat_extra = ?", ('{"fps": NaN, "t": [Infinity, 1]}',))
    again = Registry(tmp_path / "registry.sqlite3", default_interval_s=10.0, clock=manual_clock)
    await again.open()
    assert again.get("cam1").heartbeat_extra == {"fps": None, "t": [None, 1]}
    await again.close()
