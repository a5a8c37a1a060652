"""``library stats --plot``: the library on the mood plane, and the music clusters in 2-D.

:func:`plot_library` draws what selection sees (:mod:`library.select`): every usable track at its place on this
library's own mood plane (valence from valence and mode, arousal from energy and tempo, as percentiles of the
library), coloured by its music cluster (k-means on the library's spread), with the six emotions' positions for
orientation, so a creator sees which tracks an angry or a sad voice lands near and why a track wins.

:func:`plot_clusters`: PCA (fitted on the standardised reference corpus) projects the six features to two axes; the corpus is drawn
light, coloured by cluster, with the cluster centres as large markers and the library's tracks as labelled points.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from library.types import FEATURES, Track

__all__ = ["plot_clusters", "plot_library", "reference_features"]

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

    from library.music_clusters import load_clusters

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


def plot_library(tracks: Sequence[Track], out: str | Path) -> Path:
    """Draw the library's tracks on its own mood plane, coloured by music cluster, to a PNG; return its path.

    Raises
    ------
    ValueError
        No track of ``tracks`` has the six features (nothing to draw).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from library.select import _PLANE_SPAN, _usable, library_spread
    from models.mapping import LABEL_VA

    usable = [t for t in tracks if _usable(t)]
    if not usable:
        raise ValueError("no analysed track to plot: add music with `moodmix library add PATH`")
    spread = library_spread(usable)
    fig, ax = plt.subplots(figsize=(9, 8), dpi=110)
    cmap = plt.get_cmap("tab10")
    lim = 1.0
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    for name, (v, a) in LABEL_VA.items():
        ax.scatter([v], [a], s=500, color="0.93", edgecolors="0.7", zorder=1)
        ax.annotate(name, (v, a), ha="center", va="center", fontsize=8, color="0.45", zorder=2)
    for k in range(spread.k):
        sel = spread.music_clusters == k
        ax.scatter(spread.valence[sel], spread.arousal[sel], s=46, color=cmap(k % 10), edgecolors="black",
                   linewidths=0.7, zorder=4, label=f"music group {k + 1} ({int(sel.sum())} tracks)")
    for t, v, a in zip(usable, spread.valence, spread.arousal):
        ax.annotate(t.title[:26], (v, a), textcoords="offset points", xytext=(5, -9), fontsize=6.5, zorder=5)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_xlabel("negative  \u2190  valence  \u2192  positive   (this library's own range)")
    ax.set_ylabel("calm  \u2190  arousal  \u2192  excited   (this library's own range)")
    ax.set_title(f"{len(usable)} tracks on the library's mood plane (\u00b1{_PLANE_SPAN} = its extremes); "
                 "grey: where each emotion sits", fontsize=10)
    ax.legend(loc="lower right", fontsize=8, frameon=True)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
