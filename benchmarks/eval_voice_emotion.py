"""Speaker-independent evaluation of the voice emotion model on EmoDB (Burkhardt et al. 2005).

Leave-one-speaker-out (10 folds): each speaker's clips are judged by a model trained on the other nine with the
shipped model's recipe (features of :mod:`models.voice_emotion`, standardiser + logistic regression with the
``C`` stored in ``models/data/voice_emotion.npz``). Reports per-class recall over EmoDB's seven classes, their
unweighted average (UAR), arousal accuracy (high = anger, happiness, fear, disgust; low = boredom, neutral,
sadness; predicted from the sign of the model's arousal output), top-label accuracy on the six labels for the four
classes with a direct counterpart, and the gain invariance of the features (max change of any prediction when the
input is scaled by -20 dB and +12 dB).

Caveat: ``C`` was chosen on the same LOSO folds (5 candidates), so UAR is slightly optimistic.

    nice .venv/bin/python benchmarks/eval_voice_emotion.py [--emodb DIR]

Writes ``benchmarks/out/eval_voice_emotion.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.training.train_voice_emotion import (
    AROUSAL_HIGH,
    EMODB_DEFAULT,
    load_emodb_features,
    loso_predict,
    recall_table,
)
from models.types import LABELS
from models.voice_emotion import DEFAULT_WEIGHTS, EMODB_CLASSES, EMODB_TO_LABELS, estimate_from_class_probs

DIRECT = {"anger": "anger", "happiness": "joy", "sadness": "sadness", "fear": "fear"}


def loso_estimates(emodb: Path):  # type: ignore[no-untyped-def]
    """(class probabilities (N, 7) out of speaker, true class index (N,), speaker (N,), C)."""
    with np.load(DEFAULT_WEIGHTS, allow_pickle=False) as z:
        c = float(z["C"])
    X, y, g = load_emodb_features(emodb)
    return loso_predict(X, y, g, c), y, g, c


def gain_invariance(emodb: Path, n: int = 20) -> float:
    """Largest absolute change of any class probability when clips are scaled by -20 dB or +12 dB."""
    import csv

    import soundfile as sf

    from models.voice_emotion import load_voice_model

    model = load_voice_model("default")
    with open(emodb / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))[::max(1, 535 // n)][:n]
    worst = 0.0
    for r in rows:
        audio, sr = sf.read(emodb / r["path"], dtype="float32")
        base = model.predict(audio, sr)
        for gain_db in (-20.0, 12.0):
            other = model.predict(audio * np.float32(10 ** (gain_db / 20)), sr)
            worst = max(worst, max(abs(base.labels[k] - other.labels[k]) for k in LABELS),
                        abs(base.valence - other.valence), abs(base.arousal - other.arousal))
    return worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emodb", type=Path, default=EMODB_DEFAULT)
    args = ap.parse_args(argv)

    probs, y, g, c = loso_estimates(args.emodb)
    pred = probs.argmax(axis=1)
    recall = recall_table(y, pred)
    uar = float(np.mean(list(recall.values())))
    ests = [estimate_from_class_probs(p) for p in probs]
    aro_true = np.array([EMODB_CLASSES[i] in AROUSAL_HIGH for i in y])
    aro_pred = np.array([e.arousal > 0 for e in ests])
    aro_acc = float(np.mean(aro_true == aro_pred))
    aro_uar = float(np.mean([np.mean(aro_pred[aro_true] == 1), np.mean(aro_pred[~aro_true] == 0)]))
    direct = [i for i, cls in enumerate(EMODB_CLASSES) if cls in DIRECT]
    mask = np.isin(y, direct)
    six_top = np.array([e.top() for e in ests])
    six_true = np.array([DIRECT.get(EMODB_CLASSES[i], "") for i in y])
    six_acc = float(np.mean(six_top[mask] == six_true[mask]))
    per_speaker = {str(s): float(np.nanmean(list(recall_table(y[g == s], pred[g == s]).values())))
                   for s in np.unique(g)}
    confusion = {EMODB_CLASSES[i]: {EMODB_CLASSES[j]: int(np.sum((y == i) & (pred == j)))
                                    for j in range(len(EMODB_CLASSES))} for i in range(len(EMODB_CLASSES))}
    result = {
        "data": "EmoDB (Burkhardt et al. 2005), 535 clips, 10 speakers; leave-one-speaker-out",
        "C": c,
        "recall": {k: round(v, 4) for k, v in recall.items()},
        "uar_7class": round(uar, 4),
        "accuracy_7class": round(float(np.mean(pred == y)), 4),
        "arousal_accuracy": round(aro_acc, 4),
        "arousal_uar": round(aro_uar, 4),
        "six_label_top_accuracy_on_direct_classes": round(six_acc, 4),
        "uar_per_held_out_speaker_median": round(float(np.median(list(per_speaker.values()))), 4),
        "uar_per_held_out_speaker": {k: round(v, 4) for k, v in per_speaker.items()},
        "gain_invariance_max_abs_change": float(f"{gain_invariance(args.emodb):.2e}"),
        "confusion_rows_true_cols_pred": confusion,
        "label_map": {k: {kk: round(vv, 3) for kk, vv in v.items() if vv >= 0.01} for k, v in EMODB_TO_LABELS.items()},
    }
    out = REPO / "benchmarks" / "out" / "eval_voice_emotion.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("confusion_rows_true_cols_pred", "label_map",
                                                                    "uar_per_held_out_speaker")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
