"""``--follow-mood``: plan where the bed changes track when the voice's mood changes for a long stretch.

:func:`plan_mood_segments` reads the emotion timeline (one :class:`~models.types.TimedEmotion` per speech segment),
gives every timeline entry its emotion cluster, merges runs of the same cluster, and folds runs shorter than
``min_stretch_s`` (default 45 s) into a neighbour until every stretch is long enough. Each remaining stretch gets
its own track from ``choose`` (called with the stretch's duration-weighted mean emotion and the ids already used,
so neighbours differ). A change happens in the pause between the two stretches' speech, snapped to the bar grid
of the outgoing track (its tempo, 4 beats a bar, counted from the stretch start), so the crossfade in
:func:`mixer.crossfade_bed.build_bed` starts on a bar line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from library.types import TrackChoice
from models.types import LABELS, EmotionAnalysis, EmotionEstimate, TimedEmotion

__all__ = ["BEATS_PER_BAR", "MIN_STRETCH_S", "mean_emotion", "mood_runs", "plan_mood_segments", "snap_to_bar",
           "turn_index"]

MIN_STRETCH_S = 45.0
BEATS_PER_BAR = 4

ChooseFn = Callable[[EmotionEstimate, Sequence[str]], TrackChoice]


def mean_emotion(items: Sequence[TimedEmotion]) -> EmotionEstimate:
    """Duration-weighted mean of timeline entries (labels renormalised; confidence averaged)."""
    w = np.asarray([max(1e-3, t.end - t.start) for t in items])
    vec = np.average(np.asarray([t.estimate.vector() for t in items]), axis=0, weights=w)
    labels = np.clip(vec[: len(LABELS)], 0, None)
    labels = labels / labels.sum() if labels.sum() > 0 else np.full(len(LABELS), 1 / len(LABELS))
    conf = float(np.average([t.estimate.confidence for t in items], weights=w))
    return EmotionEstimate({k: float(labels[i]) for i, k in enumerate(LABELS)}, float(vec[-2]), float(vec[-1]), conf)


def mood_runs(timeline: Sequence[TimedEmotion], clusters: Sequence[int], *,
              min_stretch_s: float = MIN_STRETCH_S) -> list[list[int]]:
    """Group timeline indices into runs of one cluster, each spanning at least ``min_stretch_s``.

    A run spans from its first entry's start to the next run's first entry's start (the last run to its last
    entry's end). The shortest run below the minimum is merged into its longer neighbour, repeatedly.
    """
    if not timeline:
        return []
    runs: list[list[int]] = [[0]]
    for i in range(1, len(timeline)):
        if clusters[i] == clusters[runs[-1][-1]]:
            runs[-1].append(i)
        else:
            runs.append([i])

    def span(j: int) -> float:
        start = timeline[runs[j][0]].start
        end = timeline[runs[j + 1][0]].start if j + 1 < len(runs) else timeline[runs[j][-1]].end
        return end - start

    while len(runs) > 1:
        spans = [span(j) for j in range(len(runs))]
        j = int(np.argmin(spans))
        if spans[j] >= min_stretch_s:
            break
        if j == 0:
            k = 1
        elif j == len(runs) - 1:
            k = j - 1
        else:
            k = j - 1 if spans[j - 1] >= spans[j + 1] else j + 1
        lo, hi = min(j, k), max(j, k)
        runs[lo] = sorted(runs[lo] + runs[hi])
        del runs[hi]
        runs = _coalesce(runs, timeline, clusters)
    return runs


def _dominant(run: list[int], timeline: Sequence[TimedEmotion], clusters: Sequence[int]) -> int:
    totals: dict[int, float] = {}
    for i in run:
        totals[clusters[i]] = totals.get(clusters[i], 0.0) + (timeline[i].end - timeline[i].start)
    return max(totals, key=lambda c: totals[c])


def _coalesce(runs: list[list[int]], timeline: Sequence[TimedEmotion], clusters: Sequence[int]) -> list[list[int]]:
    """Join neighbouring runs whose dominant (longest-spoken) cluster is the same."""
    out = [runs[0]]
    for run in runs[1:]:
        if _dominant(run, timeline, clusters) == _dominant(out[-1], timeline, clusters):
            out[-1] = out[-1] + run
        else:
            out.append(run)
    return out


def snap_to_bar(time_s: float, *, start_s: float, tempo_bpm: float | None, lo_s: float, hi_s: float) -> float:
    """The bar line (bars of :data:`BEATS_PER_BAR` beats from ``start_s``) nearest ``time_s`` within [lo_s, hi_s];
    ``time_s`` itself when there is no tempo or no bar line in the window."""
    if not tempo_bpm or tempo_bpm <= 0:
        return time_s
    bar_s = BEATS_PER_BAR * 60.0 / float(tempo_bpm)
    cands = [start_s + bar_s * k for k in range(int(np.floor((lo_s - start_s) / bar_s)),
                                                 int(np.ceil((hi_s - start_s) / bar_s)) + 1)]
    cands = [c for c in cands if lo_s <= c <= hi_s]
    if not cands:
        return time_s
    return float(min(cands, key=lambda c: abs(c - time_s)))


def turn_index(timeline: Sequence[TimedEmotion], first: int, last: int) -> int:
    """The index ``k`` in ``(first, last]`` that best splits entries ``first..last`` into two moods: the split
    minimising the duration-weighted squared distance of each entry's emotion (six labels, valence, arousal) to its
    side's mean (a two-segment change point). The change belongs in the pause before entry ``k``."""
    if last <= first:
        return max(first, 1)
    x = np.asarray([timeline[i].estimate.vector() for i in range(first, last + 1)], np.float64)
    w = np.asarray([max(1e-3, timeline[i].end - timeline[i].start) for i in range(first, last + 1)])
    cw = np.concatenate([[0.0], np.cumsum(w)])
    cx = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(w[:, None] * x, axis=0)])
    cxx = np.concatenate([[0.0], np.cumsum(w * (x**2).sum(axis=1))])
    best, best_k = np.inf, first + 1
    n = x.shape[0]
    for k in range(1, n):  # left = [0, k), right = [k, n)
        sse = 0.0
        for a, b in ((0, k), (k, n)):
            ww = cw[b] - cw[a]
            sx = cx[b] - cx[a]
            sse += (cxx[b] - cxx[a]) - float(sx @ sx) / ww
        if sse < best - 1e-12:
            best, best_k = sse, first + k
    return best_k


def plan_mood_segments(
    analysis: EmotionAnalysis,
    duration_s: float,
    choose: ChooseFn,
    *,
    min_stretch_s: float = MIN_STRETCH_S,
    cluster_of: Callable[[EmotionEstimate], int] | None = None,
) -> list[tuple[float, float, TrackChoice]]:
    """Plan the bed's segments: ``[(start_s, end_s, TrackChoice), ...]`` covering [0, duration_s] in order.

    Parameters
    ----------
    analysis : the emotion pass's result; its ``timeline`` drives the plan (empty → one segment).
    duration_s : length of the output (the bed covers all of it).
    choose : ``choose(emotion, avoid_ids) -> TrackChoice``, e.g.
        ``lambda e, avoid: choose_tracks(e, library=..., avoid=avoid, seed=...)[0]``.
    min_stretch_s : a mood must hold this long to get its own track.
    cluster_of : emotion → cluster id; default the shipped emotion clusters.

    Returns
    -------
    list of (start_s, end_s, TrackChoice); one entry when the mood never changes for long. Consecutive entries
    never share a track (same picks are merged).
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    timeline = sorted((t for t in analysis.timeline if t.end > t.start), key=lambda t: t.start)
    if cluster_of is None:
        from models.emotion_clusters import assign_emotion_cluster

        cluster_of = assign_emotion_cluster
    clusters = [int(cluster_of(t.estimate)) for t in timeline]
    runs = mood_runs(timeline, clusters, min_stretch_s=min_stretch_s)
    if len(runs) <= 1:
        return [(0.0, float(duration_s), choose(analysis.overall, ()))]

    picks: list[TrackChoice] = []
    for run in runs:
        avoid = (picks[-1].track.id,) if picks else ()
        picks.append(choose(mean_emotion([timeline[i] for i in run]), avoid))

    segments: list[tuple[float, float, TrackChoice]] = []
    start = 0.0
    for j, run in enumerate(runs):
        if j == len(runs) - 1:
            end = float(duration_s)
        else:
            # the turn: where the voice's emotion changes most between the two stretches (not where the first
            # entry of the next cluster happens to be: one early misheard line would move the change by its
            # whole distance); the change happens in the pause before that line
            k = turn_index(timeline, run[0], runs[j + 1][-1])
            gap_lo = timeline[k - 1].end
            gap_hi = timeline[k].start
            mid = 0.5 * (gap_lo + gap_hi)
            tempo = picks[j].track.features.get("tempo")
            end = snap_to_bar(mid, start_s=start, tempo_bpm=float(tempo) if tempo else None,
                              lo_s=min(gap_lo, gap_hi), hi_s=max(gap_lo, gap_hi))
            end = float(np.clip(end, start + 1e-3, duration_s))
        if segments and segments[-1][2].track.id == picks[j].track.id:
            segments[-1] = (segments[-1][0], end, segments[-1][2])
        else:
            segments.append((start, end, picks[j]))
        start = end
    return segments
