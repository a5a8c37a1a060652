"""Music clusters: K-means on the six standardised Spotify-scale features, fitted on the reference corpus.

The scaler (mean, std) and centres ship in ``library/data/music_clusters.json``, written by
``library/training/fit_music_clusters.py`` (which also records why k was chosen: silhouette and inertia for
k = 2..10). A track's cluster is the nearest centre in standardised space.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from library.types import FEATURES

__all__ = ["ClusterModel", "assign_cluster", "cluster_means_table", "load_clusters", "standardise"]

_DATA = Path(__file__).parent / "data" / "music_clusters.json"


class ClusterModel:
    """The fitted scaler and centres. ``centres_z`` has shape (k, 6) in standardised units."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        if list(data["features"]) != list(FEATURES):
            raise ValueError(f"cluster file features {data['features']} differ from {list(FEATURES)}")
        self.data = dict(data)
        self.mean = np.asarray(data["scaler"]["mean"], dtype=np.float64)
        self.scale = np.asarray(data["scaler"]["scale"], dtype=np.float64)
        self.centres_z = np.asarray(data["centres_z"], dtype=np.float64)
        self.k = int(data["k"])

    @property
    def centres(self) -> np.ndarray:
        """Centres in feature units, shape (k, 6)."""
        return self.centres_z * self.scale + self.mean

    def standardise(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean) / self.scale

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Nearest centre for each row of ``X`` (n, 6) in feature units."""
        Z = self.standardise(np.atleast_2d(X))
        d = ((Z[:, None, :] - self.centres_z[None, :, :]) ** 2).sum(axis=2)
        return np.asarray(d.argmin(axis=1))


@functools.lru_cache(maxsize=4)
def load_clusters(path: str | None = None) -> ClusterModel:
    """The shipped cluster model (or one from ``path``)."""
    return ClusterModel(json.loads(Path(path or _DATA).read_text()))


def _vector(features: Mapping[str, float]) -> np.ndarray:
    missing = [k for k in FEATURES if features.get(k) is None]
    if missing:
        raise ValueError(f"features miss {missing}; expected all of {list(FEATURES)}")
    return np.array([float(features[k]) for k in FEATURES])


def standardise(features: Mapping[str, float]) -> np.ndarray:
    """The six features as a standardised vector (6,) with the reference corpus' scaler."""
    return load_clusters().standardise(_vector(features))


def assign_cluster(features: Mapping[str, float]) -> int:
    """Music cluster (0..k-1) of one track from its six :data:`~library.types.FEATURES`."""
    return int(load_clusters().predict(_vector(features)[None, :])[0])


def cluster_means_table(rows: Sequence[Mapping[str, float]] | None = None,
                        clusters: Sequence[int] | None = None) -> list[dict[str, float]]:
    """Mean of the six features per cluster, like the seed's table.

    Without arguments: the reference corpus' table (shipped). With ``rows`` (feature dicts) and their
    ``clusters``: the same table for those tracks (clusters with no track are left out).
    """
    model = load_clusters()
    if rows is None:
        return [dict(m) for m in model.data["cluster_means"]]
    if clusters is None or len(clusters) != len(rows):
        raise ValueError("cluster_means_table needs one cluster per row")
    out = []
    for c in range(model.k):
        sel = [r for r, k in zip(rows, clusters) if k == c]
        if sel:
            out.append({"cluster": c, "n": len(sel),
                        **{f: round(float(np.mean([float(r[f]) for r in sel])), 4) for f in FEATURES}})
    return out
