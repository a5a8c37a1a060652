"""Refit the shipped emotion clusters (models/data/emotion_clusters.json), reproducibly.

Run: ``nice .venv/bin/python library/training/fit_emotion_clusters.py`` (about a minute the first time; the voice
model's output on emodb is cached under ``.moodmix/cache/``).

The fitting set (8-vectors: six labels, valence, arousal), equal weight per point:

1. **affect prior** — 150 points per label (900): peaked label distributions (Dirichlet, α 6 on the label, 0.6
   elsewhere) at the label mix's circumplex position + noise σ 0.1 (:data:`models.mapping.LABEL_VA`);
2. **emodb voices** — the shipped voice model's estimate of every emodb utterance (535);
3. **library tracks** — the emotion vector of each built-in library track from its measured features
   (:func:`models.track_emotion.emotion_from_features`, 28), repeated 5× so the tracks we pick from count.

k is chosen from 2..9 by the silhouette score (all scores are stored in the JSON and printed).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from models.emotion_clusters import CLUSTERS_PATH, fit_emotion_clusters
from models.mapping import LABEL_VA
from models.types import LABELS

EMODB = REPO.parent / "shared" / "data" / "emodb"
CACHE = REPO / ".moodmix" / "cache"
SEED = 0


def affect_prior(rng: np.random.Generator, per_label: int = 150) -> np.ndarray:
    rows = []
    for j, _ in enumerate(LABELS):
        alpha = np.full(len(LABELS), 0.6)
        alpha[j] = 6.0
        for _ in range(per_label):
            p = rng.dirichlet(alpha)
            v = sum(p[i] * LABEL_VA[k][0] for i, k in enumerate(LABELS)) + rng.normal(0, 0.1)
            a = sum(p[i] * LABEL_VA[k][1] for i, k in enumerate(LABELS)) + rng.normal(0, 0.1)
            rows.append(list(p) + [float(np.clip(v, -1, 1)), float(np.clip(a, -1, 1))])
    return np.asarray(rows)


def emodb_voice_vectors() -> tuple[np.ndarray, list[dict[str, str]]]:
    """The shipped voice model's 8-vector for every emodb utterance (cached: run once)."""
    import soundfile as sf

    from models.voice_emotion import DEFAULT_WEIGHTS, load_voice_model

    with open(EMODB / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    CACHE.mkdir(parents=True, exist_ok=True)
    cache = CACHE / "emodb_voice_vectors.npz"
    stamp = f"{DEFAULT_WEIGHTS.stat().st_mtime_ns}:{len(rows)}"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            if str(z["stamp"]) == stamp:
                return z["vectors"], rows
    model = load_voice_model("stats")  # the clusters were fitted on the 82-statistic model's vectors
    vecs = []
    for r in rows:
        y, sr = sf.read(EMODB / r["path"], dtype="float32", always_2d=True)
        vecs.append(model.predict(y.mean(axis=1)[None, :], sr).vector())
    out = np.asarray(vecs)
    np.savez(cache, vectors=out, stamp=np.array(stamp))
    return out, rows


def library_vectors() -> np.ndarray:
    from library.catalog import default_catalog
    from models.track_emotion import emotion_vector_from_features

    tracks = [t for t in default_catalog().tracks(include_derived=False) if t.features]
    return np.asarray([emotion_vector_from_features(t.features) for t in tracks]).reshape(-1, 8)


def main() -> int:
    rng = np.random.default_rng(SEED)
    prior = affect_prior(rng)
    voices, _ = emodb_voice_vectors()
    try:
        lib = library_vectors()
    except ImportError as exc:
        print(f"library catalog not available ({exc}); fitting without library tracks", file=sys.stderr)
        lib = np.zeros((0, 8))
    x = np.vstack([prior, voices, np.repeat(lib, 5, axis=0)])
    clusters, scores = fit_emotion_clusters(x, k_range=range(2, 10), seed=SEED)
    d = clusters.to_dict()
    d["fitted_on"] = {"affect_prior": len(prior), "emodb_voices": len(voices), "library_tracks": len(lib),
                      "library_repeat": 5}
    d["descriptions"] = [clusters.describe(i) for i in range(clusters.k)]
    CLUSTERS_PATH.parent.mkdir(parents=True, exist_ok=True)
    CLUSTERS_PATH.write_text(json.dumps(d, indent=1))
    print("silhouette by k:", {k: round(v, 3) for k, v in scores.items()})
    print(f"chose k={clusters.k}:", d["descriptions"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
