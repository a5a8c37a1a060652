"""Fusion rules, the overall mood and the timeline pieces."""

from __future__ import annotations

import pytest

from models.fusion import FUSION_METHODS, fuse, overall, timeline_pieces
from models.mapping import LABEL_VA, normalise_labels
from models.types import LABELS, EmotionEstimate, neutral_estimate


def est(top: str, p: float = 0.8, conf: float = 0.8) -> EmotionEstimate:
    labels = normalise_labels({k: (p if k == top else (1 - p) / 5) for k in LABELS})
    v, a = LABEL_VA[top]
    return EmotionEstimate(labels, v, a, conf)


@pytest.mark.parametrize("method", FUSION_METHODS)
def test_missing_or_neutral_source_leaves_the_other(method: str) -> None:
    v = est("anger")
    assert fuse(v, None, method=method) == v
    assert fuse(v, neutral_estimate(), method=method) == v
    t = est("love")
    assert fuse(None, t, method=method) == t
    both = fuse(None, neutral_estimate(), method=method)
    assert both.neutral and both.confidence == 0.0


@pytest.mark.parametrize("method", FUSION_METHODS)
def test_fused_result_is_a_distribution_on_the_circumplex(method: str) -> None:
    f = fuse(est("sadness"), est("surprise", conf=0.6), method=method)
    assert sum(f.labels.values()) == pytest.approx(1.0)
    assert -1 <= f.valence <= 1 and -1 <= f.arousal <= 1 and 0 <= f.confidence <= 1
    assert not f.neutral


def test_complement_takes_only_uncovered_labels_from_the_words() -> None:
    voice = est("anger", p=0.9, conf=0.9)
    # words say joy (a label the voice covers): the complement rule ignores it
    f = fuse(voice, est("joy", p=0.95, conf=0.95), method="complement")
    assert f.top() == "anger"
    covered_joy = voice.labels["joy"] / sum(voice.labels[k] for k in ("sadness", "joy", "anger", "fear"))
    assert f.labels["joy"] <= covered_joy + 1e-9  # the words' joy never raises it
    # words say love (uncovered) confidently: love enters with the text's share
    g = fuse(est("sadness", p=0.5, conf=0.3), est("love", p=0.95, conf=0.95), method="complement")
    assert g.top() == "love"
    assert g.valence > est("sadness").valence


def test_weighted_follows_the_more_confident_source() -> None:
    strong_voice = fuse(est("anger", conf=0.9), est("joy", conf=0.1), method="weighted")
    strong_text = fuse(est("anger", conf=0.1), est("joy", conf=0.9), method="weighted")
    assert strong_voice.top() == "anger" and strong_text.top() == "joy"
    assert strong_voice.valence < 0 < strong_text.valence
    agree = fuse(est("fear", conf=0.7), est("fear", conf=0.7), method="weighted")
    assert agree.top() == "fear" and agree.confidence == pytest.approx(0.7)


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="fusion method"):
        fuse(est("joy"), est("joy"), method="average")  # type: ignore[arg-type]


def test_overall_weights_duration_and_confidence() -> None:
    long_sad = (8.0, est("sadness", conf=0.6))
    short_joy = (2.0, est("joy", conf=0.6))
    assert overall([long_sad, short_joy]).top() == "sadness"
    # a confident short segment against an unsure long one of the same length-weight
    sure = overall([(3.0, est("joy", conf=0.95)), (3.0, est("anger", conf=0.05))])
    assert sure.top() == "joy"
    assert sure.confidence == pytest.approx(0.5)
    # neutral (nothing to judge) segments are left out; all neutral → flagged neutral
    assert overall([(5.0, neutral_estimate()), (1.0, est("fear"))]).top() == "fear"
    assert overall([(5.0, neutral_estimate())]).neutral
    assert overall([]).neutral


def test_timeline_pieces_clip_merge_and_split() -> None:
    pieces = timeline_pieces([(5.0, 7.0), (-1.0, 2.0), (1.5, 3.0), (9.0, 9.1), (10.0, 35.0)], 30.0,
                             max_piece_s=10.0)
    assert pieces[0] == (0.0, 3.0)  # clipped at 0 and merged with the overlapping one
    assert pieces[1] == (5.0, 7.0)
    assert (9.0, 9.1) not in pieces  # a click is dropped
    tail = pieces[2:]
    assert tail[0][0] == 10.0 and tail[-1][1] == 30.0  # clipped to the input
    assert all(b - a <= 10.0 + 1e-9 for a, b in tail) and len(tail) == 2
