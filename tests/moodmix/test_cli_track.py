"""`moodmix mix --track ID --music-db X` (issue 14): a catalog track by id, the music level against the preset;
bad values are one line and exit 1 with no output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moodmix.cli import main
from tests.signals import write_audio

pytestmark = pytest.mark.ffmpeg


def _run(capsys, *args: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as ex:
        main(["mix", *args])
    return int(ex.value.code or 0), capsys.readouterr().err


@pytest.fixture
def voice_file(tmp_path, emodb_speech) -> Path:  # type: ignore[no-untyped-def]
    audio, sr = emodb_speech
    return write_audio(tmp_path / "voice.flac", audio[:, : int(7 * sr)], sr)


@pytest.mark.parametrize(("args", "words"), [
    (("--track", "no-such-track"), "not in the music catalog"),
    (("--music-db", "13"), "--music-db must be between -12 and 12 dB"),
    (("--track", "x", "--music", "m.wav"), "not both"),
])
def test_bad_track_or_level(tmp_path, capsys, voice_file, args, words) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out.wav"
    code, err = _run(capsys, str(voice_file), "-o", str(out), *args)
    assert code == 1 and words in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_track_and_music_level(tmp_path, capsys, voice_file) -> None:  # type: ignore[no-untyped-def]
    from library.catalog import default_catalog

    track = default_catalog().tracks()[2]
    reports = {}
    for db in ("0", "-6"):
        rep = tmp_path / f"r{db}.json"
        code, err = _run(capsys, str(voice_file), "-o", str(tmp_path / f"o{db}.wav"), "--track", track.id,
                         "--music-db", db, "--report", str(rep))
        assert code == 0, err
        reports[db] = json.loads(rep.read_text())
    assert all(r["music"]["track"] == track.id for r in reports.values())
    assert reports["-6"]["mix"]["music_db"] == -6.0
    diff = reports["-6"]["mix"]["speech_to_music_db"] - reports["0"]["mix"]["speech_to_music_db"]
    assert diff == pytest.approx(6.0, abs=0.75)
