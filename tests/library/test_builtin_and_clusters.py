"""The shipped data: built-in library analysis, music clusters, feature calibration."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import library.catalog as catalog_mod
from library.builtin import builtin_dir, builtin_files, load_builtin_features
from library.catalog import default_catalog, open_catalog
from library.music_clusters import assign_cluster, cluster_means_table, load_clusters
from library.scan import content_hash
from library.types import FEATURES

DATA = Path(__file__).resolve().parents[2] / "library" / "data"


def test_shipped_builtin_analysis_matches_the_installed_clips() -> None:
    files = builtin_files()
    assert len(files) == 28
    shipped = load_builtin_features()
    assert {content_hash(f) for f in files} == set(shipped)
    moods = {f.parent.name for f in files}
    assert moods == {"calm", "energetic", "happy", "nostalgic", "tender"}


def test_default_catalog_uses_the_precomputed_analysis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_analysis(path: str):  # would be called for any clip not covered by the shipped JSON
        raise AssertionError(f"analysed {path}")

    monkeypatch.setattr(catalog_mod, "_analyse_one", no_analysis)
    cat = default_catalog(home=tmp_path)
    tracks = cat.tracks()
    assert len(tracks) == 28
    for t in tracks:
        assert "builtin" in t.tags and Path(t.path).parent.name in t.tags
        assert t.music_cluster is not None and len(t.beats) > 10 and t.vocal is not None
        assert 60 <= t.features["tempo"] <= 160
    # second open: unchanged, quick
    s = catalog_mod.Catalog.add_paths(cat, [builtin_dir()], jobs=1)
    assert len(s.unchanged) == 28
    assert (tmp_path / "catalog.sqlite").exists()


def test_builtin_library_found_at_a_new_path_follows_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A catalog filled from one install of the package (say .venv at /a), then opened from another install of the
    # same package at another path (/b, a re-created venv or a CI checkout): the clips' bytes are known under paths
    # that no longer exist, and the shipped analysis matches them. The rows follow the files; nothing is re-analysed.
    import library.builtin as builtin_mod

    old_root, new_root = tmp_path / "a" / "tracks", tmp_path / "b" / "tracks"
    for f in builtin_files()[:3]:
        dest = old_root / f.parent.name / f.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dest)
    monkeypatch.setattr(builtin_mod, "builtin_dir", lambda: old_root)
    cat = default_catalog(home=tmp_path / "home")
    before = {t.id: t for t in cat.tracks()}
    assert len(before) == 3
    shutil.move(old_root.parent, new_root.parent)  # the old install is gone, the new one holds the same bytes
    monkeypatch.setattr(builtin_mod, "builtin_dir", lambda: new_root)
    monkeypatch.setattr(catalog_mod, "_analyse_one", lambda path: (_ for _ in ()).throw(AssertionError(path)))
    cat = default_catalog(home=tmp_path / "home")  # raised IntegrityError before: same id inserted twice
    after = {t.id: t for t in cat.tracks()}
    assert set(after) == set(before) and cat.missing() == []
    for tid, t in after.items():
        assert Path(t.path).is_relative_to(new_root) and t.beats == before[tid].beats and "builtin" in t.tags


def test_a_copy_of_a_builtin_clip_elsewhere_is_a_reported_duplicate(tmp_path: Path) -> None:
    cat = default_catalog(home=tmp_path / "home")
    copy = tmp_path / "mine" / builtin_files()[0].name
    copy.parent.mkdir()
    shutil.copy(builtin_files()[0], copy)
    s = cat.add_paths([copy], jobs=1, precomputed=load_builtin_features())
    assert not s.added and not s.updated and "duplicate of track" in s.skipped[0][1]
    assert len(cat.tracks()) == 28 and all(Path(t.path).is_relative_to(builtin_dir()) for t in cat.tracks())


@pytest.mark.slow
def test_changed_package_clip_is_reanalysed(tmp_path: Path) -> None:
    # a clip whose bytes are not in the shipped table is analysed, and the result equals the shipped one
    src = builtin_files()[0]
    shipped = load_builtin_features()[content_hash(src)]
    copy = tmp_path / "calm" / src.name
    copy.parent.mkdir()
    shutil.copy(src, copy)
    cat = open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    s = cat.add_paths([copy], jobs=1, precomputed={})
    t = cat.get(s.added[0])
    assert t.features["tempo"] == pytest.approx(shipped["tempo_bpm"], rel=1e-6)
    assert t.key == shipped["key"] and t.features["mode"] == shipped["mode"]
    assert t.features["energy"] == pytest.approx(shipped["energy"], abs=1e-6)


def test_cluster_model_shape_and_choice() -> None:
    m = load_clusters()
    data = json.loads((DATA / "music_clusters.json").read_text())
    assert m.k == data["k"] == 6
    assert m.centres_z.shape == (6, 6)
    ks = [r["k"] for r in data["model_selection"]]
    assert ks == list(range(2, 11))
    assert all(np.isfinite(r["silhouette"]) for r in data["model_selection"])


def test_assign_cluster_puts_each_reference_mean_in_its_own_cluster() -> None:
    table = cluster_means_table()
    assert len(table) == 6
    for row in table:
        assert assign_cluster(row) == row["cluster"]


def test_assign_cluster_needs_all_six_features() -> None:
    with pytest.raises(ValueError, match="features miss"):
        assign_cluster({"energy": 0.5})


def test_library_cluster_means_table() -> None:
    rows = [dict(zip(FEATURES, (0.5, 0.5, 1, 0.2, 0.4, 100))), dict(zip(FEATURES, (0.7, 0.9, 0, 0.1, 0.6, 140)))]
    tab = cluster_means_table(rows, [2, 2])
    assert tab == [{"cluster": 2, "n": 2, "danceability": 0.6, "energy": 0.7, "mode": 0.5,
                    "acousticness": 0.15, "valence": 0.5, "tempo": 120.0}]


def test_calibration_quantiles_are_monotone() -> None:
    cal = json.loads((DATA / "feature_calibration.json").read_text())
    for k in ("danceability", "energy", "acousticness", "valence"):
        q = cal["quantiles"][k]
        assert len(q) == 101 and all(b >= a for a, b in zip(q, q[1:])) and 0 <= q[0] and q[-1] <= 1
    e = cal["energy_by_loudness"]["energy"]
    assert all(b >= a for a, b in zip(e, e[1:]))


def test_cluster_plot(tmp_path: Path) -> None:
    from library.plots import plot_clusters

    cat = default_catalog(home=tmp_path)
    out = plot_clusters(cat.tracks(), tmp_path / "clusters.png")
    assert out.exists() and out.stat().st_size > 20_000
