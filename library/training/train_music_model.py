"""Retrain the shipped emotion → music-features model (library/data/music_model.cbm + .json), reproducibly.

Run: ``nice .venv/bin/python library/training/train_music_model.py`` (about a minute on 2 cores; the seed comparison is most of it).

Training pairs (emotion 8-vector → six features standardised with the music clusters' scaler), all built here:

1. **spotify** — the Spotify reference corpus (../shared/data/spotify/spotify_songs.csv, 28,356 unique tracks):
   each track's valence/energy/tempo/mode placed on the circumplex by :func:`models.track_emotion.va_from_features`
   and mapped to the six labels by :func:`models.mapping.labels_from_va`, paired with its six features.
   Weight 1 each.
2. **library** — the built-in library's 28 tracks from the catalog: the same emotion vector from their *measured*
   features, paired with those features. Weight 20 each (they are the tracks we pick from).
3. **mood_prior** — the built-in library's mood folders: 60 points jittered (σ 0.08) around each folder's
   circumplex position (:data:`models.track_emotion.MOOD_VA`), labels from the circumplex, paired with the mean
   measured features of that folder's tracks (mode and tempo from the prompts in LICENSE-MUSIC). Weight 2.
4. **affect_prior** — 300 voice-like emotion vectors per label: peaked label distributions (Dirichlet, α 6 on the
   label, 0.6 elsewhere), valence/arousal = the label mix's circumplex position + noise σ 0.1, paired with the
   music-psychology prototype of that emotion (:data:`AFFECT_PROTOTYPES`, Juslin & Laukka 2004) + noise.
   These teach the model what peaked, voice-model-like vectors mean; the Spotify pairs alone only have the smooth
   label distributions of ``labels_from_va``. Weight 2.

Held out: a fixed random 20 % of every source (seed 0). Reported on the held-out part, per source and overall:
CatBoost's MultiRMSE (sqrt of the mean over rows of the *sum* of squared z-errors over the six features), the mean
per-feature RMSE and R² (scikit-learn's ``uniform_average``), in z-units and on min-max [0, 1]-scaled features (the
scale the seed most likely used), for CatBoost and the seed's MultiOutputRegressor(GradientBoostingRegressor).
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from library.types import FEATURES
from models.mapping import LABEL_VA, labels_from_va
from models.track_emotion import MOOD_VA, emotion_vectors_from_table
from models.types import LABELS

SPOTIFY_CSV = REPO.parent / "shared" / "data" / "spotify" / "spotify_songs.csv"
OUT_DIR = REPO / "library" / "data"
SEED = 0

#: Music-feature prototypes of the six emotions (Spotify scales), from the cue tables of Juslin & Laukka (2004)
#: "Expression, perception, and induction of musical emotions" (tempo, mode, loudness/energy, timbre) and
#: Gabrielsson & Lindström (2010): sadness slow, minor, soft, acoustic; joy fast, major, loud, danceable; tenderness
#: (love) slow-moderate, major, soft, acoustic; anger fast, minor, loud, harsh; fear fast-irregular, minor, soft-to-
#: loud; surprise fast, major-ish, loud.
AFFECT_PROTOTYPES: dict[str, dict[str, float]] = {
    "sadness": {"danceability": 0.35, "energy": 0.25, "mode": 0.0, "acousticness": 0.70, "valence": 0.18, "tempo": 74},
    "joy": {"danceability": 0.75, "energy": 0.80, "mode": 1.0, "acousticness": 0.15, "valence": 0.85, "tempo": 124},
    "love": {"danceability": 0.50, "energy": 0.35, "mode": 1.0, "acousticness": 0.60, "valence": 0.62, "tempo": 90},
    "anger": {"danceability": 0.50, "energy": 0.90, "mode": 0.0, "acousticness": 0.05, "valence": 0.25, "tempo": 140},
    "fear": {"danceability": 0.35, "energy": 0.60, "mode": 0.0, "acousticness": 0.30, "valence": 0.15, "tempo": 112},
    "surprise": {"danceability": 0.62, "energy": 0.75, "mode": 1.0, "acousticness": 0.20, "valence": 0.62,
                 "tempo": 130},
}
_NOISE = {"danceability": 0.08, "energy": 0.08, "acousticness": 0.10, "valence": 0.08, "tempo": 10.0}

WEIGHTS = {"spotify": 1.0, "library": 20.0, "mood_prior": 2.0, "affect_prior": 2.0}


def spotify_pairs() -> tuple[np.ndarray, np.ndarray]:
    seen: set[str] = set()
    rows = []
    with open(SPOTIFY_CSV, newline="") as f:
        for r in csv.DictReader(f):
            if r["track_id"] in seen:
                continue
            seen.add(r["track_id"])
            rows.append([float(r[k]) for k in FEATURES])
    y = np.asarray(rows)
    x = emotion_vectors_from_table(y[:, 4], y[:, 1], y[:, 2], y[:, 5])
    return x, y


def library_tracks() -> list:
    from library.catalog import default_catalog

    return [t for t in default_catalog().tracks(include_derived=False)
            if all(t.features.get(k) is not None for k in FEATURES)]


def library_pairs(tracks: list) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray([[float(t.features[k]) for k in FEATURES] for t in tracks])
    x = emotion_vectors_from_table(y[:, 4], y[:, 1], y[:, 2], y[:, 5])
    return x, y


def _prompted_tempo_mode() -> dict[str, tuple[float, float]]:
    """file stem → (tempo BPM, mode) from the built-in library's LICENSE-MUSIC prompt table."""
    import importlib.metadata as md
    import re

    out: dict[str, tuple[float, float]] = {}
    dist = md.distribution("immich-memories-music")
    for f in dist.files or []:
        if f.name == "LICENSE-MUSIC":
            text = Path(str(f.locate())).read_text()
            for m in re.finditer(r"(\S+)\.opus\s+(\d+) bpm\s+\S+ (major|minor)", text):
                out[m.group(1)] = (float(m.group(2)), 1.0 if m.group(3) == "major" else 0.0)
    return out


def mood_prior_pairs(tracks: list, rng: np.random.Generator, per_mood: int = 60) -> tuple[np.ndarray, np.ndarray]:
    prompted = _prompted_tempo_mode()
    xs, ys = [], []
    for mood, (v0, a0) in MOOD_VA.items():
        members = [t for t in tracks if mood in t.tags]
        if not members:
            continue
        feats = np.asarray([[float(t.features[k]) for k in FEATURES] for t in members])
        for i, t in enumerate(members):
            stem = Path(t.path).stem
            if stem in prompted:
                feats[i, FEATURES.index("tempo")], feats[i, FEATURES.index("mode")] = prompted[stem]
        target = feats.mean(axis=0)
        for _ in range(per_mood):
            v = float(np.clip(v0 + rng.normal(0, 0.08), -1, 1))
            a = float(np.clip(a0 + rng.normal(0, 0.08), -1, 1))
            lab = labels_from_va(v, a)
            xs.append([lab[k] for k in LABELS] + [v, a])
            ys.append(target)
    return np.asarray(xs).reshape(-1, 8), np.asarray(ys).reshape(-1, 6)


def affect_prior_pairs(rng: np.random.Generator, per_label: int = 300) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for j, label in enumerate(LABELS):
        alpha = np.full(len(LABELS), 0.6)
        alpha[j] = 6.0
        proto = AFFECT_PROTOTYPES[label]
        for _ in range(per_label):
            p = rng.dirichlet(alpha)
            v = sum(p[i] * LABEL_VA[k][0] for i, k in enumerate(LABELS)) + rng.normal(0, 0.1)
            a = sum(p[i] * LABEL_VA[k][1] for i, k in enumerate(LABELS)) + rng.normal(0, 0.1)
            xs.append(list(p) + [float(np.clip(v, -1, 1)), float(np.clip(a, -1, 1))])
            row = []
            for k in FEATURES:
                if k == "mode":
                    row.append(float(rng.random() < (0.85 if proto[k] >= 0.5 else 0.15)))
                else:
                    lo, hi = (40.0, 220.0) if k == "tempo" else (0.0, 1.0)
                    row.append(float(np.clip(proto[k] + rng.normal(0, _NOISE[k]), lo, hi)))
            ys.append(row)
    return np.asarray(xs), np.asarray(ys)


def music_scaler(spotify_y: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """The music clusters' standardisation (library.music_clusters), or z-scores on the Spotify corpus if absent."""
    try:
        from library.music_clusters import load_clusters

        m = load_clusters()
        return np.asarray(m.mean, float), np.asarray(m.scale, float), "library.music_clusters (music_clusters.json)"
    except (ImportError, OSError) as exc:
        print(f"music clusters not available ({exc}); using Spotify z-scores", file=sys.stderr)
        return spotify_y.mean(axis=0), spotify_y.std(axis=0), "spotify z-score (library.music_clusters not available)"


def _metrics(y_true_z: np.ndarray, y_pred_z: np.ndarray, lo: np.ndarray, hi: np.ndarray, mean: np.ndarray,
             scale: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import r2_score

    err = y_pred_z - y_true_z
    out = {
        "multi_rmse_z": float(np.sqrt(np.mean(np.sum(err**2, axis=1)))),
        "rmse_z": float(np.mean(np.sqrt(np.mean(err**2, axis=0)))),
        "r2": float(r2_score(y_true_z, y_pred_z)),
    }
    # the same on min-max [0, 1] features (Spotify ranges), the seed's likely scale
    t01 = (y_true_z * scale + mean - lo) / (hi - lo)
    p01 = (y_pred_z * scale + mean - lo) / (hi - lo)
    e01 = p01 - t01
    out["multi_rmse_01"] = float(np.sqrt(np.mean(np.sum(e01**2, axis=1))))
    out["rmse_01"] = float(np.mean(np.sqrt(np.mean(e01**2, axis=0))))
    out["r2_per_feature"] = {k: float(r2_score(y_true_z[:, i], y_pred_z[:, i])) for i, k in enumerate(FEATURES)}
    return out


def main() -> int:
    from catboost import CatBoostRegressor
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.multioutput import MultiOutputRegressor

    t0 = time.time()
    rng = np.random.default_rng(SEED)
    sources: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    sources["spotify"] = spotify_pairs()
    try:
        tracks = library_tracks()
    except ImportError as exc:
        print(f"library catalog not available ({exc}); training without library pairs", file=sys.stderr)
        tracks = []
    if tracks:
        sources["library"] = library_pairs(tracks)
        sources["mood_prior"] = mood_prior_pairs(tracks, rng)
    sources["affect_prior"] = affect_prior_pairs(rng)

    mean, scale, scaler_name = music_scaler(sources["spotify"][1])
    spot = sources["spotify"][1]
    lo, hi = spot.min(axis=0), spot.max(axis=0)

    split: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, (x, y) in sources.items():
        idx = rng.permutation(len(x))
        n_test = max(1, int(round(0.2 * len(x))))
        split[name] = (idx[n_test:], idx[:n_test])

    def stack(part: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        xs, ys, ws, src = [], [], [], []
        for name, (x, y) in sources.items():
            ii = split[name][part]
            xs.append(x[ii])
            ys.append((y[ii] - mean) / scale)
            ws.append(np.full(len(ii), WEIGHTS[name]))
            src.append(np.full(len(ii), name, dtype=object))
        return np.vstack(xs), np.vstack(ys), np.concatenate(ws), np.concatenate(src)

    x_tr, y_tr, w_tr, _ = stack(0)
    x_te, y_te, _, s_te = stack(1)

    params = dict(loss_function="MultiRMSE", iterations=800, depth=4, learning_rate=0.1, random_seed=SEED,
                  verbose=False, thread_count=2, allow_writing_files=False)
    cb = CatBoostRegressor(**params)
    cb.fit(x_tr, y_tr, sample_weight=w_tr)
    # the seed's comparison; fitted on a fixed 8,000-row subsample to keep CPU short (six separate GBRs)
    sub = np.random.default_rng(SEED).choice(len(x_tr), size=min(8000, len(x_tr)), replace=False)
    mor = MultiOutputRegressor(GradientBoostingRegressor(random_state=SEED))
    mor.fit(x_tr[sub], y_tr[sub], sample_weight=w_tr[sub])

    report: dict[str, dict[str, dict]] = {"catboost": {}, "mor_gbr": {}, "mean_baseline": {}}
    baseline = np.average(y_tr, axis=0, weights=w_tr)
    for model_name, pred in (("catboost", cb.predict(x_te)), ("mor_gbr", mor.predict(x_te)),
                             ("mean_baseline", np.tile(baseline, (len(x_te), 1)))):
        report[model_name]["all"] = _metrics(y_te, pred, lo, hi, mean, scale)
        for name in sources:
            m = s_te == name
            report[model_name][name] = _metrics(y_te[m], pred[m], lo, hi, mean, scale)

    # Final model: the same parameters on all pairs.
    final = CatBoostRegressor(**params)
    x_all, y_all, w_all, _ = (np.vstack([x_tr, x_te]), np.vstack([y_tr, y_te]),
                              np.concatenate([w_tr, np.array([WEIGHTS[s] for s in s_te])]), None)
    final.fit(x_all, y_all, sample_weight=w_all)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    final.save_model(str(OUT_DIR / "music_model.cbm"))

    r2 = report["catboost"]["all"]["r2_per_feature"]
    meta = {
        "features": list(FEATURES),
        "inputs": list(LABELS) + ["valence", "arousal"],
        "scaler": {"source": scaler_name, "mean": dict(zip(FEATURES, map(float, mean))),
                   "scale": dict(zip(FEATURES, map(float, scale)))},
        # trust in each predicted feature when ranking tracks: held-out R², floored so no feature is ignored
        "weights": {k: round(max(0.1, r2[k]), 4) for k in FEATURES},
        "training_pairs": {name: {"n": len(x), "weight": WEIGHTS[name]} for name, (x, _) in sources.items()},
        "params": {k: v for k, v in params.items() if k not in ("verbose", "allow_writing_files")},
        "heldout": report,
        "seed": SEED,
    }
    (OUT_DIR / "music_model.json").write_text(json.dumps(meta, indent=1))
    print(json.dumps({m: {s: {k: (round(v, 3) if isinstance(v, float) else v) for k, v in d.items()
                              if k != "r2_per_feature"} for s, d in rep.items()} for m, rep in report.items()},
                     indent=1))
    print("catboost held-out R² per feature:", {k: round(v, 3) for k, v in r2.items()})
    print(f"trained in {time.time() - t0:.0f} s → {OUT_DIR / 'music_model.cbm'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
