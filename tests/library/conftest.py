"""Fixtures of the library tests: a folder of generated tracks and junk files, and PostgreSQL schemas."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
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
