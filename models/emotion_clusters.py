"""Emotion clusters: K-means over emotion 8-vectors (six label probabilities, valence, arousal).

Voices and library tracks share these clusters, so "the voice's emotion cluster" and "a track's emotion cluster"
can be compared. The vectors are clustered as they are (labels in [0, 1], valence/arousal in [-1, 1]): the
circumplex coordinates carry about as much spread as the six labels together, which is the balance we want.

The shipped clusters (``models/data/emotion_clusters.json``) are fitted by
``library/training/fit_emotion_clusters.py`` on a documented set (its docstring lists it) with k chosen by the
silhouette score; the JSON records the set, the silhouette of every k tried and the centres.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ModelLoadError
from models.types import LABELS, EmotionEstimate

__all__ = [
    "CLUSTERS_PATH",
    "EmotionClusters",
    "assign_emotion_cluster",
    "describe_va",
    "fit_emotion_clusters",
    "load_emotion_clusters",
]

CLUSTERS_PATH = Path(__file__).resolve().parent / "data" / "emotion_clusters.json"
_DIM = len(LABELS) + 2


def _as_matrix(vectors: Sequence[EmotionEstimate | Sequence[float]] | np.ndarray) -> np.ndarray:
    if isinstance(vectors, np.ndarray):
        x = np.atleast_2d(vectors.astype(np.float64))
    else:
        x = np.asarray([v.vector() if isinstance(v, EmotionEstimate) else list(map(float, v)) for v in vectors],
                       dtype=np.float64).reshape(len(vectors), -1)
    if x.shape[1] != _DIM:
        raise ValueError(f"emotion vectors must have {_DIM} values (six labels, valence, arousal); got {x.shape[1]}")
    return x


def describe_va(valence: float, arousal: float) -> str:
    """Two plain words for a circumplex point, e.g. ``"calm, warm"`` or ``"intense, dark"``."""
    if arousal <= -0.35:
        a = "calm"
    elif arousal <= 0.05:
        a = "relaxed"
    elif arousal <= 0.45:
        a = "lively"
    else:
        a = "intense"
    if valence >= 0.45:
        v = "bright"
    elif valence >= 0.15:
        v = "warm"
    elif valence > -0.2:
        v = "neutral"
    else:
        v = "dark"
    return f"{a}, {v}"


@dataclass(frozen=True)
class EmotionClusters:
    """K-means emotion clusters: ``centres`` has shape (k, 8)."""

    centres: np.ndarray
    meta: Mapping[str, Any]

    @property
    def k(self) -> int:
        return int(self.centres.shape[0])

    def assign(self, vectors: Sequence[EmotionEstimate | Sequence[float]] | np.ndarray) -> np.ndarray:
        """Nearest centre (Euclidean) of each vector: int array of shape (n,)."""
        x = _as_matrix(vectors)
        d = ((x[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2)
        return np.asarray(np.argmin(d, axis=1))

    def assign_one(self, vector: EmotionEstimate | Sequence[float]) -> int:
        return int(self.assign([vector])[0])

    def describe(self, cluster: int) -> str:
        """Plain words for a cluster: its centre's circumplex words and top label, e.g. ``"calm, warm (love)"``."""
        c = self.centres[cluster]
        top = LABELS[int(np.argmax(c[: len(LABELS)]))]
        return f"{describe_va(float(c[-2]), float(c[-1]))} ({top})"

    def to_dict(self) -> dict[str, Any]:
        return {**dict(self.meta), "k": self.k, "centres": [[round(float(v), 6) for v in c] for c in self.centres],
                "columns": list(LABELS) + ["valence", "arousal"]}


def fit_emotion_clusters(
    vectors: Sequence[EmotionEstimate | Sequence[float]] | np.ndarray,
    *,
    k_range: Sequence[int] = range(2, 10),
    seed: int = 0,
    sample_weight: np.ndarray | None = None,
) -> tuple[EmotionClusters, dict[int, float]]:
    """Fit K-means for every k in ``k_range`` and keep the k with the highest silhouette score.

    Returns
    -------
    clusters : EmotionClusters
    silhouettes : dict k → silhouette score (Euclidean, on at most 4000 points, seeded)
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    x = _as_matrix(vectors)
    scores: dict[int, float] = {}
    fits: dict[int, np.ndarray] = {}
    for k in k_range:
        km = KMeans(n_clusters=int(k), n_init=10, random_state=seed).fit(x, sample_weight=sample_weight)
        scores[int(k)] = float(silhouette_score(x, km.labels_, sample_size=min(4000, len(x)), random_state=seed))
        fits[int(k)] = km.cluster_centers_
    best = max(scores, key=lambda k: scores[k])
    centres = fits[best]
    # Stable order: by arousal, then valence, so cluster ids read low → high energy.
    order = np.lexsort((centres[:, -2], centres[:, -1]))
    return EmotionClusters(centres=centres[order], meta={"silhouette": scores, "seed": seed}), scores


def load_emotion_clusters(path: str | Path | None = None) -> EmotionClusters:
    """Load the shipped emotion clusters (default) or a JSON written by the fitting script.

    Raises
    ------
    ModelLoadError
        The file is missing or malformed.
    """
    return _load(str(Path(path) if path is not None else CLUSTERS_PATH))


@lru_cache(maxsize=4)
def _load(path_str: str) -> EmotionClusters:
    path = Path(path_str)
    try:
        d = json.loads(path.read_text())
        centres = np.asarray(d["centres"], dtype=np.float64)
    except (OSError, KeyError, ValueError) as exc:
        raise ModelLoadError(f"emotion clusters: cannot read {path} ({exc}); refit with "
                             "python library/training/fit_emotion_clusters.py") from None
    if centres.ndim != 2 or centres.shape[1] != _DIM:
        raise ModelLoadError(f"emotion clusters in {path} have shape {centres.shape}, expected (k, {_DIM}); "
                             "refit with python library/training/fit_emotion_clusters.py")
    return EmotionClusters(centres=centres, meta={k: v for k, v in d.items() if k not in ("centres",)})


def assign_emotion_cluster(emotion: EmotionEstimate | Sequence[float], *,
                           clusters: EmotionClusters | None = None) -> int:
    """The shipped emotion cluster of one emotion (estimate or 8-vector)."""
    return (clusters or load_emotion_clusters()).assign_one(emotion)
