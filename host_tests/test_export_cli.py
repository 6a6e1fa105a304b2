"""`camhub export` as users run it (a subprocess): from a hub's data dir, while that hub records or not; times as
unix seconds or ISO 8601; JSON progress for scripts; clear errors that change nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from camhub.recording import Recorder
from testkit.players import FFPROBE, probe
from testkit.recordings import H0, record_run

ROOT = Path(__file__).resolve().parent.parent

if not Path(FFPROBE).exists() and os.environ.get("CI") != "true":
    pytest.skip(f"{FFPROBE} is missing (apt-get install ffmpeg); required when CI=true", allow_module_level=True)


def camhub_export(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camhub", "export", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
async def data_dir(tmp_path: Path) -> Path:
    """A hub data dir with 3 s of cam1 at 20 fps from 12:00:00 UTC, the hub stopped."""
    rec = Recorder(tmp_path / "data" / "recordings", record={"all"}, clock=lambda: H0)
    await rec.start()
    await record_run(rec, "cam1", H0, 60, 20)
    await rec.close()
    return tmp_path / "data"


def test_exports_a_range_given_in_iso_8601(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    done = camhub_export(
        *("--data-dir", str(data_dir), "--device", "cam1", "-o", str(out)),
        *("--start", "2024-05-01T14:00:00+02:00", "--end", "2024-05-01T12:00:01.95Z"),
    )
    assert done.returncode == 0, done.stderr
    assert "exporting 40 frames of cam1 (2024-05-01T12:00:00.000Z to 2024-05-01T12:00:01.950Z" in done.stderr
    assert f"{out}: 40 frames, 2.00 s of video" in done.stdout
    info = probe(out)
    assert (info.codec, info.frames, info.duration_s) == ("h264", 40, pytest.approx(2.0, rel=0.02))


def test_json_progress_for_scripts_and_the_format_flag(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip.bin"
    done = camhub_export(
        *("--data-dir", str(data_dir), "--device", "cam1", "--start", str(H0), "--end", str(H0 + 10)),
        *("--format", "avi", "-o", str(out), "--progress", "json"),
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[-1]["done"] is True and lines[-1]["format"] == "avi"
    assert (lines[-1]["frames"], lines[-1]["durationS"], lines[-1]["bytes"]) == (60, 3.0, out.stat().st_size)
    assert all(line["total"] == 60 for line in lines[:-1]) and lines[-2]["frames"] == 60
    assert probe(out).container == "avi" and done.stderr == ""


async def test_exports_beside_a_hub_that_is_recording(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "data" / "recordings", record={"all"}, clock=lambda: H0)
    await rec.start()  # holds the recording lock, as a running hub does
    try:
        await record_run(rec, "cam1", H0, 20, 10)
        done = camhub_export(
            *("--data-dir", str(tmp_path / "data"), "--device", "cam1", "--start", str(H0)),
            *("--end", str(H0 + 60), "-o", str(tmp_path / "live.mkv")),
        )
    finally:
        await rec.close()
    assert done.returncode == 0, done.stderr
    assert probe(tmp_path / "live.mkv").frames == 20


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--start", "noon"), 2, "start='noon' is neither unix seconds nor ISO 8601"),
        (("-o", "clip.mov"), 2, "cannot tell the format from 'clip.mov'"),
        (("--device", "cam2"), 1, "camhub export: nothing recorded for device 'cam2' between"),
        (("--end", str(H0 - 5)), 1, "must be after start"),
        (("--end", str(H0 + 2 * 86400)), 1, "a range is at most 24 hours"),
        (("--nice", "-5"), 2, "argument --nice: must be 0..19, got '-5'"),
    ],
)
def test_bad_requests_are_refused_clearly(
    data_dir: Path, tmp_path: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    given = dict(zip(args[::2], args[1::2], strict=True))
    settings = {"--device": "cam1", "--start": str(H0), "--end": str(H0 + 5), "-o": str(tmp_path / "x.mkv")}
    settings.update(given)
    done = camhub_export("--data-dir", str(data_dir), *(part for pair in settings.items() for part in pair))
    assert done.returncode == code
    assert message in done.stderr
    assert not list(tmp_path.glob("x.*")) and not (ROOT / "clip.mov").exists()


def test_an_existing_file_is_kept_unless_overwrite(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "keep.mkv"
    out.write_bytes(b"mine")
    args = ("--data-dir", str(data_dir), "--device", "cam1", "--start", str(H0), "--end", str(H0 + 5), "-o", str(out))
    done = camhub_export(*args)
    assert done.returncode == 1 and "exists (use --overwrite to replace it)" in done.stderr
    assert out.read_bytes() == b"mine"
    assert camhub_export(*args, "--overwrite").returncode == 0
    assert probe(out).frames == 60


def test_a_data_dir_without_recordings(tmp_path: Path) -> None:
    done = camhub_export(
        *("--data-dir", str(tmp_path), "--device", "cam1", "--start", "0", "--end", "5", "-o", str(tmp_path / "a.mp4"))
    )
    assert done.returncode == 1
    assert f"camhub export: nothing was ever recorded in {tmp_path} (no recordings/index.db)" in done.stderr
    assert not (tmp_path / "recordings").exists()
