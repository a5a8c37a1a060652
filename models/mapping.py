"""Plain, deterministic label maps onto the seed's six labels and the valence/arousal circumplex.

Circumplex positions follow Russell (1980) and the affective-norms literature (Warriner et al. 2013 give the
same ordering): joy and love are pleasant, joy more activated; surprise is activated and mildly pleasant;
anger and fear are unpleasant and activated; sadness is unpleasant and deactivated. Model-specific label maps
(GoEmotions, emodb, hub models) live beside the model that needs them and end in these six labels.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from models.types import LABELS

__all__ = ["LABEL_VA", "va_from_labels", "labels_from_va", "normalise_labels"]

#: (valence, arousal) in [-1, 1] for each of the six labels.
LABEL_VA: dict[str, tuple[float, float]] = {
    "sadness": (-0.70, -0.45),
    "joy": (0.80, 0.45),
    "love": (0.75, 0.05),
    "anger": (-0.65, 0.75),
    "fear": (-0.70, 0.60),
    "surprise": (0.30, 0.75),
}


def normalise_labels(scores: Mapping[str, float]) -> dict[str, float]:
    """Clip negatives, fill missing labels with 0 and scale so the six sum to 1 (uniform if all zero)."""
    v = np.array([max(0.0, float(scores.get(k, 0.0))) for k in LABELS])
    s = v.sum()
    v = v / s if s > 0 else np.full(len(LABELS), 1.0 / len(LABELS))
    return {k: float(x) for k, x in zip(LABELS, v)}


def va_from_labels(probs: Mapping[str, float]) -> tuple[float, float]:
    """Probability-weighted circumplex position of a label distribution."""
    p = normalise_labels(probs)
    v = sum(p[k] * LABEL_VA[k][0] for k in LABELS)
    a = sum(p[k] * LABEL_VA[k][1] for k in LABELS)
    return float(v), float(a)


def labels_from_va(valence: float, arousal: float, *, temperature: float = 0.35) -> dict[str, float]:
    """A label distribution from a circumplex point: softmax of negative distances to the six positions."""
    d = np.array([np.hypot(valence - LABEL_VA[k][0], arousal - LABEL_VA[k][1]) for k in LABELS])
    w = np.exp(-(d - d.min()) / temperature)
    w /= w.sum()
    return {k: float(x) for k, x in zip(LABELS, w)}
