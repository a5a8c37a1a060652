"""library.mood_plan.plan_mood_segments: change track only where the mood holds ≥ 45 s, at a bar line in a pause."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest

from library.mood_plan import mood_runs, plan_mood_segments, snap_to_bar
from library.types import Track, TrackChoice
from models.mapping import labels_from_va
from models.types import EmotionAnalysis, EmotionEstimate, TimedEmotion


def _est(v: float, a: float) -> EmotionEstimate:
    return EmotionEstimate(labels_from_va(v, a), v, a, 0.8)


CALM = _est(0.4, -0.6)
ANGRY = _est(-0.65, 0.75)


def _timeline(moods: Sequence[tuple[float, float, EmotionEstimate]]) -> tuple[TimedEmotion, ...]:
    """Speech every 5 s (4 s of speech, 1 s pause) through each (start, end, mood) stretch."""
    out = []
    for s, e, est in moods:
        t = s
        while t + 4.0 <= e:
            out.append(TimedEmotion(t, t + 4.0, est))
            t += 5.0
    return tuple(out)


def _choose_by_arousal(e: EmotionEstimate, avoid: Sequence[str]) -> TrackChoice:
    tid = "energetic" if e.arousal > 0 else "calm"
    if tid in avoid:
        tid += "-2"
    tempo = 120.0 if e.arousal > 0 else 80.0
    t = Track(id=tid, path=f"/x/{tid}.opus", title=tid, duration_s=60.0,
              features={"tempo": tempo, "energy": 0.5, "valence": 0.5, "mode": 1, "danceability": 0.5,
                        "acousticness": 0.5})
    return TrackChoice(track=t, rule="intersection")


def _cluster(e: EmotionEstimate) -> int:
    return int(e.arousal > 0)


def test_long_mood_change_gives_two_segments_at_a_bar_in_the_pause() -> None:
    tl = _timeline([(0.0, 60.0, CALM), (60.0, 130.0, ANGRY)])
    analysis = EmotionAnalysis(overall=CALM, timeline=tl)
    plan = plan_mood_segments(analysis, 130.0, _choose_by_arousal, cluster_of=_cluster)
    assert [c.track.id for _, _, c in plan] == ["calm", "energetic"]
    assert plan[0][0] == 0.0 and plan[-1][1] == 130.0
    change = plan[0][1]
    assert plan[1][0] == change
    last_calm_end = max(t.end for t in tl if t.estimate is CALM)
    first_angry = min(t.start for t in tl if t.estimate is ANGRY)
    assert last_calm_end <= change <= first_angry
    bar_s = 4 * 60 / 80.0  # the outgoing calm track's bar at 80 BPM
    assert (change / bar_s) == pytest.approx(round(change / bar_s), abs=1e-6)


def test_short_mood_excursion_does_not_change_track() -> None:
    tl = _timeline([(0.0, 60.0, CALM), (60.0, 90.0, ANGRY), (90.0, 160.0, CALM)])
    analysis = EmotionAnalysis(overall=CALM, timeline=tl)
    plan = plan_mood_segments(analysis, 160.0, _choose_by_arousal, cluster_of=_cluster)
    assert len(plan) == 1
    assert plan[0][0] == 0.0 and plan[0][1] == 160.0 and plan[0][2].track.id == "calm"


def test_three_long_stretches_alternate_without_repeating_neighbours() -> None:
    tl = _timeline([(0.0, 50.0, CALM), (50.0, 100.0, ANGRY), (100.0, 150.0, CALM)])
    plan = plan_mood_segments(EmotionAnalysis(overall=CALM, timeline=tl), 150.0, _choose_by_arousal,
                              cluster_of=_cluster)
    ids = [c.track.id for _, _, c in plan]
    assert len(plan) == 3 and ids[0] != ids[1] != ids[2]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(plan))


def test_empty_timeline_is_one_segment_from_overall() -> None:
    plan = plan_mood_segments(EmotionAnalysis(overall=ANGRY), 30.0, _choose_by_arousal)
    assert len(plan) == 1 and plan[0][2].track.id == "energetic"
    with pytest.raises(ValueError, match="duration_s"):
        plan_mood_segments(EmotionAnalysis(overall=ANGRY), 0.0, _choose_by_arousal)


def test_mood_runs_merges_shortest_into_longer_neighbour() -> None:
    tl = _timeline([(0.0, 100.0, CALM)])
    clusters = [0] * len(tl)
    clusters[5] = 1  # one 5 s blip
    runs = mood_runs(tl, clusters, min_stretch_s=45.0)
    assert runs == [list(range(len(tl)))]


def test_snap_to_bar() -> None:
    assert snap_to_bar(10.2, start_s=0.0, tempo_bpm=120.0, lo_s=9.0, hi_s=11.0) == pytest.approx(10.0)
    assert snap_to_bar(10.2, start_s=0.0, tempo_bpm=None, lo_s=9.0, hi_s=11.0) == 10.2
    assert snap_to_bar(10.2, start_s=0.0, tempo_bpm=60.0, lo_s=10.1, hi_s=10.3) == 10.2  # no bar line in the pause


def test_shipped_clusters_split_calm_and_angry() -> None:
    tl = _timeline([(0.0, 60.0, CALM), (60.0, 130.0, ANGRY)])
    plan = plan_mood_segments(EmotionAnalysis(overall=CALM, timeline=tl), 130.0, _choose_by_arousal)
    assert [c.track.id for _, _, c in plan] == ["calm", "energetic"]
