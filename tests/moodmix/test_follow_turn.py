"""--follow-mood changes track in the pause nearest the mood's turn (issue 12 §3: it changed 14 s early).

The turn is found as a change point of the emotion timeline (the split that best separates the two moods), so one
misheard line on either side does not drag the change by its distance."""

from __future__ import annotations

import pytest

from library.mood_plan import plan_mood_segments, turn_index
from library.types import Track, TrackChoice
from models.mapping import labels_from_va
from models.types import EmotionAnalysis, EmotionEstimate, TimedEmotion


def _est(v: float, a: float) -> EmotionEstimate:
    return EmotionEstimate(labels_from_va(v, a), v, a, 0.8)


HAPPY = _est(0.7, 0.4)
SAD = _est(-0.6, -0.5)


def _choose(e: EmotionEstimate, avoid) -> TrackChoice:  # type: ignore[no-untyped-def]
    tid = "bright" if e.valence > 0 else "dark"
    t = Track(id=tid, path=f"/x/{tid}.opus", title=tid, duration_s=60.0, features={"tempo": 0.0}, tags=())
    return TrackChoice(track=t, rule="intersection", reasons=("test",))


def _voice(moods: list[EmotionEstimate], line_s: float = 3.0, gap_s: float = 1.0) -> tuple[TimedEmotion, ...]:
    out, t = [], 0.5
    for est in moods:
        out.append(TimedEmotion(t, t + line_s, est))
        t += line_s + gap_s
    return tuple(out)


def test_a_misheard_sad_line_early_does_not_move_the_change():
    """20 happy lines, one of them (14 s before the turn) heard as sad, then 20 sad lines: the change lands in the
    pause at the turn, not before the misheard line."""
    moods = [HAPPY] * 20 + [SAD] * 20
    moods[16] = SAD  # 4 lines = 16 s before the turn
    timeline = _voice(moods)
    turn = timeline[19].end  # end of the last happy line
    assert turn_index(timeline, 0, len(timeline) - 1) == 20
    plan = plan_mood_segments(EmotionAnalysis(overall=HAPPY, sources={}, timeline=timeline), 170.0, _choose,
                              min_stretch_s=45.0, cluster_of=lambda e: 0 if e.valence > 0 else 1)
    assert [c.track.id for _, _, c in plan] == ["bright", "dark"]
    switch = plan[0][1]
    assert timeline[19].end <= switch <= timeline[20].start  # in the pause at the turn
    assert abs(switch - turn) < 3.0


@pytest.mark.parametrize("noise_at", [22, 25])
def test_a_misheard_happy_line_after_the_turn_does_not_move_it_either(noise_at):
    moods = [HAPPY] * 20 + [SAD] * 20
    moods[noise_at] = HAPPY
    timeline = _voice(moods)
    assert turn_index(timeline, 0, len(timeline) - 1) == 20


def test_turn_index_edges():
    timeline = _voice([HAPPY, SAD])
    assert turn_index(timeline, 0, 1) == 1
    assert turn_index(timeline, 0, 0) == 1
