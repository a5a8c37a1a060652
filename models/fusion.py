"""Fusion of the voice-sound and text emotions, per speech segment and over a whole input.

Two rules, both pure functions of two :class:`EmotionEstimate` values:

``"complement"`` (the seed's best combination)
    The voice decides the labels it can hear (:data:`VOICE_COVERS`: sadness, joy, anger, fear for the shipped
    EmoDB model); the words add only the labels the voice model cannot produce (love, surprise), so the two
    never compete. The text's share is ``m = c_text * P_text(uncovered)``: a confident "love" sentence takes a
    large share, a neutral or flat one almost nothing. Valence/arousal mix the same way.

``"weighted"`` (the default: it measured best here, see below)
    A confidence-weighted average of the two label vectors and circumplex points
    (weights ``voice_weight * c_voice + 0.05`` and ``c_text + 0.05``).

Either source missing or flagged neutral (no speech, no words) → the other one alone; both → a flagged neutral.
``benchmarks/eval_fusion.py`` measures both rules against each source alone on synthetic EmoDB-voice +
GoEmotions-words pairs (docs/benchmarks.md, "Fusion of voice and words"): the weighted rule won overall (top-label accuracy 0.78 vs
0.59 voice alone, 0.58 text alone, 0.65 complement) because the complement rule cannot let the words overrule a
calm voice on the four labels the voice covers. The complement rule stays available as ``method="complement"``.

The overall mood of an input (:func:`overall`) is the average of its segments weighted by duration × confidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

from models.mapping import va_from_labels
from models.types import LABELS, EmotionEstimate, TimedEmotion, neutral_estimate

__all__ = ["FUSION_METHODS", "VOICE_COVERS", "FusionMethod", "fuse", "overall", "timeline_pieces"]

FusionMethod = Literal["complement", "weighted"]
FUSION_METHODS: tuple[str, ...] = ("complement", "weighted")

#: Labels the shipped voice model hears directly (EmoDB has anger, happiness, sadness, fear; no love/surprise).
VOICE_COVERS: frozenset[str] = frozenset({"sadness", "joy", "anger", "fear"})

_EPS_W = 0.05  # floor on fusion weights so that two zero-confidence sources still average


def _vec(e: EmotionEstimate) -> np.ndarray:
    return np.array([float(e.labels[k]) for k in LABELS])


def _est(p: np.ndarray, valence: float, arousal: float, confidence: float) -> EmotionEstimate:
    p = np.clip(p, 0.0, None)
    p = p / p.sum() if p.sum() > 0 else np.full(len(LABELS), 1.0 / len(LABELS))
    return EmotionEstimate({k: float(x) for k, x in zip(LABELS, p)}, float(np.clip(valence, -1, 1)),
                           float(np.clip(arousal, -1, 1)), float(np.clip(confidence, 0, 1)))


def fuse(voice: EmotionEstimate | None, text: EmotionEstimate | None, *, method: FusionMethod = "weighted",
         voice_covers: Iterable[str] = VOICE_COVERS, voice_weight: float = 1.0) -> EmotionEstimate:
    """Fuse one segment's voice and text estimates.

    Parameters
    ----------
    voice, text : EmotionEstimate or None
        The two sources; None or ``neutral=True`` means the source had nothing to judge.
    method : {"complement", "weighted"}
    voice_covers : iterable of str
        Labels the voice model can produce (the complement rule takes only the others from the text).
    voice_weight : float
        Scale on the voice confidence in the weighted rule.

    Returns
    -------
    EmotionEstimate
        Labels summing to 1, valence/arousal in [-1, 1], confidence in [0, 1]; flagged neutral when both
        sources are missing.
    """
    have_v = voice is not None and not voice.neutral
    have_t = text is not None and not text.neutral
    if not have_v and not have_t:
        return neutral_estimate()
    if not have_t:
        return voice  # type: ignore[return-value]
    if not have_v:
        return text  # type: ignore[return-value]
    assert voice is not None and text is not None
    pv, pt = _vec(voice), _vec(text)
    if method == "weighted":
        wv = voice_weight * voice.confidence + _EPS_W
        wt = text.confidence + _EPS_W
        p = (wv * pv + wt * pt) / (wv + wt)
        val = (wv * voice.valence + wt * text.valence) / (wv + wt)
        aro = (wv * voice.arousal + wt * text.arousal) / (wv + wt)
        conf = (wv * voice.confidence + wt * text.confidence) / (wv + wt)
        return _est(p, val, aro, conf)
    if method != "complement":
        raise ValueError(f"fusion method must be one of {FUSION_METHODS}, got {method!r}")
    covered = np.array([k in set(voice_covers) for k in LABELS])
    if covered.all() or not covered.any():  # nothing to complement: the voice alone
        return voice
    t_unc = pt * ~covered
    m = float(np.clip(text.confidence * t_unc.sum(), 0.0, 1.0))
    v_cov = pv * covered
    v_cov = v_cov / v_cov.sum() if v_cov.sum() > 0 else covered / covered.sum()
    p = (1.0 - m) * v_cov + m * t_unc / max(t_unc.sum(), 1e-12)
    tv, ta = va_from_labels({k: float(x) for k, x in zip(LABELS, t_unc)})
    val = (1.0 - m) * voice.valence + m * tv
    aro = (1.0 - m) * voice.arousal + m * ta
    conf = (1.0 - m) * voice.confidence + m * text.confidence
    return _est(p, val, aro, conf)


def overall(items: Sequence[tuple[float, EmotionEstimate]]) -> EmotionEstimate:
    """The mood of a whole input from (duration_s, estimate) pairs: weights duration × (confidence + 0.05).

    Flagged-neutral estimates (no speech, no words) are left out; if nothing is left, a flagged neutral.
    The confidence is the duration-weighted mean confidence.
    """
    kept = [(max(float(d), 0.0), e) for d, e in items if not e.neutral and d > 0]
    if not kept:
        return neutral_estimate()
    d = np.array([x[0] for x in kept])
    c = np.array([x[1].confidence for x in kept])
    w = d * (c + _EPS_W)
    P = np.stack([_vec(e) for _, e in kept])
    p = (w[:, None] * P).sum(axis=0) / w.sum()
    val = float(np.sum(w * [e.valence for _, e in kept]) / w.sum())
    aro = float(np.sum(w * [e.arousal for _, e in kept]) / w.sum())
    return _est(p, val, aro, float(np.sum(d * c) / d.sum()))


def timeline_pieces(segments: Sequence[tuple[float, float]], duration_s: float, *, max_piece_s: float = 10.0,
                    min_piece_s: float = 0.2) -> list[tuple[float, float]]:
    """Speech segments clipped to the input, sorted, merged where they overlap, long ones cut into ≤ max_piece_s.

    Pieces shorter than ``min_piece_s`` are dropped (a click, not speech).
    """
    segs = sorted((max(0.0, float(s)), min(float(duration_s), float(e))) for s, e in segments)
    merged: list[list[float]] = []
    for s, e in segs:
        if e - s <= 0:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out: list[tuple[float, float]] = []
    for s, e in merged:
        if e - s < min_piece_s:
            continue
        k = int(np.ceil((e - s) / max_piece_s))
        edges = np.linspace(s, e, k + 1)
        out.extend((float(a), float(b)) for a, b in zip(edges[:-1], edges[1:]))
    return out


def as_timeline(pieces: Sequence[tuple[float, float]], estimates: Sequence[EmotionEstimate],
                texts: Sequence[str]) -> tuple[TimedEmotion, ...]:
    """Zip pieces, fused estimates and their words into the report's timeline."""
    return tuple(TimedEmotion(s, e, est, txt) for (s, e), est, txt in zip(pieces, estimates, texts))
