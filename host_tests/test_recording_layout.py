"""camhub.recording.layout: device folders that stay inside the root and apart, UTC hour files."""

from __future__ import annotations

import pytest

from camhub.recording.layout import device_dirname, hour_path
from testkit.recordings import H0


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
