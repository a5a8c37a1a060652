"""``library stats --plot``: the music clusters in 2-D.

PCA (fitted on the standardised reference corpus) projects the six features to two axes; the corpus is drawn
light, coloured by cluster, with the cluster centres as large markers and the library's tracks as labelled points.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from library.types import FEATURES, Track

__all__ = ["plot_clusters", "reference_features"]

_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "spotify" / "spotify_songs.csv"


def reference_features(csv: Path | None = None) -> np.ndarray | None:
    """The reference corpus' six features (n, 6), or None when the CSV is not on this machine."""
    p = csv or _CSV
    if not p.exists():
        return None
    import pandas as pd

    df = pd.read_csv(p, usecols=list(FEATURES)).drop_duplicates()
    return np.asarray(df[list(FEATURES)].to_numpy(dtype=np.float64))


def plot_clusters(tracks: Sequence[Track], out: str | Path, *, csv: Path | None = None,
                  max_reference: int = 8000) -> Path:
    """Draw the clusters and the library's tracks to a PNG and return its path.

    Without the reference CSV only the centres and the tracks are drawn (the PCA is then fitted on the centres).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from library.clusters import load_clusters

    model = load_clusters()
    ref = reference_features(csv)
    base = model.standardise(ref) if ref is not None else model.centres_z
    mean = base.mean(axis=0)
    _, _, vt = np.linalg.svd(base - mean, full_matrices=False)
    axes = vt[:2]

    def proj(Z: np.ndarray) -> np.ndarray:
        return np.asarray((Z - mean) @ axes.T)

    fig, ax = plt.subplots(figsize=(9, 7), dpi=110)
    cmap = plt.get_cmap("tab10")
    if ref is not None:
        rng = np.random.default_rng(0)
        idx = rng.choice(len(ref), size=min(max_reference, len(ref)), replace=False)
        Zr = base[idx]
        lab = model.predict(ref[idx])
        P = proj(Zr)
        ax.scatter(P[:, 0], P[:, 1], s=3, c=[cmap(k % 10) for k in lab], alpha=0.12, linewidths=0)
    C = proj(model.centres_z)
    for k, (x, y) in enumerate(C):
        ax.scatter([x], [y], s=260, marker="X", color=cmap(k % 10), edgecolors="black", linewidths=1.2, zorder=3)
        ax.annotate(f"cluster {k}", (x, y), textcoords="offset points", xytext=(8, 8), fontsize=10,
                    fontweight="bold")
    usable = [t for t in tracks if all(f in t.features for f in FEATURES)]
    if usable:
        X = np.array([[t.features[f] for f in FEATURES] for t in usable])
        P = proj(model.standardise(X))
        lab = model.predict(X)
        ax.scatter(P[:, 0], P[:, 1], s=40, c=[cmap(k % 10) for k in lab], edgecolors="black", linewidths=0.8,
                   zorder=4)
        for t, (x, y) in zip(usable, P):
            ax.annotate(t.title[:24], (x, y), textcoords="offset points", xytext=(4, -9), fontsize=6.5)
    ax.set_xlabel("PC 1 of the standardised six features")
    ax.set_ylabel("PC 2")
    ax.set_title(f"Music clusters (k={model.k}, K-means on the Spotify corpus) and {len(usable)} library tracks")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
