"""The catalog: add, re-add, changed and moved files, missing + prune, derived tracks, updates, processes."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
from pathlib import Path

import pytest
from tests.signals import chord_track, click_track, write_wav

from core.errors import CatalogError
from library.catalog import ScanSummary, open_catalog
from library.scan import content_hash, find_audio_files, track_id


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'catalog.sqlite'}"


def test_find_audio_files_and_reasons(music_dir: Path, tmp_path: Path) -> None:
    junk = tmp_path / "readme.txt"
    junk.write_text("x")
    res = find_audio_files([music_dir, junk, tmp_path / "nope.wav"])
    names = sorted(p.name for p in res.files)
    assert names == ["a_minor.wav", "broken.mp3", "c_major.flac", "clicks_120.wav"]
    reasons = dict(res.skipped)
    assert "not found" in reasons[str(tmp_path / "nope.wav")]
    assert "not an audio file extension" in reasons[str(junk)]


def test_content_hash_is_stable_and_content_based(music_dir: Path, tmp_path: Path) -> None:
    a = music_dir / "clicks_120.wav"
    b = tmp_path / "copy.wav"
    shutil.copy(a, b)
    assert content_hash(a) == content_hash(b)
    assert len(track_id(content_hash(a))) == 12


def test_add_list_readd_and_bad_files(music_dir: Path, tmp_path: Path) -> None:
    cat = open_catalog(_url(tmp_path))
    before = {p: p.stat().st_mtime_ns for p in music_dir.rglob("*")}
    s1 = cat.add_paths([music_dir], jobs=1, tags=("mine",))
    assert isinstance(s1, ScanSummary)
    assert len(s1.added) == 3 and not s1.updated
    assert [Path(p).name for p, _ in s1.skipped] == ["broken.mp3"]
    tracks = cat.tracks()
    assert len(tracks) == 3
    by_title = {t.title: t for t in tracks}
    assert by_title["a_minor"].features["mode"] == 0 and by_title["c_major"].features["mode"] == 1
    assert by_title["c_major"].key == "C" and by_title["a_minor"].key == "A"
    for t in tracks:
        assert "mine" in t.tags and t.music_cluster is not None and t.id == t.content_hash[:12]
        assert set(t.features) == {"danceability", "energy", "mode", "acousticness", "valence", "tempo"}
        assert t.to_dict()["features"]["key"] == t.key
    assert len(by_title["clicks_120"].beats) > 10
    # second scan: nothing analysed again
    s2 = cat.add_paths([music_dir], jobs=1)
    assert not s2.added and not s2.updated and len(s2.unchanged) == 3
    # library files never modified
    assert {p: p.stat().st_mtime_ns for p in music_dir.rglob("*")} == before


def test_changed_moved_missing_and_prune(music_dir: Path, tmp_path: Path) -> None:
    cat = open_catalog(_url(tmp_path))
    cat.add_paths([music_dir], jobs=1)
    old_id = {t.title: t.id for t in cat.tracks()}
    # change the bytes of one file → re-analysed under a new id
    write_wav(music_dir / "clicks_120.wav", click_track(90, 12))
    s = cat.add_paths([music_dir], jobs=1)
    assert len(s.updated) == 1 and len(s.unchanged) == 2
    new = {t.title: t for t in cat.tracks()}
    assert new["clicks_120"].id != old_id["clicks_120"]
    # move a file: same content, same id, new path
    dest = tmp_path / "moved" / "c_major.flac"
    dest.parent.mkdir()
    shutil.move(music_dir / "sub" / "c_major.flac", dest)
    s = cat.add_paths([dest], jobs=1)
    assert s.updated == (old_id["c_major"],)
    assert cat.get(old_id["c_major"]).path == str(dest.resolve())
    # delete a file → reported missing, prunable
    os.remove(music_dir / "sub" / "a_minor.wav")
    s = cat.add_paths([music_dir], jobs=1)
    assert s.missing == (old_id["a_minor"],)
    assert cat.prune() == [old_id["a_minor"]]
    assert len(cat.tracks()) == 2 and cat.missing() == []


def test_duplicate_content_is_not_added_twice(music_dir: Path, tmp_path: Path) -> None:
    cat = open_catalog(_url(tmp_path))
    cat.add_paths([music_dir / "clicks_120.wav"], jobs=1)
    dup = tmp_path / "dup.wav"
    shutil.copy(music_dir / "clicks_120.wav", dup)
    s = cat.add_paths([dup], jobs=1)
    assert not s.added and "duplicate of track" in s.skipped[0][1]


def test_get_update_remove_and_errors(music_dir: Path, tmp_path: Path) -> None:
    cat = open_catalog(_url(tmp_path))
    cat.add_paths([music_dir / "sub"], jobs=1)
    t = cat.tracks()[0]
    assert cat.get(t.id[:6]).id == t.id  # unique prefix
    cat.update(t.id, emotion=[0.1] * 6 + [0.5, -0.2], emotion_cluster=3, tags=("x", "y"))
    u = cat.get(t.id)
    assert u.emotion == pytest.approx((0.1,) * 6 + (0.5, -0.2)) and u.emotion_cluster == 3 and u.tags == ("x", "y")
    with pytest.raises(CatalogError, match="cannot update"):
        cat.update(t.id, features={})
    with pytest.raises(CatalogError, match="no track with id 'zzzz'"):
        cat.get("zzzz")
    cat.remove(t.id)
    with pytest.raises(CatalogError, match="no track"):
        cat.get(t.id)


def test_derived_track(music_dir: Path, tmp_path: Path) -> None:
    cat = open_catalog(_url(tmp_path))
    cat.add_paths([music_dir / "sub" / "c_major.flac"], jobs=1, tags=("calm",))
    orig = cat.tracks()[0]
    inst = write_wav(tmp_path / "c_major.instrumental.wav", chord_track(60, False, 10))
    d = cat.add_derived(orig.id, inst, tags=("instrumental",))
    assert d.derived_from == orig.id and set(d.tags) == {"calm", "instrumental"}
    assert {t.id for t in cat.tracks(include_derived=False)} == {orig.id}
    assert len(cat.tracks()) == 2 and cat.stats()["derived"] == 1
    cat.remove(orig.id)
    assert cat.get(d.id).derived_from is None
    with pytest.raises(CatalogError):
        cat.add_derived("nosuchid", inst)


def test_stats(music_dir: Path, tmp_path: Path) -> None:
    cat = open_catalog(_url(tmp_path))
    cat.add_paths([music_dir], jobs=1)
    st = cat.stats()
    assert st["tracks"] == 3 and st["missing"] == 0 and st["duration_s"] == pytest.approx(36.0, abs=0.5)
    assert sum(r["n"] for r in st["cluster_means"]) == 3
    assert sum(st["music_clusters"].values()) == 3


def test_parallel_analysis_matches_serial(music_dir: Path, tmp_path: Path) -> None:
    a = open_catalog(f"sqlite:///{tmp_path / 'a.sqlite'}")
    b = open_catalog(f"sqlite:///{tmp_path / 'b.sqlite'}")
    calls: list[tuple[int, int]] = []
    a.add_paths([music_dir], jobs=1)
    b.add_paths([music_dir], jobs=2, progress=lambda d, n, p: calls.append((d, n)))
    assert [t.features for t in a.tracks()] == [t.features for t in b.tracks()]
    assert calls[-1] == (4, 4)  # 3 tracks + the broken one, all reported


def _worker(url: str, folder: str, n: int, pre: dict, q: mp.Queue[str]) -> None:
    try:
        cat = open_catalog(url)
        for _ in range(n):
            cat.add_paths([folder], jobs=1, precomputed=pre)
            cat.tracks()
            for t in cat.tracks():
                cat.update(t.id, emotion_cluster=1)
        q.put("ok")
    except Exception as exc:  # noqa: BLE001 - report to the parent
        q.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.slow
def test_several_processes_share_one_sqlite_catalog(tmp_path: Path) -> None:
    url = _url(tmp_path)
    folders = []
    for i in range(4):
        d = tmp_path / f"f{i}"
        write_wav(d / f"t{i}.wav", click_track(80 + 10 * i, 6))
        folders.append(str(d))
    # analyse once here, so that the workers only hit the database (and spawn fast, without librosa/torch)
    from library.features import analyse_file

    pre = {content_hash(p): analyse_file(p).to_dict() for f in folders for p in Path(f).glob("*.wav")}
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, f, 5, pre, q)) for f in folders]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    results = [q.get(timeout=5) for _ in procs]
    assert results == ["ok"] * 4
    cat = open_catalog(url)
    assert len(cat.tracks()) == 4 and all(t.emotion_cluster == 1 for t in cat.tracks())
    with cat.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def _same_file_worker(url: str, folder: str, pre: dict, barrier, q) -> None:  # type: ignore[no-untyped-def]
    try:
        cat = open_catalog(url)
        barrier.wait(timeout=60)  # all add the same new files at the same instant
        s = cat.add_paths([folder], jobs=1, precomputed=pre)
        q.put(("ok", len(s.added) + len(s.updated) + len(s.unchanged), list(s.skipped)))
    except Exception as exc:  # noqa: BLE001 - report to the parent
        q.put((f"{type(exc).__name__}: {exc}", 0, []))


@pytest.mark.slow
def test_processes_adding_the_same_files_at_once_all_succeed(tmp_path: Path) -> None:
    # a raw IntegrityError (two inserts of one id) or a 'busy' skip here would reach the user as a failed add
    url = _url(tmp_path)
    d = tmp_path / "shared"
    for i in range(3):
        write_wav(d / f"t{i}.wav", click_track(90 + 10 * i, 4))
    from library.features import analyse_file

    pre = {content_hash(p): analyse_file(p).to_dict() for p in d.glob("*.wav")}
    open_catalog(url)  # tables exist before the race (creation races are tested elsewhere)
    ctx = mp.get_context("spawn")
    q, barrier = ctx.Queue(), ctx.Barrier(5)
    procs = [ctx.Process(target=_same_file_worker, args=(url, str(d), pre, barrier, q)) for _ in range(5)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    results = [q.get(timeout=5) for _ in procs]
    assert [r[0] for r in results] == ["ok"] * 5, results
    assert all(r[1] == 3 and not r[2] for r in results), results  # every process sees all three, none skipped
    assert sorted(t.title for t in open_catalog(url).tracks()) == ["t0", "t1", "t2"]


def test_bad_url_is_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot open the catalog"):
        open_catalog("nosuchdialect://x")
