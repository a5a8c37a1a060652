"""Fit the music clusters on the Spotify reference corpus; writes library/data/music_clusters.json.

K-means on the six features (danceability, energy, mode, acousticness, valence, tempo) standardised to zero mean
and unit variance, over the 28,356 unique tracks of ../shared/data/spotify/spotify_songs.csv (duplicates from
several playlists dropped). k = 2..10 are fitted (n_init=10, seed 0); for each the script records the inertia
(elbow) and the silhouette (mean over a fixed random sample of 6,000 tracks, as the full O(n²) silhouette is slow).

Choice of k: among 4 ≤ k ≤ 8 (fewer than four clusters cannot separate calm from energetic *and* sad from happy,
which is what selection needs; more than eight leaves a 30-track library such as the built-in one with clusters of
two or three tracks, so the intersection with an emotion cluster is mostly empty) where the inertia curve has flattened (the next k lowers inertia by less than
15 %), the silhouettes that are tied with the best (within 0.002, below the sampling noise of the 6,000-track
silhouette) are equally good and the largest such k wins: finer clusters give selection more choice. On the corpus
k = 4, 5, 6 score 0.194, 0.194, 0.193, k = 7 and 8 drop to 0.190 and 0.188 (k = 9, 10 climb again to 0.190,
0.195, outside the range), so the rule picks k = 6, as the seed did. Silhouettes this low (≈ 0.2 for every k) say
the corpus has no sharply separated groups: the clusters are a partition of a continuum, useful as mood regions. The table of all k, the rule's outcome and the cluster means go into
the JSON and are printed; ``--k`` overrides the choice.

Run: ``nice .venv/bin/python library/training/fit_music_clusters.py`` (≈ 1 min on one core).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CSV = REPO.parent / "shared" / "data" / "spotify" / "spotify_songs.csv"
OUT = REPO / "library" / "data" / "music_clusters.json"
#: Silhouettes closer than this (on the 6,000-track sample) count as tied; the larger k wins a tie.
SILHOUETTE_TIE = 0.002
SIX = ("danceability", "energy", "mode", "acousticness", "valence", "tempo")


def main() -> None:
    import pandas as pd
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--k", type=int, default=None, help="force this k instead of the rule")
    args = ap.parse_args()

    d = pd.read_csv(args.csv).drop_duplicates("track_id")
    X = d[list(SIX)].to_numpy(dtype=np.float64)
    mean, std = X.mean(axis=0), X.std(axis=0)
    Z = (X - mean) / std
    rng = np.random.default_rng(0)
    sample = rng.choice(len(Z), size=min(6000, len(Z)), replace=False)
    table = []
    models = {}
    for k in range(2, 11):
        km = KMeans(n_clusters=k, n_init=10, random_state=0).fit(Z)
        sil = float(silhouette_score(Z[sample], km.labels_[sample]))
        table.append({"k": k, "inertia": round(float(km.inertia_), 1), "silhouette": round(sil, 4)})
        models[k] = km
        print(f"k={k:2d} inertia={km.inertia_:10.1f} silhouette={sil:.4f}", flush=True)
    for i, row in enumerate(table[:-1]):
        row["inertia_drop_next"] = round(1 - table[i + 1]["inertia"] / row["inertia"], 4)
    eligible = [r for r in table if 4 <= r["k"] <= 8 and r.get("inertia_drop_next", 0.0) < 0.15]
    best = max(r["silhouette"] for r in eligible)
    tied = [r for r in eligible if r["silhouette"] >= best - SILHOUETTE_TIE]
    chosen = args.k or max(r["k"] for r in tied)
    km = models[chosen]
    centres_z = km.cluster_centers_
    labels = km.labels_
    means = []
    for c in range(chosen):
        sel = X[labels == c]
        means.append({"cluster": c, "n": len(sel),
                      **{f: round(float(v), 4) for f, v in zip(SIX, sel.mean(axis=0))}})
    out = {
        "source": f"spotify_songs.csv, {len(d)} unique tracks",
        "features": list(SIX),
        "scaler": {"mean": [float(v) for v in mean], "scale": [float(v) for v in std]},
        "k": chosen,
        "rule": ("largest k among 4<=k<=8 (next-k inertia drop < 15 %) whose silhouette is within "
                 f"{SILHOUETTE_TIE} of the best" if not args.k else "forced"),
        "centres_z": [[round(float(v), 6) for v in row] for row in centres_z],
        "cluster_means": means,
        "model_selection": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"chose k={chosen}; wrote {args.out}")
    for m in means:
        print("  ".join(f"{k}={v}" for k, v in m.items()))


if __name__ == "__main__":
    main()
