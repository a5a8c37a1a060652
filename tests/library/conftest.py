"""Fixtures of the library tests: a folder of generated tracks and junk files, and PostgreSQL schemas."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from dataclasses import replace
from typing import Any

from library.types import Track
from models.mapping import labels_from_va
from models.types import EmotionEstimate
from tests.signals import chord_track, click_track, write_wav


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


#: The test PostgreSQL server; ``MOODMIX_TEST_POSTGRES_URL`` names another.
PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[object]:
    """An engine on the test server; skips (with the reason) when psycopg is missing or no server answers."""
    pytest.importorskip("psycopg", reason="psycopg (the PostgreSQL driver) is not installed")
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    url = os.environ.get("MOODMIX_TEST_POSTGRES_URL", PG_DEFAULT_URL)
    engine = create_engine(url, connect_args={"connect_timeout": 3}, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        engine.dispose()
        pytest.skip(f"no PostgreSQL server answers at {url} ({type(exc.orig or exc).__name__}); "
                    "set MOODMIX_TEST_POSTGRES_URL to run these tests")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def fresh_schema(pg_admin: object) -> Callable[[], AbstractContextManager[str]]:
    """``with fresh_schema() as url:`` — the URL of a new, uniquely named schema, dropped on exit."""
    from sqlalchemy import text
    from sqlalchemy.engine import Engine

    assert isinstance(pg_admin, Engine)

    @contextmanager
    def make() -> Iterator[str]:
        schema = f"moodmix_test_{uuid.uuid4().hex[:12]}"
        with pg_admin.connect() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield pg_admin.url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
                hide_password=False)
        finally:
            with pg_admin.connect() as c:
                c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))

    return make


@pytest.fixture
def pg_url(fresh_schema: Callable[[], AbstractContextManager[str]]) -> Iterator[str]:
    """URL of a fresh, uniquely named schema on the test server (dropped after the test)."""
    with fresh_schema() as url:
        yield url


# ---------------------------------------------------------------------------------------------------------------
# selection: an in-memory catalog of tracks spanning the built-in library's five moods

#: Feature profiles like the built-in library's folders (prompted tempo/mode from its LICENSE-MUSIC).
PROFILES: dict[str, dict[str, float]] = {
    "calm": {"danceability": 0.45, "energy": 0.22, "mode": 1, "acousticness": 0.80, "valence": 0.45, "tempo": 68},
    "tender": {"danceability": 0.50, "energy": 0.35, "mode": 1, "acousticness": 0.65, "valence": 0.62, "tempo": 90},
    "nostalgic": {"danceability": 0.45, "energy": 0.35, "mode": 0, "acousticness": 0.55, "valence": 0.25,
                  "tempo": 80},
    "happy": {"danceability": 0.75, "energy": 0.75, "mode": 1, "acousticness": 0.20, "valence": 0.85, "tempo": 118},
    "energetic": {"danceability": 0.65, "energy": 0.92, "mode": 0, "acousticness": 0.05, "valence": 0.45,
                  "tempo": 140},
}


class MemoryCatalog:
    """The catalog interface selection uses: tracks(include_derived=...), update(id, **fields)."""

    def __init__(self, tracks: list[Track]) -> None:
        self._tracks = {t.id: t for t in tracks}
        self.updates: list[tuple[str, dict[str, Any]]] = []

    def tracks(self, *, include_derived: bool = True) -> list[Track]:
        return [t for t in self._tracks.values() if include_derived or t.derived_from is None]

    def get(self, id: str) -> Track:
        return self._tracks[id]

    def update(self, id: str, **fields: Any) -> None:
        self.updates.append((id, fields))
        self._tracks[id] = replace(self._tracks[id], **fields)


def make_track(mood: str, i: int = 0, *, vocal: float = 0.0, tweak: float = 0.0, tags: tuple[str, ...] | None = None
               ) -> Track:
    f = dict(PROFILES[mood])
    f["energy"] = min(1.0, max(0.0, f["energy"] + tweak))
    f["tempo"] = f["tempo"] + 40 * tweak
    return Track(id=f"{mood}-{i}", path=f"/music/{mood}/{mood}_{i}.opus", title=f"{mood} {i}", duration_s=60.0,
                 features=f, tags=tags if tags is not None else (mood,), vocal=vocal)


@pytest.fixture
def mood_catalog() -> MemoryCatalog:
    tracks = [make_track(m, i, tweak=0.03 * i) for m in PROFILES for i in range(3)]
    return MemoryCatalog(tracks)


def estimate(v: float, a: float) -> EmotionEstimate:
    return EmotionEstimate(labels_from_va(v, a), v, a, 0.8)
