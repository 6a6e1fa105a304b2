"""camstream.stats: the console block and the rating thresholds."""

import pytest

from camstream.stats import HEADER, Stats, rating

NO_ADAPTATION = ("HD q6 (adapt off; 0 change(s), 0 reconfigure(s))", "not measured (CAMSTREAM_ADAPT = off)", "none")


@pytest.mark.parametrize(
    "fps,label",
    [
        (30, "EXCELLENT"),
        (25, "EXCELLENT"),
        (24.9, "GOOD"),
        (15, "GOOD"),
        (14.9, "MODERATE"),
        (8, "MODERATE"),
        (7.9, "NEEDS OPTIMIZATION"),
        (0, "NEEDS OPTIMIZATION"),
    ],
)
def test_rating_thresholds(fps, label):
    assert rating(fps) == label


def test_block_lines_and_values():
    stats = Stats(now_ms=1000)
    for _ in range(50):
        stats.frame_sent(40 * 1024)
    stats.frame_dropped()
    stats.error("timeout")
    stats.error("timeout")
    stats.error("camera")
    adaptation = ("VGA q31 (adapt fps; 1 change(s), 1 reconfigure(s))", "~245 KB/s, sending 84% of the time", "none")
    lines = stats.report(6000, 30, adaptation, 150 * 1024, 2048 * 1024, -61, 240, 41.26)
    assert lines == [
        HEADER,
        "Runtime: 0h 00m 05s",
        "FPS: 10.0 (target 30)",
        "Frames total: 51",
        "Frames sent: 50",
        "Frames dropped: 1",
        "Success rate: 98.0%",
        "Average frame: 40.0 KB",
        "Throughput: 400.0 KB/s",
        "Picture: VGA q31 (adapt fps; 1 change(s), 1 reconfigure(s))",
        "Link: ~245 KB/s, sending 84% of the time",
        "Last change: none",
        "Free heap: 150.0 KB",
        "Free PSRAM: 2048.0 KB",
        "WiFi RSSI: -61 dBm",
        "CPU: 240 MHz, 41.3 C",
        "Rating: MODERATE",
        "Errors: camera=1, timeout=2",
    ]
    assert all(": " in text for text in lines[1:])


def test_window_resets_but_totals_and_runtime_accumulate_across_the_wrap():
    start = (1 << 29) - 2000
    stats = Stats(now_ms=start)
    for _ in range(30):
        stats.frame_sent(1000)
    stats.report(start + 1000, 30, NO_ADAPTATION, 0, None, None, 240, None)
    assert stats.fps == 30.0
    lines = stats.report(3000, 30, NO_ADAPTATION, 0, None, None, 240, None)  # wrapped: 5000 ms after start
    assert "FPS: 0.0 (target 30)" in lines
    assert "Frames total: 30" in lines and "Runtime: 0h 00m 05s" in lines
    assert "Free PSRAM: n/a" in lines and "WiFi RSSI: n/a" in lines and "CPU: 240 MHz" in lines
    assert "Errors: none" in lines and "Rating: NEEDS OPTIMIZATION" in lines


def test_error_returns_running_count():
    stats = Stats(0)
    assert [stats.error("dns"), stats.error("dns"), stats.error("auth")] == [1, 2, 1]
