"""`moodmix library ...` end to end through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lib_cli import run_library as _run


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MOODMIX_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    monkeypatch.setenv("MOODMIX_DATABASE_URL", url)
    return url


def test_add_list_show_stats_remove_prune(db: str, music_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "add", str(music_dir), "--jobs", "1", "--tag", "instrumental")
    assert code == 0
    assert "added 3" in out and "skipped 1" in out
    assert "broken.mp3" in err  # listed at the end with its reason
    code, out, _ = _run(capsys, "list", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 3 + 28  # the built-in library is always there
    mine = [r for r in rows if "instrumental" in r["tags"]]
    assert len(mine) == 3
    r = mine[0]
    assert set(r) >= {"id", "path", "title", "duration_s", "tags", "features", "music_cluster", "emotion_cluster"}
    assert set(r["features"]) >= {"danceability", "energy", "mode", "acousticness", "valence", "tempo", "key",
                                  "loudness_lufs", "vocal"}
    code, out, _ = _run(capsys, "show", r["id"], "--json")
    shown = json.loads(out)
    assert shown["id"] == r["id"] and shown["beats"] and shown["content_hash"].startswith(r["id"])
    code, out, _ = _run(capsys, "list")
    assert code == 0 and r["id"] in out
    png = tmp_path / "clusters.png"
    code, out, _ = _run(capsys, "stats", "--json", "--plot", str(png))
    st = json.loads(out)
    assert st["tracks"] == 31 and len(st["reference_cluster_means"]) == 6 and png.exists()
    code, out, _ = _run(capsys, "stats")
    assert "cluster means" in out and "reference corpus" in out
    code, out, _ = _run(capsys, "remove", r["id"])
    assert code == 0 and r["id"] in out
    Path(mine[1]["path"]).unlink()
    code, out, _ = _run(capsys, "prune")
    assert code == 0 and "pruned 1" in out and mine[1]["id"] in out


def test_unknown_id_is_one_line_exit_1(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _run(capsys, "show", "doesnotexist")
    assert code == 1
    assert err.strip().count("\n") == 0 and "no track with id" in err


def test_database_option_wins_over_environment(db: str, tmp_path: Path, music_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    code, out, _ = _run(capsys, "add", str(music_dir / "clicks_120.wav"), "--database", other, "--json")
    assert code == 0 and len(json.loads(out)["added"]) == 1
    assert (tmp_path / "other.sqlite").exists()
    code, out, _ = _run(capsys, "list", "--json", "--database", other)
    assert len(out.splitlines()) == 29


def test_add_exits_1_only_when_nothing_could_be_catalogued(db: str, music_dir: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("not music")
    (junk / "fake.mp3").write_bytes(b"not an mp3" * 100)
    for args in (["add", str(tmp_path / "nope")], ["add", str(junk / "fake.mp3")], ["add", str(junk), "--json"]):
        code, out, err = _run(capsys, *args)
        assert code == 1, (args, out, err)
    code, out, err = _run(capsys, "add", str(music_dir), "--jobs", "1")  # 3 good tracks next to a broken one
    assert code == 0 and "added 3" in out and "broken.mp3" in err
    copy = tmp_path / "copy.wav"
    copy.write_bytes((music_dir / "clicks_120.wav").read_bytes())
    code, _, err = _run(capsys, "add", str(copy))  # already catalogued elsewhere: reported, not a failure
    assert code == 0 and "duplicate of track" in err
