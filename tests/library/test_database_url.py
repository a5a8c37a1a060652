"""Issue 12 §4: MOODMIX_DATABASE_URL / --database is the catalog every command chooses from, not only
`moodmix library`'s. A PostgreSQL catalog (skipped, with the reason, when no server answers) holds a track tagged
``pgonly``; `mix --mood pgonly` finds it there, and fails by name on the default SQLite catalog, which lacks it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from tests.signals import chord_track, write_wav

from library.catalog import open_catalog
from moodmix.cli import main


@pytest.fixture
def pg_catalog(pg_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The PostgreSQL catalog with one generated track tagged ``pgonly``: (url, the track's path)."""
    track = write_wav(tmp_path / "pgmusic" / "pg_only_chord.wav", chord_track(57, True, 20))
    cat = open_catalog(pg_url)
    summary = cat.add_paths([track.parent], jobs=1, tags=("pgonly",))
    assert len(summary.added) == 1
    cat.engine.dispose()
    yield pg_url, track


def _mix(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as ex:
        main(["mix", *args])
    return int(ex.value.code or 0), capsys.readouterr().err


@pytest.fixture
def voice(tmp_path: Path, emodb_speech: tuple[np.ndarray, int]) -> Path:
    audio, sr = emodb_speech
    path = tmp_path / "voice.wav"
    sf.write(path, audio[:, : int(7 * sr)].T, sr)
    return path


@pytest.mark.parametrize("how", ["env", "flag"])
def test_mix_chooses_from_the_postgresql_catalog(pg_catalog, voice, tmp_path, capsys, monkeypatch, how):
    url, track = pg_catalog
    out, report = tmp_path / "out.wav", tmp_path / "r.json"
    # the default catalog (SQLite under MOODMIX_HOME) has no 'pgonly' track: refused by name
    monkeypatch.delenv("MOODMIX_DATABASE_URL", raising=False)
    code, err = _mix(capsys, str(voice), "-o", str(out), "--mood", "pgonly", "--no-emotion")
    assert code == 1 and "pgonly" in err and not out.exists()
    # the PostgreSQL catalog has it
    extra: list[str] = []
    if how == "env":
        monkeypatch.setenv("MOODMIX_DATABASE_URL", url)
    else:
        extra = ["--database", url]
    code, err = _mix(capsys, str(voice), "-o", str(out), "--mood", "pgonly", "--no-emotion", "--report",
                     str(report), *extra)
    assert code == 0, err
    rep = json.loads(report.read_text())
    assert Path(rep["music"]["path"]).resolve() == track.resolve()


def test_job_settings_take_the_database_from_the_environment(monkeypatch):
    """Every front end builds a JobSettings (CLI, batch, the worker): the environment's catalog URL is its default."""
    from moodmix.settings import JobSettings

    monkeypatch.setenv("MOODMIX_DATABASE_URL", "postgresql+psycopg://x@127.0.0.1/y")
    assert JobSettings().database == "postgresql+psycopg://x@127.0.0.1/y"
    monkeypatch.delenv("MOODMIX_DATABASE_URL")
    assert JobSettings().database is None
