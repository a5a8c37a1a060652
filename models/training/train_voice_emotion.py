"""Retrain the shipped voice emotion model on EmoDB, reproducibly, with speaker-independent validation.

Run::

    nice .venv/bin/python -m models.training.train_voice_emotion [--emodb DIR] [--out models/data/voice_emotion.npz]

Steps: read every EmoDB clip (Burkhardt et al. 2005; ../shared/data/emodb), resample to 16 kHz, compute the
level-invariant features of :func:`models.voice_emotion.voice_features`, choose the L2 strength ``C`` of a
multinomial logistic regression by leave-one-speaker-out (LOSO) unweighted average recall (UAR), then fit the
final model on all ten speakers and save plain arrays (standardiser mean/scale, coefficients, intercepts, class and
feature names) to an ``.npz`` (no pickle). Deterministic: lbfgs on fixed data, no random state involved.

The LOSO UAR of each ``C`` is printed; ``benchmarks/eval_voice_emotion.py`` recomputes the full figures
(per-class recall, UAR, arousal accuracy) from scratch with the shipped ``C``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import numpy as np

from models.voice_emotion import (
    DEFAULT_WEIGHTS,
    EMODB_CLASSES,
    FEATURE_NAMES,
    ShippedVoiceModel,
    voice_features,
)
from models.voice_input import SR

__all__ = ["arousal_high", "fit_final", "load_emodb_features", "loso_predict", "main"]

EMODB_DEFAULT = Path(os.environ.get("MOODMIX_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")) / "emodb"

#: Binary arousal of the EmoDB classes (after Schuller et al. 2009's EmoDB arousal split): high = anger,
#: happiness, fear, disgust; low = boredom, neutral, sadness.
AROUSAL_HIGH: frozenset[str] = frozenset({"anger", "happiness", "fear", "disgust"})

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)


def arousal_high(emotion: str) -> bool:
    return emotion in AROUSAL_HIGH


def load_emodb_features(emodb: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (N, F), class index (N,), speaker id (N,) for every clip in ``emodb/manifest.csv``."""
    import soundfile as sf
    import soxr

    with open(emodb / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    X, y, g = [], [], []
    for r in rows:
        audio, sr = sf.read(emodb / r["path"], dtype="float32", always_2d=True)
        mono = soxr.resample(audio.mean(axis=1), sr, SR).astype(np.float32)
        feats = voice_features(mono, SR)
        if feats is None:
            continue
        X.append(feats)
        y.append(EMODB_CLASSES.index(r["emotion"]))
        g.append(r["speaker"])
    return np.stack(X), np.asarray(y), np.asarray(g)


def _pipeline(c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000, class_weight="balanced"))


def loso_predict(X: np.ndarray, y: np.ndarray, g: np.ndarray, c: float) -> np.ndarray:
    """Out-of-speaker class probabilities (N, C): each speaker predicted by a model trained on the other nine."""
    probs = np.zeros((len(y), len(EMODB_CLASSES)))
    for spk in np.unique(g):
        test = g == spk
        model = _pipeline(c).fit(X[~test], y[~test])
        probs[np.ix_(test, model.classes_)] = model.predict_proba(X[test])
    return probs


def recall_table(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {c: float(np.mean(pred[y == i] == i)) if np.any(y == i) else float("nan") for i, c in enumerate(EMODB_CLASSES)}


def fit_final(X: np.ndarray, y: np.ndarray, c: float) -> dict[str, np.ndarray]:
    model = _pipeline(c).fit(X, y)
    scaler, lr = model.steps[0][1], model.steps[1][1]
    return {
        "mean": scaler.mean_.astype(np.float32),
        "scale": scaler.scale_.astype(np.float32),
        "coef": lr.coef_.astype(np.float32),
        "intercept": lr.intercept_.astype(np.float32),
        "classes": np.asarray([EMODB_CLASSES[i] for i in lr.classes_]),
        "feature_names": np.asarray(FEATURE_NAMES),
        "C": np.float32(c),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emodb", type=Path, default=EMODB_DEFAULT)
    ap.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    args = ap.parse_args(argv)

    X, y, g = load_emodb_features(args.emodb)
    print(f"{len(y)} clips, {len(np.unique(g))} speakers, {X.shape[1]} features", file=sys.stderr)
    best = (-1.0, C_GRID[0])
    for c in C_GRID:
        pred = loso_predict(X, y, g, c).argmax(axis=1)
        uar = float(np.mean(list(recall_table(y, pred).values())))
        print(f"C={c:g}: LOSO UAR {uar:.3f}", file=sys.stderr)
        best = max(best, (uar, c))
    c = best[1]
    weights = fit_final(X, y, c)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **weights)
    ShippedVoiceModel.from_file(args.out)  # the file must load through the runtime path
    print(f"chose C={c:g} (LOSO UAR {best[0]:.3f}); wrote {args.out} ({args.out.stat().st_size} bytes)",
          file=sys.stderr)
    print(json.dumps({"C": c, "loso_uar": round(best[0], 4), "clips": len(y)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
