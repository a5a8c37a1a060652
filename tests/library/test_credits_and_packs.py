"""Credits in the catalog (and the in-place migration of older catalogs), credits through to the report and
`suggest --json`, and music packs: listing, adding a fake local pack (a folder and a .deb built here, no network),
hash checks, repeats, share-alike opt-in and the one-line message without apt-get."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from lib_cli import run_library
from tests.signals import chord_track, click_track, write_wav

import library.packs as packs_mod
from library.catalog import default_catalog, open_catalog
from library.packs import PackError, add_pack, deb_members, install_pack_files, list_packs, load_packs
from library.scan import content_hash
from library.types import format_credit

# The tracks table as the catalog created it before credits existed (library/catalog.py at d486d7d, SQLite DDL).
OLD_DDL = """CREATE TABLE tracks (
    id VARCHAR(16) NOT NULL, path VARCHAR(4096) NOT NULL, title VARCHAR(512) NOT NULL,
    content_hash VARCHAR(64) NOT NULL, size_bytes BIGINT NOT NULL, mtime_ns BIGINT NOT NULL,
    duration_s FLOAT NOT NULL, features JSON NOT NULL, "key" VARCHAR(4), loudness_lufs FLOAT, vocal FLOAT,
    beats JSON NOT NULL, downbeats JSON NOT NULL, tags JSON NOT NULL, music_cluster INTEGER, emotion_cluster INTEGER,
    emotion JSON, derived_from VARCHAR(16), analysis JSON NOT NULL, analysis_version INTEGER NOT NULL,
    added_at FLOAT NOT NULL, PRIMARY KEY (id))"""
OLD_INDEXES = ["CREATE UNIQUE INDEX ix_tracks_path ON tracks (path)",
               "CREATE INDEX ix_tracks_content_hash ON tracks (content_hash)",
               "CREATE INDEX ix_tracks_derived_from ON tracks (derived_from)"]
FEATS = {"danceability": 0.5, "energy": 0.4, "mode": 1.0, "acousticness": 0.3, "valence": 0.6, "tempo": 100.0}


def _old_row(f: Path) -> dict[str, object]:
    digest = content_hash(f)
    st = f.stat()
    return {"id": digest[:12], "path": str(f), "title": f.stem, "content_hash": digest, "size_bytes": st.st_size,
            "mtime_ns": st.st_mtime_ns, "duration_s": 12.0, "features": json.dumps(FEATS), "key": "C",
            "loudness_lufs": -20.0, "vocal": 0.0, "beats": "[]", "downbeats": "[]", "tags": '["mine"]',
            "music_cluster": 1, "emotion_cluster": None, "emotion": None, "derived_from": None, "analysis": "{}",
            "analysis_version": 1, "added_at": time.time()}


def _columns_sqlite(db: Path) -> set[str]:
    with sqlite3.connect(db) as c:
        return {r[1] for r in c.execute("PRAGMA table_info(tracks)")}


# ------------------------------------------------------------------------------------------------ migration
def test_old_sqlite_catalog_is_migrated_in_place_and_tracks_get_credits(tmp_path: Path) -> None:
    track = write_wav(tmp_path / "music" / "mine.wav", chord_track(60, False, 12))
    db = tmp_path / "home" / "catalog.sqlite"
    db.parent.mkdir()
    row = _old_row(track)
    with sqlite3.connect(db) as c:
        c.execute(OLD_DDL)
        for ddl in OLD_INDEXES:
            c.execute(ddl)
        c.execute(f"INSERT INTO tracks ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
    assert "credit" not in _columns_sqlite(db)

    cat = open_catalog(f"sqlite:///{db}")
    assert {"artist", "licence", "source", "share_alike", "credit"} <= _columns_sqlite(db)
    (t,) = cat.tracks()
    assert (t.id, t.title, t.tags, t.credit, t.licence, t.share_alike) == (row["id"], "mine", ("mine",), None,
                                                                           None, False)
    assert t.to_dict()["credit"] is None and t.to_dict()["features"]["energy"] == 0.4  # old data intact

    # a track already catalogued gets its credit from an add (kept, or re-analysed when its analysis is older)
    credit = {"title": "Mine", "artist": "Me", "licence": "CC0-1.0", "source": "my desk", "share_alike": False,
              "credit": format_credit("Mine", artist="Me", licence="CC0-1.0")}
    summary = cat.add_paths([track], jobs=1, credits={row["content_hash"]: credit})  # type: ignore[dict-item]
    assert (*summary.unchanged, *summary.updated) == (row["id"],) and not summary.added
    t = cat.get(row["id"])  # type: ignore[arg-type]
    assert (t.title, t.artist, t.licence, t.credit) == ("Mine", "Me", "CC0-1.0", "'Mine' by Me, CC0-1.0")

    # opening again is a no-op; the default catalog adds the built-in clips with their package's credit
    open_catalog(f"sqlite:///{db}")
    builtin = [x for x in default_catalog(f"sqlite:///{db}").tracks() if "builtin" in x.tags]
    assert len(builtin) == 28
    assert all(x.licence == "MIT" and x.credit == f"'{x.title}' from immich-memories-music, MIT" for x in builtin)
    assert all(x.source and x.source.startswith("immich-memories-music 0.1.0") for x in builtin)




def test_old_postgres_catalog_is_migrated_in_place(pg_url: str, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, inspect, text

    track = write_wav(tmp_path / "mine.wav", click_track(100, 12))
    row = _old_row(track)
    eng = create_engine(pg_url)
    with eng.begin() as c:
        c.execute(text(OLD_DDL))
        c.execute(text(f"INSERT INTO tracks ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})"), row)
    cats = [open_catalog(pg_url) for _ in range(2)]  # the second open finds the columns there
    cols = {c["name"] for c in inspect(eng).get_columns("tracks")}
    eng.dispose()
    assert {"artist", "licence", "source", "share_alike", "credit"} <= cols
    cats[0].update(str(row["id"]), artist="Me", licence="CC-BY-3.0", credit="'mine' by Me, CC-BY-3.0")
    t = cats[1].get(str(row["id"]))
    assert (t.title, t.credit, t.features["tempo"]) == ("mine", "'mine' by Me, CC-BY-3.0", 100.0)


# ------------------------------------------------------------------------------------------------ report / JSON
def test_credit_format_marks_share_alike_and_credits_the_package_without_artist() -> None:
    assert format_credit("T", artist="A", licence="CC-BY-3.0") == "'T' by A, CC-BY-3.0"
    assert format_credit("T", artist="A", licence="CC-BY-SA-3.0", share_alike=True) == \
        "'T' by A, CC-BY-SA-3.0 (share-alike)"
    assert format_credit("T", licence="MIT", origin="pkg") == "'T' from pkg, MIT"


@pytest.mark.ffmpeg
def test_mix_report_and_summary_carry_the_credit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from moodmix.cli import main
    from tests.signals import speech_like

    import numpy as np
    import soundfile as sf

    monkeypatch.setenv("MOODMIX_HOME", str(tmp_path / "home"))
    track = next(t for t in default_catalog().tracks() if t.title == "calm_acoustic_1")
    voice = speech_like(16000, 6.0, bursts=[(0.5, 2.5), (3.0, 5.5)], rng=np.random.default_rng(3))
    sf.write(tmp_path / "v.wav", voice.T, 16000)
    with pytest.raises(SystemExit) as ex:
        main(["mix", str(tmp_path / "v.wav"), "--music", track.id, "--no-emotion", "--report",
              str(tmp_path / "r.json"), "-o", str(tmp_path / "out.wav")])
    assert ex.value.code in (0, None)
    err = capsys.readouterr().err
    want = "'calm_acoustic_1' from immich-memories-music, MIT"
    assert f" · {want} · " in err.splitlines()[0]
    music = json.loads((tmp_path / "r.json").read_text())["music"]
    assert (music["credit"], music["licence"], music["track"]) == (want, "MIT", track.id)
    assert music["title"] == "calm_acoustic_1" and "rule" in music and "reasons" in music  # keys kept
    assert music["segments"][0]["credit"] == want


@pytest.mark.slow
def test_suggest_json_suggestions_carry_credits(capsys: pytest.CaptureFixture[str]) -> None:
    from moodmix.cli import main

    with pytest.raises(SystemExit) as ex:
        main(["suggest", "--text", "I am so happy today, everything went well!", "--json", "-n", "3"])
    assert ex.value.code in (0, None)
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("{")]
    sugg = json.loads(line)["suggestions"]
    assert len(sugg) == 3
    for s in sugg:
        assert s["credit"] == f"'{s['title']}' from immich-memories-music, MIT" and s["licence"] == "MIT"
        assert {"track", "title", "path", "features", "rule", "reasons"} <= set(s)


def test_library_list_and_show_carry_credits(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.sqlite'}"
    code, out, _ = run_library(capsys, "list", "--json", "--database", db)
    rows = [json.loads(ln) for ln in out.splitlines()]
    assert code == 0 and len(rows) == 28
    assert all(r["licence"] == "MIT" and r["credit"].endswith("from immich-memories-music, MIT") for r in rows)
    code, out, _ = run_library(capsys, "show", rows[0]["id"], "--database", db)
    assert code == 0 and f"credit           {rows[0]['credit']}" in out and "licence          MIT" in out


# ------------------------------------------------------------------------------------------------ packs
def test_shipped_pack_list_is_verified_and_complete() -> None:
    packs = load_packs()
    assert {"naev", "ufoai", "blobwars", "free"} <= set(packs)
    free = [t for n in packs["free"].includes for t in packs[n].selected()]
    assert len(free) == 42 and 115 < sum(t.duration_s for t in free) / 60 < 125
    for p in (packs[n] for n in packs["free"].includes):
        assert p.package and p.versions and p.download_bytes > 0
        for t in p.tracks:
            assert len(t.sha256) == 64 and t.size_bytes > 0 and t.duration_s > 0 and t.evidence
            assert t.share_alike == ("-SA-" in t.licence), t  # share-alike exactly where the licence says so
            assert t.licence in {"CC-BY-3.0", "CC-BY-SA-3.0", "public-domain"}, t
            assert t.artist and t.source.startswith(p.package) or " via " in t.source
    by = {(p, t.name): t for p in ("naev", "ufoai", "blobwars") for t in packs[p].tracks}
    assert by["naev", "zalek2.ogg"].credit == "'Za'lek 2' by Nikola Whallon, CC-BY-3.0"
    assert by["blobwars", "cave.ogg"].credit == "'Adventure' by DJ Sjors, CC-BY-SA-3.0 (share-alike)"
    assert by["ufoai", "greecei.ogg"].licence == "public-domain"


def test_packs_listing(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOODMIX_HOME", str(tmp_path))
    code, out, _ = run_library(capsys, "packs", "--json")
    rows = {r["name"]: r for r in map(json.loads, out.splitlines())}
    assert code == 0
    assert (rows["naev"]["tracks"], rows["naev"]["share_alike_tracks"], rows["naev"]["installed"]) == (24, 9, "no")
    assert rows["free"]["licences"] == ["CC-BY-3.0", "public-domain"] and rows["free"]["tracks"] == 42
    assert rows["blobwars"]["packages"] == ["blobwars-data 2.00-2/2.00-6"]
    code, out, _ = run_library(capsys, "packs")
    assert code == 0 and "SA opt-in" in out and "naev" in out


SR = 22050


def _fake_package(root: Path) -> dict[str, bytes]:
    """A package tree: two free tracks (one without an extension), a share-alike one inside a .pk3 zip, and one
    whose bytes differ from what the pack list verified. Returns path → bytes."""
    files: dict[str, bytes] = {}
    for rel, audio in (("usr/share/fake/music/calm.wav", chord_track(57, True, 8)),
                       ("usr/share/fake/music/loud", click_track(150, 8)),
                       ("usr/share/fake/music/changed.wav", chord_track(62, False, 6))):
        buf = io.BytesIO()
        import soundfile as sf

        sf.write(buf, audio.T, SR, format="WAV", subtype="PCM_16")
        files[rel] = buf.getvalue()
    sa = io.BytesIO()
    import soundfile as sf

    sf.write(sa, click_track(90, 8).T, SR, format="WAV", subtype="PCM_16")
    pk3 = io.BytesIO()
    with zipfile.ZipFile(pk3, "w") as z:
        z.writestr("music/sa.wav", sa.getvalue())
    files["usr/share/fake/0music.pk3"] = pk3.getvalue()
    files["__sa.wav"] = sa.getvalue()
    for rel, data in files.items():
        if not rel.startswith("__"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
    return files


def _fake_packs_json(path: Path, files: dict[str, bytes]) -> Path:
    import hashlib

    def entry(rel: str, name: str, data: bytes, licence: str, **kw: object) -> dict[str, object]:
        return {"file": rel, "name": name, "title": name.split(".")[0].title(), "artist": "Test Artist",
                "licence": licence, "source": "fakepkg 1.0-1 (test)", "sha256": hashlib.sha256(data).hexdigest(),
                "size_bytes": len(data), "duration_s": 8.0, "evidence": "made by the test", **kw}

    tracks = [entry("usr/share/fake/music/calm.wav", "calm.wav", files["usr/share/fake/music/calm.wav"], "CC-BY-3.0"),
              entry("usr/share/fake/music/loud", "loud.wav", files["usr/share/fake/music/loud"], "CC0-1.0"),
              entry("usr/share/fake/0music.pk3", "sa.wav", files["__sa.wav"], "CC-BY-SA-3.0", share_alike=True,
                    member="music/sa.wav"),
              entry("usr/share/fake/music/changed.wav", "changed.wav", b"the bytes that were verified",
                    "CC-BY-3.0")]
    doc = {"packs": {"fake": {"package": "fakepkg", "versions": ["1.0-1"], "download_bytes": 1000,
                              "description": "test pack", "tracks": tracks},
                     "bundle": {"description": "all test packs", "includes": ["fake"]}}}
    path.write_text(json.dumps(doc))
    return path


def _build_deb(tree: Path, deb: Path) -> Path:
    """A minimal .deb (ar: debian-binary, control.tar.xz, data.tar.xz) holding ``tree``."""
    def tar_xz(add: dict[str, bytes]) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:xz") as t:
            for name, data in add.items():
                info = tarfile.TarInfo(f"./{name}")
                info.size, info.mtime = len(data), int(time.time())
                t.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    data = {str(f.relative_to(tree)): f.read_bytes() for f in sorted(tree.rglob("*")) if f.is_file()}
    control = {"control": b"Package: fakepkg\nVersion: 1.0-1\nArchitecture: all\nMaintainer: t <t@t>\n"
                          b"Description: test\n"}
    members = [("debian-binary", b"2.0\n"), ("control.tar.xz", tar_xz(control)), ("data.tar.xz", tar_xz(data))]
    with open(deb, "wb") as f:
        f.write(b"!<arch>\n")
        for name, blob in members:
            f.write(f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(blob):<10}`\n".encode())
            f.write(blob + (b"\n" if len(blob) % 2 else b""))
    return deb


@pytest.fixture
def fake_pack(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    tree = tmp_path / "tree"
    files = _fake_package(tree)
    return tree, _fake_packs_json(tmp_path / "packs.json", files), files


def test_add_pack_from_a_folder_credits_tags_repeats_and_reports_changed_files(
        fake_pack: tuple[Path, Path, dict[str, bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree, pj, _ = fake_pack
    cat = open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    packs_dir = tmp_path / "packs"
    steps: list[str] = []
    s = add_pack(cat, "fake", packs_dir=packs_dir, sources=[tree], jobs=1, path=pj,
                 progress=lambda step, d, n, what: steps.append(step))
    assert sorted(Path(p).name for p in s.placed) == ["calm.wav", "loud.wav"]  # SA is opt-in
    assert len(s.catalog["added"]) == 2 and "analyse" in steps
    (bad,) = s.problems
    assert bad[0] == "changed.wav" and "differs from the file verified in fakepkg 1.0-1" in bad[1]
    assert not (packs_dir / "fake" / "changed.wav").exists()
    tracks = {t.title: t for t in cat.tracks()}
    assert tracks["Calm"].credit == "'Calm' by Test Artist, CC-BY-3.0" and tracks["Calm"].tags == ("pack:fake",)
    assert tracks["Loud"].licence == "CC0-1.0" and tracks["Loud"].path.endswith("loud.wav")
    assert tracks["Loud"].features["tempo"] > 0  # analysed like any track

    # the repeat needs no source (files in place, checked by hash) and analyses nothing
    monkeypatch.setattr(packs_mod.shutil, "which", lambda _n: None)
    again = add_pack(cat, "fake", packs_dir=packs_dir, jobs=1, path=pj)
    assert sorted(again.catalog["unchanged"]) == sorted(s.catalog["added"]) and not again.catalog["added"]
    assert not again.fetched

    # share-alike only when asked for, marked in its credit
    sa = add_pack(cat, "bundle", packs_dir=packs_dir, sources=[tree], share_alike=True, jobs=1, path=pj)
    assert len(sa.catalog["added"]) == 1
    t = next(t for t in cat.tracks() if t.title == "Sa")
    assert t.share_alike and t.credit == "'Sa' by Test Artist, CC-BY-SA-3.0 (share-alike)"
    rows = {r["name"]: r for r in list_packs(packs_dir, path=pj)}
    # changed.wav never verified: the pack is partly installed
    assert rows["fake"]["installed"] == "partly (2/3)" and rows["fake"]["installed_share_alike"] == 1


@pytest.mark.parametrize("with_dpkg", [True, False], ids=["dpkg-deb", "python"])
def test_add_pack_from_a_deb(fake_pack: tuple[Path, Path, dict[str, bytes]], tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch, with_dpkg: bool) -> None:
    tree, pj, files = fake_pack
    if with_dpkg and shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed")
    if not with_dpkg:
        real = shutil.which
        monkeypatch.setattr(packs_mod.shutil, "which", lambda n: None if n == "dpkg-deb" else real(n))
    deb = _build_deb(tree, tmp_path / "fakepkg_1.0-1_all.deb")
    got = {n: f.read() for n, f in deb_members(deb, {"usr/share/fake/music/loud", "usr/share/fake/0music.pk3"})}
    assert got == {k: files[k] for k in ("usr/share/fake/music/loud", "usr/share/fake/0music.pk3")}
    shutil.rmtree(tree)  # nothing but the .deb now
    res = install_pack_files("fake", packs_dir=tmp_path / "packs", sources=[deb], share_alike=True, path=pj)
    placed, fetched, problems = res["fake"]
    assert sorted(p.name for p in placed) == ["calm.wav", "loud.wav", "sa.wav"]
    assert fetched == ["fakepkg 1.0-1"] and [p[0] for p in problems] == ["changed.wav"]
    assert "(this is 1.0-1)" in problems[0][1]
    assert not (tmp_path / "packs" / "fake" / ".download").exists()  # the package itself is not kept


def test_add_pack_without_apt_says_what_to_do_in_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOODMIX_HOME", str(tmp_path))
    real = shutil.which
    monkeypatch.setattr(packs_mod.shutil, "which", lambda n: None if n == "apt-get" else real(n))
    code, _, err = run_library(capsys, "add-pack", "blobwars", "--database", f"sqlite:///{tmp_path / 'c.db'}")
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert code == 1 and len(lines) == 1 and "Traceback" not in err
    assert "no apt-get" in lines[0] and "blobwars-data" in lines[0] and "2.00-2" in lines[0]
    assert "add-pack blobwars --from blobwars-data_2.00-2_all.deb" in lines[0]
    with pytest.raises(PackError, match=r"no pack named 'nope'; available: .*blobwars"):
        add_pack(None, "nope", packs_dir=tmp_path)


@pytest.mark.slow
def test_real_blobwars_package_matches_the_verified_hashes(tmp_path: Path) -> None:
    """The shipped packs.json against the real Debian package (65 MB; all 15 tracks hashed, none analysed)."""
    if shutil.which("apt-get") is None:
        pytest.skip("no apt-get on this system")
    try:
        res = install_pack_files("blobwars", packs_dir=tmp_path, share_alike=True)
    except PackError as exc:
        pytest.skip(f"the Debian package could not be fetched here: {exc}")
    placed, fetched, problems = res["blobwars"]
    assert not problems and len(placed) == 15 and fetched[0].startswith("blobwars-data 2.00-")


def test_api_catalog_view_carries_credits(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``GET /library`` serves (``python -m workers.catalog_view``): every track with its credit keys."""
    from workers.catalog_view import main

    monkeypatch.setenv("MOODMIX_HOME", str(tmp_path))
    assert main() == 0
    tracks = json.loads(capsys.readouterr().out)["tracks"]
    assert len(tracks) == 28
    for t in tracks:
        assert {"credit", "licence", "artist", "source", "share_alike"} <= set(t)
        assert t["credit"] == f"'{t['title']}' from immich-memories-music, MIT"


def test_library_credit_sets_a_users_track_credit(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.sqlite'}"
    track = write_wav(tmp_path / "bed.wav", chord_track(60, False, 8))
    code, out, _ = run_library(capsys, "add", str(track), "--json", "--database", db)
    (tid,) = json.loads(out)["added"]
    code, out, _ = run_library(capsys, "credit", tid[:6], "--artist", "Ann", "--licence", "CC-BY-SA-4.0",
                               "--title", "Bed", "--database", db)
    assert code == 0 and out.strip() == f"{tid}: 'Bed' by Ann, CC-BY-SA-4.0 (share-alike)"
    t = open_catalog(db).get(tid)
    assert (t.title, t.artist, t.licence, t.share_alike) == ("Bed", "Ann", "CC-BY-SA-4.0", True)
    code, _, err = run_library(capsys, "credit", tid, "--database", db)
    assert code == 1 and "give at least one of --artist" in err
