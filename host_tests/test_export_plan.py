"""camhub.export.plan: which ranges may be exported, and what an export will hold before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from camhub.export import FORMATS, NothingRecorded, check_range, estimate
from camhub.recording import Recorder
from camhub.recording.reader import Reader
from testkit.recordings import H0, record_run


def test_ranges_must_run_forward_and_last_at_most_a_day() -> None:
    check_range(H0, H0 + 86400)
    with pytest.raises(ValueError, match=r"end \(2024-05-01T12:00:00.000Z\) must be after start"):
        check_range(H0, H0)
    with pytest.raises(ValueError, match="at most 24 hours, got 24.0"):
        check_range(H0, H0 + 86400.5)


async def test_estimate_counts_the_range_from_the_index(recorder: Recorder, tmp_path: Path) -> None:
    times = await record_run(recorder, "cam1", H0 - 1, 60, 30)
    reader = Reader(tmp_path / "rec")
    try:
        planned = estimate(reader, "cam1", H0 - 10, H0 + 10, FORMATS["mkv"])
        recorded = sum(len(f.jpeg) for f in reader.frames("cam1", 0, 2e9))
        assert (planned.frames, planned.source_bytes) == (60, recorded)
        assert (planned.first_time, planned.last_time) == (times[0], times[-1])
        assert planned.bytes == FORMATS["mkv"].estimate(60, recorded)
        with pytest.raises(NothingRecorded, match="nothing recorded for device 'cam2' between"):
            estimate(reader, "cam2", H0 - 10, H0 + 10, FORMATS["mp4"])
    finally:
        reader.close()
