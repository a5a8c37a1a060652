"""The catalog on PostgreSQL: same behaviour as on SQLite, several processes writing to one database.

Needs a PostgreSQL server: ``postgresql+psycopg://postgres@127.0.0.1:5432/test`` by default, another one through
``MOODMIX_TEST_POSTGRES_URL``. Every test gets its own uniquely named schema (``search_path`` in the URL), dropped
afterwards, so parallel runs never collide. Skipped, with the reason, when no server answers or psycopg is missing.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tests.signals import chord_track, click_track, write_wav

from core.errors import CatalogError
from library.catalog import Catalog, open_catalog
from library.scan import content_hash


@pytest.fixture
def open_pg(pg_url: str) -> Iterator[Callable[[], Catalog]]:
    """Open catalogs on the test schema; their connections are closed before the schema is dropped."""
    opened: list[Catalog] = []

    def _open() -> Catalog:
        cat = open_catalog(pg_url)
        opened.append(cat)
        return cat

    yield _open
    for cat in opened:
        cat.engine.dispose()


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three short generated tracks and a junk file."""
    d = tmp_path_factory.mktemp("pg_music")
    write_wav(d / "clicks_120.wav", click_track(120, 6))
    write_wav(d / "sub" / "c_major.wav", chord_track(60, False, 6))
    write_wav(d / "sub" / "a_minor.wav", chord_track(57, True, 6))
    (d / "broken.wav").write_bytes(b"not a wav file" * 50)
    return d


def test_open_creates_the_tables_in_the_schema(open_pg: Callable[[], Catalog], pg_url: str) -> None:
    from sqlalchemy import inspect

    cat = open_pg()
    assert cat.tracks() == []
    from sqlalchemy.engine import make_url

    schema = str(make_url(pg_url).query["options"]).split("search_path=")[1]
    assert "tracks" in inspect(cat.engine).get_table_names(schema=schema)
    open_pg()  # opening again (tables already there) is fine


def asdict_tracks(tracks: dict[str, object]) -> dict[str, object]:
    from dataclasses import asdict

    return {k: asdict(v) for k, v in tracks.items()}  # type: ignore[call-overload]


def _same(a: object, b: object, tol: float = 1e-3) -> bool:
    """Equal structures; floats within ``tol`` (everything else exactly)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], tol) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= tol
    return a == b


def test_tracks_round_trip_like_sqlite(open_pg: Callable[[], Catalog], songs: Path, tmp_path: Path) -> None:
    pg = open_pg()
    lite = open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    s_pg = pg.add_paths([songs], jobs=1, tags=("mine",), tag_parent=True)
    s_lite = lite.add_paths([songs], jobs=1, tags=("mine",), tag_parent=True)
    assert len(s_pg.added) == 3 and [Path(p).name for p, _ in s_pg.skipped] == ["broken.wav"]
    assert sorted(s_pg.added) == sorted(s_lite.added)
    by_id_pg = {t.id: t for t in pg.tracks()}
    by_id_lite = {t.id: t for t in lite.tracks()}
    # every field, features and beat times included: the two catalogs analysed the files separately, and the
    # taggers' float sums may differ in the last rounded digit between processes, so floats agree to 1e-3
    assert _same(asdict_tracks(by_id_pg), asdict_tracks(by_id_lite))
    t = by_id_pg[next(iter(by_id_pg))]
    assert len(t.features) == 6 and t.music_cluster is not None and t.content_hash.startswith(t.id)
    assert {x.key for x in by_id_pg.values()} >= {"C", "A"}
    assert _same(pg.analysis(t.id), lite.analysis(t.id))
    assert pg.stats()["tracks"] == 3 and pg.stats()["cluster_means"] == lite.stats()["cluster_means"]
    again = pg.add_paths([songs], jobs=1)
    assert not again.added and not again.updated and len(again.unchanged) == 3
    lite.engine.dispose()


def test_get_update_remove_prune_and_derived(open_pg: Callable[[], Catalog], songs: Path, tmp_path: Path) -> None:
    work = tmp_path / "music"
    shutil.copytree(songs / "sub", work)
    cat = open_pg()
    cat.add_paths([work], jobs=1, tags=("calm",))
    a, c = sorted(cat.tracks(), key=lambda t: t.title)  # a_minor, c_major
    assert cat.get(a.id[:6]) == a
    with pytest.raises(CatalogError, match="no track with id 'zzzz'"):
        cat.get("zzzz")
    cat.update(a.id, emotion=[0.1] * 6 + [0.5, -0.2], emotion_cluster=3, tags=("x", "y"), title="A minor")
    u = cat.get(a.id)
    assert u == replace(a, emotion=u.emotion, emotion_cluster=3, tags=("x", "y"), title="A minor")
    assert u.emotion == pytest.approx((0.1,) * 6 + (0.5, -0.2))
    with pytest.raises(CatalogError, match="cannot update"):
        cat.update(a.id, features={})
    # a derived (instrumental) version of c_major
    inst = write_wav(tmp_path / "c_major.instrumental.wav", chord_track(60, False, 5))
    d = cat.add_derived(c.id, inst, tags=("instrumental",))
    assert d.derived_from == c.id and set(d.tags) == {"calm", "instrumental"}
    assert {t.id for t in cat.tracks(include_derived=False)} == {a.id, c.id}
    cat.remove(c.id)
    assert cat.get(d.id).derived_from is None
    # a vanished file: reported missing, pruned
    os.remove(work / "a_minor.wav")
    assert cat.missing() == [a.id]
    assert cat.prune() == [a.id]
    assert {t.id for t in cat.tracks()} == {d.id}
    # a changed file is re-analysed under a new id, in place of the old row
    write_wav(inst, chord_track(62, False, 5))
    s = cat.add_paths([inst], jobs=1)
    assert len(s.updated) == 1 and s.updated[0] != d.id
    assert [t.id for t in cat.tracks()] == list(s.updated)


def _worker(url: str, folder: str, pre: dict, q: mp.Queue[str]) -> None:
    try:
        cat = open_catalog(url)
        for _ in range(3):
            cat.add_paths([folder], jobs=1, precomputed=pre)
            for t in cat.tracks():
                if Path(t.path).parent == Path(folder):
                    cat.update(t.id, emotion_cluster=int(Path(folder).name[1:]))
        cat.engine.dispose()
        q.put("ok")
    except Exception as exc:  # noqa: BLE001 - report to the parent
        q.put(f"{type(exc).__name__}: {exc}")


def test_two_processes_add_to_one_postgres_catalog(pg_url: str, open_pg: Callable[[], Catalog],
                                                   tmp_path: Path) -> None:
    folders = []
    for i in range(2):
        d = tmp_path / f"f{i}"
        for j in range(3):
            write_wav(d / f"t{i}{j}.wav", click_track(80 + 10 * i + 3 * j, 3))
        folders.append(str(d))
    from library.features import analyse_file

    # analyse here once so that the spawned workers only hit the database (and start fast)
    pre = {content_hash(p): analyse_file(p).to_dict() for f in folders for p in Path(f).glob("*.wav")}
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    # the workers create the tables themselves, racing each other on a fresh schema
    procs = [ctx.Process(target=_worker, args=(pg_url, f, pre, q)) for f in folders]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    results = [q.get(timeout=5) for _ in procs]
    assert results == ["ok", "ok"]
    tracks = open_pg().tracks()
    assert sorted(t.title for t in tracks) == sorted(f"t{i}{j}" for i in range(2) for j in range(3))
    assert all(t.emotion_cluster == int(Path(t.path).parent.name[1:]) for t in tracks)


def _open_at_once(url: str, barrier: object, q: mp.Queue[str]) -> None:
    try:
        barrier.wait()  # type: ignore[attr-defined]
        open_catalog(url).engine.dispose()
        q.put("ok")
    except Exception as exc:  # noqa: BLE001 - report to the parent
        q.put(f"{type(exc).__name__}: {exc}")


def test_processes_creating_the_tables_at_once_all_succeed(fresh_schema) -> None:  # type: ignore[no-untyped-def]
    # on PostgreSQL concurrent CREATE TABLE fails with duplicate-table/type errors (in about half of the rounds
    # without the retry); open_catalog retries them. Five rounds, each on a fresh schema.
    ctx = mp.get_context("spawn")
    for _ in range(5):
        with fresh_schema() as url:
            barrier, q = ctx.Barrier(4), ctx.Queue()
            procs = [ctx.Process(target=_open_at_once, args=(url, barrier, q)) for _ in range(4)]
            for p in procs:
                p.start()
            for p in procs:
                p.join(timeout=120)
            assert [q.get(timeout=5) for _ in procs] == ["ok"] * 4
            cat = open_catalog(url)
            assert cat.tracks() == []
            cat.engine.dispose()
