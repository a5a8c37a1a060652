"""Fusion against each source alone, on synthetic voice+words pairs (the only paired data we have).

EmoDB's sentences are fixed, emotionally neutral German texts, so its words carry nothing; GoEmotions has words
but no voice. We therefore pair them synthetically:

* voice: every EmoDB clip judged by a model that never heard its speaker: the out-of-speaker class probabilities
  and out-of-domain scores saved by the nested leave-one-speaker-out run of
  ``models/training/train_voice_encoder.py`` (``--voice-set``, default ``tiny+stats``, the shipped default);
* words: GoEmotions *test* comments (never seen by the text head) whose labels map to exactly one of the six,
  or to neutral, judged by the shipped text model.

Three scenarios, each a few hundred pairs drawn with a fixed seed:

``congruent``
    An EmoDB clip of anger/happiness/sadness/fear with a comment of the same label. Truth = that label.
``words_only``
    An EmoDB neutral clip (a calm voice) with a comment of any of the six labels. Truth = the comment's label
    (this is where love and surprise live: the voice model cannot produce them).
``voice_only``
    An EmoDB anger/happiness/sadness/fear clip with a neutral comment. Truth = the voice's label.

Scores: top-label accuracy per scenario and over all pairs, and arousal-sign agreement with the truth label's
circumplex arousal. Limits: real speech has voice and words that correlate but also conflict (sarcasm, a sad story
told cheerfully); acted EmoDB voices are clearer than a creator's; the mix of scenarios sets the "overall" figure,
so read the scenarios one by one.

    nice .venv/bin/python benchmarks/eval_fusion.py [--pairs 300] [--seed 0] [--voice-set tiny]

Writes ``benchmarks/out/eval_fusion.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.fusion import FUSION_METHODS, fuse
from models.mapping import LABEL_VA
from models.training.train_voice_emotion import EMODB_DEFAULT
from models.types import LABELS, EmotionEstimate
from models.voice_emotion import EMODB_CLASSES, estimate_from_class_probs

GOEMOTIONS = EMODB_DEFAULT.parent / "goemotions"
DIRECT = {"anger": "anger", "happiness": "joy", "sadness": "sadness", "fear": "fear"}


def text_pool(per_label: int, rng: np.random.Generator) -> dict[str, list]:
    """label → text estimates of GoEmotions test comments of that single label ("neutral" too)."""
    from models.text_emotion import load_text_model
    from models.training.train_text_head import read_split

    split = read_split(GOEMOTIONS, "test")
    model = load_text_model("default")
    pool: dict[str, list] = {}
    for idx, name in [(-1, "neutral")] + list(enumerate(LABELS)):
        ids = np.flatnonzero(split.target == idx)
        pick = rng.choice(ids, size=min(per_label, ids.size), replace=False)
        pool[name] = model.predict([split.texts[i] for i in pick])
    return pool


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=300, help="pairs per scenario")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--voice-set", default="tiny+stats", help="feature set of train_voice_encoder's LOSO run")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    cache = REPO / "benchmarks" / "out" / "cache" / f"voice_loso_{args.voice_set}.npz"
    if not cache.is_file():
        raise SystemExit(f"{cache} not found: run `nice .venv/bin/python -m models.training.train_voice_encoder "
                         f"--no-ship --sets {args.voice_set}` first")
    with np.load(cache, allow_pickle=False) as z:
        probs, y, ood_factor = z["probs"], z["y"], z["ood_factor"]
    voice = []
    for p, factor in zip(probs, ood_factor):  # the out-of-domain factor each clip got from its held-out model
        e = estimate_from_class_probs(p)
        voice.append(EmotionEstimate(e.labels, e.valence, e.arousal, e.confidence * float(factor)))
    by_class = {c: np.flatnonzero(y == i) for i, c in enumerate(EMODB_CLASSES)}
    pool = text_pool(120, rng)

    scenarios: dict[str, list[tuple[object, object, str]]] = {"congruent": [], "words_only": [], "voice_only": []}
    for _ in range(args.pairs):
        cls = str(rng.choice(list(DIRECT)))
        lab = DIRECT[cls]
        v = voice[int(rng.choice(by_class[cls]))]
        scenarios["congruent"].append((v, pool[lab][rng.integers(len(pool[lab]))], lab))
        lab2 = str(rng.choice(LABELS))
        v2 = voice[int(rng.choice(by_class["neutral"]))]
        scenarios["words_only"].append((v2, pool[lab2][rng.integers(len(pool[lab2]))], lab2))
        cls3 = str(rng.choice(list(DIRECT)))
        v3 = voice[int(rng.choice(by_class[cls3]))]
        scenarios["voice_only"].append((v3, pool["neutral"][rng.integers(len(pool["neutral"]))], DIRECT[cls3]))

    systems = {"voice": lambda v, t: v, "text": lambda v, t: t}
    for method in FUSION_METHODS:
        systems[f"fused_{method}"] = functools.partial(lambda v, t, m: fuse(v, t, method=m), m=method)
    result: dict[str, object] = {"pairs_per_scenario": args.pairs, "seed": args.seed, "voice_set": args.voice_set,
                                 "top_label_accuracy": {},
                                 "arousal_sign_agreement": {}}
    for name, fn in systems.items():
        acc, aro = {}, {}
        all_hits, all_aro = [], []
        for sc, pairs in scenarios.items():
            outs = [fn(v, t) for v, t, _ in pairs]
            hits = [o.top() == lab for o, (_, _, lab) in zip(outs, pairs)]
            ah = [(o.arousal > 0) == (LABEL_VA[lab][1] > 0) for o, (_, _, lab) in zip(outs, pairs)]
            acc[sc], aro[sc] = round(float(np.mean(hits)), 4), round(float(np.mean(ah)), 4)
            all_hits += hits
            all_aro += ah
        acc["all"], aro["all"] = round(float(np.mean(all_hits)), 4), round(float(np.mean(all_aro)), 4)
        result["top_label_accuracy"][name] = acc  # type: ignore[index]
        result["arousal_sign_agreement"][name] = aro  # type: ignore[index]
    out = REPO / "benchmarks" / "out" / "eval_fusion.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
