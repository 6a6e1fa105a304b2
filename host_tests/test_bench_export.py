"""The export benchmark (bench/export_speed.py): a tiny real run gives a row per format, and the table shows it."""

from __future__ import annotations

from bench import export_speed


def test_a_tiny_run_measures_every_format() -> None:
    rows = export_speed.run(((160, 120),), 1.0)
    assert [(row["format"], row["reencode"]) for row in rows] == [("mkv", False), ("avi", False), ("mp4", True)]
    for row in rows:
        assert "error" not in row, row
        assert row["frames"] == 30 and abs(row["video_s"] - 1.0) < 0.01
        assert row["speed"] > 0 and row["export_s"] > 0
    assert rows[0]["ratio"] >= 1.0 > rows[2]["ratio"]  # the copy holds every recorded byte; H.264 fewer
    table = export_speed.format_table([*rows, {"size": "1x1", "format": "mp4", "error": "boom"}])
    assert "video s / export s" in table and "FAILED: boom" in table
    assert any(line.startswith("160x120") and " mp4 " in line for line in table.splitlines())
