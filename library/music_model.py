"""Emotion 8-vector → the six music features: the shipped CatBoost multi-output regressor (loss MultiRMSE).

The model predicts the six features *standardised* with the music clusters' scaler (z-scores fitted on the Spotify
corpus, :mod:`library.music_clusters`), so its errors are in the same units as the distances used to rank tracks;
:meth:`MusicModel.predict` turns them back into Spotify scales. ``library/training/train_music_model.py``
rebuilds ``library/data/music_model.cbm`` and ``music_model.json`` (scaler, per-feature held-out R², the training
pairs used and the metrics) reproducibly; docs/benchmarks.md quotes the figures.
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
from library.types import FEATURES
from models.types import LABELS, EmotionEstimate

__all__ = ["META_PATH", "MODEL_PATH", "MusicModel", "emotion_matrix", "load_music_model", "predict_features"]

DATA_DIR = Path(__file__).resolve().parent / "data"
MODEL_PATH = DATA_DIR / "music_model.cbm"
META_PATH = DATA_DIR / "music_model.json"

#: Valid range of each feature on its Spotify scale; predictions are clipped into it.
FEATURE_RANGE: dict[str, tuple[float, float]] = {
    "danceability": (0.0, 1.0), "energy": (0.0, 1.0), "mode": (0.0, 1.0),
    "acousticness": (0.0, 1.0), "valence": (0.0, 1.0), "tempo": (40.0, 220.0),
}


def emotion_matrix(emotions: Sequence[EmotionEstimate | Sequence[float]]) -> np.ndarray:
    """Stack emotions (estimates or 8-vectors) into a float array of shape (n, 8)."""
    rows = [e.vector() if isinstance(e, EmotionEstimate) else list(map(float, e)) for e in emotions]
    x = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
    if x.shape[1] != len(LABELS) + 2:
        raise ValueError(f"emotion vectors must have {len(LABELS) + 2} values (six labels, valence, arousal); "
                         f"got {x.shape[1]}")
    return x


@dataclass(frozen=True)
class MusicModel:
    """A loaded emotion → music-features model.

    mean, scale : the standardisation of the six features (arrays of shape (6,)).
    weights : per-feature trust in the prediction (held-out R², floored), used to weight ranking distances.
    """

    regressor: Any
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    meta: Mapping[str, Any]

    def predict_standardised(self, emotions: Sequence[EmotionEstimate | Sequence[float]]) -> np.ndarray:
        """Predicted features as z-scores, shape (n, 6), in :data:`library.types.FEATURES` order."""
        x = emotion_matrix(emotions)
        z = np.asarray(self.regressor.predict(x), dtype=np.float64).reshape(len(x), len(FEATURES))
        return z

    def predict(self, emotions: Sequence[EmotionEstimate | Sequence[float]]) -> np.ndarray:
        """Predicted features on Spotify scales (tempo in BPM), shape (n, 6), clipped to valid ranges."""
        raw = self.predict_standardised(emotions) * self.scale + self.mean
        lo = np.array([FEATURE_RANGE[k][0] for k in FEATURES])
        hi = np.array([FEATURE_RANGE[k][1] for k in FEATURES])
        return np.asarray(np.clip(raw, lo, hi))

    def standardise(self, features: np.ndarray) -> np.ndarray:
        """Spotify-scale features (n, 6) → z-scores with this model's scaler."""
        return np.asarray((np.asarray(features, dtype=np.float64) - self.mean) / self.scale)


def load_music_model(path: str | Path | None = None) -> MusicModel:
    """Load the shipped model (default) or a ``.cbm`` with its ``.json`` beside it.

    Raises
    ------
    ModelLoadError
        When the file is missing or not a CatBoost model.
    """
    return _load(str(Path(path) if path is not None else MODEL_PATH))


@lru_cache(maxsize=4)
def _load(path_str: str) -> MusicModel:
    from catboost import CatBoostRegressor

    path = Path(path_str)
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        raise ModelLoadError(f"music model not found: expected {path} and {meta_path.name} beside it; "
                             "rebuild with: python library/training/train_music_model.py")
    try:
        reg = CatBoostRegressor()
        reg.load_model(str(path))
        meta = json.loads(meta_path.read_text())
    except Exception as exc:  # catboost raises its own CatBoostError; json a ValueError
        raise ModelLoadError(f"could not load music model {path}: {exc}; rebuild it with "
                             "python library/training/train_music_model.py") from exc
    mean = np.array([meta["scaler"]["mean"][k] for k in FEATURES], dtype=np.float64)
    scale = np.array([meta["scaler"]["scale"][k] for k in FEATURES], dtype=np.float64)
    weights = np.array([meta["weights"][k] for k in FEATURES], dtype=np.float64)
    return MusicModel(regressor=reg, mean=mean, scale=scale, weights=weights, meta=meta)


def predict_features(emotion: EmotionEstimate | Sequence[float], *, model: MusicModel | None = None
                     ) -> dict[str, float]:
    """The six music features that suit one emotion, on Spotify scales."""
    m = model or load_music_model()
    row = m.predict([emotion])[0]
    return {k: float(v) for k, v in zip(FEATURES, row)}
