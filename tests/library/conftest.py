"""Fixtures of the library tests: a folder of generated tracks and junk files."""

from __future__ import annotations

from pathlib import Path

import pytest
from lib_signals import chord_track, click_track, write_wav


@pytest.fixture
def music_dir(tmp_path: Path) -> Path:
    """A folder of three short generated tracks (wav + flac), a text file and a fake .mp3."""
    d = tmp_path / "music"
    write_wav(d / "clicks_120.wav", click_track(120, 12))
    write_wav(d / "sub" / "c_major.flac", chord_track(60, False, 12))
    write_wav(d / "sub" / "a_minor.wav", chord_track(57, True, 12))
    (d / "notes.txt").write_text("not music")
    (d / "broken.mp3").write_bytes(b"this is not an mp3 file at all" * 100)
    return d
