"""Held-out accuracy and macro-F1 of a text-emotion model on the GoEmotions test split mapped to the six labels.

The test split (5,427 comments) is never used in training (``models/training/train_text_model.py`` trains on
``train.tsv`` and picks its epoch on ``dev.tsv``). Comments whose labels map to exactly one of
the six are scored by top label; comments that map to several count as right when the top label is any of them;
neutral-only comments measure the emotional-vs-neutral detector (ROC AUC of the confidence).

    .venv/bin/python benchmarks/eval_text_emotion.py                      # the shipped default (fine-tuned MiniLM)
    .venv/bin/python benchmarks/eval_text_emotion.py --model minilm-head  # the previous default (frozen + linear)
    .venv/bin/python benchmarks/eval_text_emotion.py --model PATH         # any transformers text-classification model

Also printed: the top-label accuracy on the hand-written check set (``tests/data/text_emotion_check.tsv``; neutral
rows: the share flagged neutral), and speed on 2 threads: sentences per second in batches of 64 (median of 5
batches of real test comments) and milliseconds for one sentence (median of 50).

Prints a JSON summary and writes it to ``benchmarks/out/eval_text_emotion.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CHECK_SET = REPO / "tests" / "data" / "text_emotion_check.tsv"
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from models.text_emotion import EmbeddingHeadModel, load_text_model
from models.training.train_text_head import DEFAULT_CACHE, DEFAULT_DATA, cached_embeddings, read_split
from models.types import LABELS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--limit", type=int, default=0, help="score only the first N test comments (0 = all)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "eval_text_emotion.json")
    args = ap.parse_args(argv)

    import torch
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score

    torch.set_num_threads(2)
    test = read_split(args.data, "test")
    n = args.limit or len(test.texts)
    texts, ids, target = test.texts[:n], test.ids[:n], test.target[:n]
    model = load_text_model(args.model)

    if isinstance(model, EmbeddingHeadModel):
        p6, pe = model.scores_from_embeddings(
            cached_embeddings(texts, ids, args.cache_dir / "goemotions_minilm_test.npz"))
        confidence = pe * p6.max(axis=1)
    else:
        ests = model.predict(texts)
        p6 = np.array([[e.labels[k] for k in LABELS] for e in ests])
        confidence = np.array([e.confidence for e in ests])
    pred = p6.argmax(axis=1)

    single = target >= 0
    acc = float(accuracy_score(target[single], pred[single]))
    f1 = float(f1_score(target[single], pred[single], average="macro"))
    per_class = f1_score(target[single], pred[single], average=None, labels=list(range(len(LABELS))))
    cm = confusion_matrix(target[single], pred[single], labels=list(range(len(LABELS))))
    from models.text_emotion import GOEMOTIONS_TO_SIX

    multi = np.flatnonzero(target == -2)
    multi_hits = [LABELS[pred[i]] in {GOEMOTIONS_TO_SIX[x] for x in test.raw_labels[i]} for i in multi]
    auc = float(roc_auc_score((target != -1).astype(int), confidence))

    # Speed, end to end through predict(): batched throughput and one-sentence latency.
    model.predict(texts[:64])  # warm-up
    rates = []
    for k in range(5):
        batch = texts[k * 64:(k + 1) * 64]
        t0 = time.perf_counter()
        model.predict(batch)
        rates.append(len(batch) / (time.perf_counter() - t0))
    single_ms = []
    for k in range(50):
        t0 = time.perf_counter()
        model.predict([texts[1000 + k]])
        single_ms.append((time.perf_counter() - t0) * 1000)

    rows = [line.split("\t") for line in CHECK_SET.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    check_ests = model.predict([r[2] for r in rows])
    emo = [(r, e) for r, e in zip(rows, check_ests) if r[0] != "neutral"]
    neu = [e for r, e in zip(rows, check_ests) if r[0] == "neutral"]
    check = {
        "n": len(emo),
        "top_label_accuracy": round(float(np.mean([e.top() == r[0] for r, e in emo])), 4),
        **{f"{kind}_accuracy": round(float(np.mean([e.top() == r[0] for r, e in emo if r[1] == kind])), 4)
           for kind in ("plain", "negation", "intensity")},
        "neutral_flagged": round(float(np.mean([e.neutral for e in neu])), 4) if neu else None,
        "wrong": [f"{r[0]}→{e.top()}: {r[2]}" for r, e in emo if e.top() != r[0]],
    }

    summary = {
        "model": args.model,
        "test_split": "GoEmotions original/test.tsv",
        "n_single_label": int(single.sum()),
        "accuracy": round(acc, 4),
        "macro_f1": round(f1, 4),
        "f1_per_class": {k: round(float(v), 4) for k, v in zip(LABELS, per_class)},
        "confusion_rows_true_cols_pred": {k: row.tolist() for k, row in zip(LABELS, cm)},
        "n_multi_label": len(multi),
        "multi_label_top_in_labels": round(float(np.mean(multi_hits)), 4) if multi_hits else None,
        "neutral_vs_emotional_auc_of_confidence": round(auc, 4),
        "sentences_per_s_batched_median": round(statistics.median(rates), 1),
        "one_sentence_ms_median": round(statistics.median(single_ms), 2),
        "check_set": check,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
