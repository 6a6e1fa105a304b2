"""camhub.recording.timing: the recorded time between frames (capture clock when it agrees, gaps kept whole), the
times people type, and how times are written back."""

from __future__ import annotations

import pytest

from camhub.recording.timing import compact, iso, parse_time, recorded_step
from testkit.recordings import H0


def test_recorded_step_prefers_the_capture_clock_and_keeps_gaps() -> None:
    assert recorded_step(10.0, 1000, 10.13, 1100) == pytest.approx(0.1)  # network jitter ignored
    assert recorded_step(10.0, None, 10.13, 1100) == pytest.approx(0.13)
    assert recorded_step(10.0, 2**29 - 50, 10.1, 50) == pytest.approx(0.1)  # ticks_ms wrapped
    assert recorded_step(10.0, 900_000, 10.1, 5) == pytest.approx(0.1)  # board rebooted: hub time
    assert recorded_step(10.0, 1000, 3610.0, 1033) == pytest.approx(3600.0)  # offline for an hour: kept
    assert recorded_step(10.0, None, 9.0, None) == pytest.approx(-1.0)  # hub clock stepped back


def test_parse_time_takes_unix_seconds_and_iso_8601() -> None:
    assert parse_time("start", str(H0)) == H0
    assert parse_time("start", " 1714564800.25 ") == H0 + 0.25
    assert parse_time("start", "2024-05-01T12:00:00Z") == H0
    assert parse_time("start", "2024-05-01T12:00:00") == H0  # no zone: UTC
    assert parse_time("start", "2024-05-01T14:00:00+02:00") == H0
    assert parse_time("start", "2024-05-01T14:00:00 02:00") == H0  # '+' decoded as a space
    for raw, message in (
        (None, "missing 'start'"),
        ("  ", "missing 'start'"),
        ("noon", "neither"),
        ("inf", "between 1970 and the year 9999"),
        ("-1", "between 1970"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_time("start", raw)


def test_times_written_back() -> None:
    assert iso(H0 + 0.25) == "2024-05-01T12:00:00.250Z"
    assert compact(H0 + 59.9) == "20240501T120059Z"
