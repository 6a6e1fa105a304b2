"""camhub.export.formats: the three formats, found by name or file name, and their size estimates."""

from __future__ import annotations

import pytest

from camhub.export import formats
from camhub.export.formats import CONTAINER_BYTES, FORMATS, MP4_RATIO


def test_formats_by_name_and_by_file_name() -> None:
    assert list(FORMATS) == ["mp4", "mkv", "avi"]
    assert formats.get("MP4") is FORMATS["mp4"]
    with pytest.raises(ValueError, match="format='mov' is not one of mp4, mkv, avi"):
        formats.get("mov")
    assert formats.for_path("/x/clip.Mkv") is FORMATS["mkv"]
    assert formats.for_path("clip.mov") is None
    assert [f.reencode for f in FORMATS.values()] == [True, False, False]
    assert [f.mime for f in FORMATS.values()] == ["video/mp4", "video/x-matroska", "video/x-msvideo"]


def test_size_estimates() -> None:
    frames, source = 1800, 90_000_000
    assert FORMATS["mkv"].estimate(frames, source) == source + frames * 16 + CONTAINER_BYTES
    assert FORMATS["avi"].estimate(frames, source) == source + frames * 24 + CONTAINER_BYTES
    assert FORMATS["mp4"].estimate(frames, source) == round(source * MP4_RATIO) + frames * 16 + CONTAINER_BYTES
