"""camhub.recording.layout: device folders that stay inside the root and apart, UTC hour files, and recordings
that version 0.2.0 wrote (testkit/fixtures/recordings-0.2.0) still recovered, retained and read."""

from __future__ import annotations

from pathlib import Path

import pytest

from camhub.recording import Recorder
from camhub.recording.layout import device_dirname, hour_path
from testkit.recordings import H0, all_frames, assert_consistent, fixture_0_2_0


def test_device_dirname_keeps_paths_inside_and_ids_apart() -> None:
    assert device_dirname("cam-01_a.b") == "cam-01_a.b"
    assert device_dirname("..") == "%2E."
    assert device_dirname(".hidden") == "%2Ehidden"
    assert device_dirname("../../etc/passwd") == "%2E.%2F..%2Fetc%2Fpasswd"
    assert device_dirname("a/b") != device_dirname("a_b") != device_dirname("a%2Fb")
    assert device_dirname("a\\b:c") == "a%5Cb%3Ac"
    assert device_dirname("caméra") == "cam%C3%A9ra"
    for bad in ("", "x" * 201, "é" * 40):
        with pytest.raises(ValueError):
            device_dirname(bad)


def test_hour_path_is_utc_hour_of_arrival() -> None:
    assert hour_path("cam1", H0 - 0.001) == "cam1/2024-05-01/11.mjpg"
    assert hour_path("cam1", H0) == "cam1/2024-05-01/12.mjpg"
    assert hour_path("a/b", H0 + 12 * 3600) == "a%2Fb/2024-05-02/00.mjpg"


async def test_recordings_written_by_0_2_0_are_recovered_retained_and_read(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    frames = fixture_0_2_0(root)
    torn = root / "cam1/2024-05-01/12.mjpg"
    assert torn.stat().st_size > sum(map(len, frames[40:]))
    now = [H0 + 60]
    rec = Recorder(root, record={"cam1"}, retention_s=72 * 3600, clock=lambda: now[0])
    await rec.start()  # recovery cuts the half-written frame the index does not name
    assert torn.stat().st_size == sum(map(len, frames[40:]))
    assert [f.jpeg for f in await all_frames(rec, "cam1")] == frames
    assert [f.capture_ms for f in await all_frames(rec, "cam1", H0 + 30, H0 + 30)] == [50_000 + 50 * 40 + 30_000]
    assert [(s.start, s.frames) for s in await rec.timeline("cam1", H0 - 3600, H0 + 3600)] == [
        (H0 - 2, 40),
        (H0 + 30, 40),
    ]
    await rec.record("cam1", 80, None, H0 + 40, frames[0])  # goes on in the old hour file
    assert [s.path for s in await rec.spans("cam1")] == ["cam1/2024-05-01/11.mjpg", "cam1/2024-05-01/12.mjpg"]
    rec.set_recording("cam1", False)
    now[0] = H0 + 73 * 3600
    assert await rec.enforce_retention() == 2
    await rec.close()
    assert not (root / "cam1").exists()
    assert_consistent(root)
