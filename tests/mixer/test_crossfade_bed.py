"""mixer.crossfade_bed.build_bed: equal-power crossfades at the planned change points, exact length, errors."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from core.errors import InvalidAudioError
from mixer.crossfade_bed import build_bed, equal_power_fades, segment_span
from tests.signals import sine


def _fit(audio: np.ndarray, length: int) -> np.ndarray:
    reps = int(np.ceil(length / audio.shape[1]))
    return np.tile(audio, (1, reps))[:, :length]


@pytest.mark.parametrize("sr", [16000, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_two_tracks_crossfade_at_change_point(sr: int, channels: int) -> None:
    n = 20 * sr
    xf_s = 2.0
    plan = [(0.0, 8.0), (8.0, 20.0)]
    tones = [sine(sr, 220.0, 1.0, channels), sine(sr, 330.0, 1.0, channels)]
    segs = []
    for i, ((s, e), tone) in enumerate(zip(plan, tones)):
        _, length = segment_span(s, e, sr=sr, n_samples=n, crossfade_s=xf_s, first=i == 0, last=i == 1)
        segs.append((s, e, _fit(tone, length)))
    bed = build_bed(segs, sr, n, crossfade_s=xf_s)
    assert bed.shape == (channels, n) and bed.dtype == np.float32
    # before the crossfade: only track A at full level; after: only track B
    a = bed[0, int(1 * sr): int(6 * sr)]
    b = bed[0, int(10 * sr): int(19 * sr)]
    assert_allclose(np.sqrt(np.mean(a**2)), 0.5 / np.sqrt(2), rtol=0.01)
    assert_allclose(np.sqrt(np.mean(b**2)), 0.5 / np.sqrt(2), rtol=0.01)
    spec_a = np.abs(np.fft.rfft(a))
    spec_b = np.abs(np.fft.rfft(b))
    assert np.argmax(spec_a) / (len(a) / sr) == pytest.approx(220.0, abs=1.0)
    assert np.argmax(spec_b) / (len(b) / sr) == pytest.approx(330.0, abs=1.0)
    # in the middle of the crossfade both play at -3 dB (equal power)
    mid = bed[0, int(7.9 * sr): int(8.1 * sr)]
    assert 0.5 * 0.6 < np.max(np.abs(mid)) < 0.5 * 1.45


def test_equal_power_fades_sum_to_unit_power() -> None:
    fi, fo = equal_power_fades(4410)
    assert_allclose(fi.astype(np.float64) ** 2 + fo.astype(np.float64) ** 2, 1.0, atol=1e-6)
    assert fi[0] < 0.01 and fo[-1] < 0.01 and fi[-1] > 0.99


def test_single_segment_is_the_audio_unchanged() -> None:
    sr = 16000
    tone = sine(sr, 440.0, 3.0, 2)
    bed = build_bed([(0.0, 3.0, tone)], sr, tone.shape[1], crossfade_s=2.0)
    assert_allclose(bed, tone)


def test_three_segments_cover_exact_length_without_gaps() -> None:
    sr = 8000
    n = 30 * sr
    plan = [(0.0, 10.0), (10.0, 21.0), (21.0, 30.0)]
    segs = []
    for i, (s, e) in enumerate(plan):
        _, length = segment_span(s, e, sr=sr, n_samples=n, crossfade_s=1.0, first=i == 0, last=i == 2)
        segs.append((s, e, np.full((1, length), 0.3, dtype=np.float32)))
    bed = build_bed(segs, sr, n, crossfade_s=1.0)
    # constant inputs: equal-power gains give amplitude 0.3*(sin+cos) >= 0.3 in fades, never a hole
    assert bed.min() >= 0.3 - 1e-5
    assert bed.max() <= 0.3 * np.sqrt(2) + 1e-5
    assert_allclose(bed[0, :9 * sr], 0.3, atol=1e-6)


def test_input_not_mutated() -> None:
    sr = 8000
    n = 10 * sr
    a = np.full((1, 6 * sr), 0.2, dtype=np.float32)
    b = np.full((1, 6 * sr), 0.4, dtype=np.float32)
    a0, b0 = a.copy(), b.copy()
    build_bed([(0.0, 5.0, a), (5.0, 10.0, b)], sr, n, crossfade_s=1.0)
    assert_allclose(a, a0)
    assert_allclose(b, b0)


def test_errors_are_helpful() -> None:
    sr = 8000
    with pytest.raises(InvalidAudioError, match="at least one"):
        build_bed([], sr, 100)
    with pytest.raises(InvalidAudioError, match="channel counts"):
        build_bed([(0.0, 1.0, np.zeros((1, 9000), np.float32)), (1.0, 2.0, np.zeros((2, 9000), np.float32))],
                  sr, 2 * sr)
    with pytest.raises(InvalidAudioError, match="segment_span"):
        build_bed([(0.0, 2.0, np.zeros((1, 100), np.float32))], sr, 2 * sr)
    with pytest.raises(InvalidAudioError, match="float32"):
        build_bed([(0.0, 1.0, np.zeros((1, sr), np.float64))], sr, sr)


def test_streamed_bed_of_fit_plans_equals_the_bed_built_whole(rng: np.random.Generator) -> None:
    """The pipeline's follow-mood bed is a block reader over each track's fit plan: any block sizes give the
    samples build_bed gives from the same tracks fitted and rendered whole (the old in-memory path)."""
    from mixer.crossfade_bed import FollowBed
    from mixer.fit import fit_to_length, plan_fit
    from mixer.media import BedReader

    sr, n = 8000, 8000 * 40
    tracks = [np.repeat(sine(sr, hz, 7.0), 2, axis=0) * (0.5 + 0.1 * rng.standard_normal((1, 7 * sr))).astype(
        np.float32) for hz in (220.0, 330.0, 440.0)]
    plan = [(0.0, 12.0), (12.0, 25.5), (25.5, 40.0)]
    spans = [segment_span(s, e, sr=sr, n_samples=n, crossfade_s=2.0, first=i == 0, last=i == 2)[1]
             for i, (s, e) in enumerate(plan)]
    whole = build_bed([(s, e, fit_to_length(t, sr, k).audio) for (s, e), t, k in zip(plan, tracks, spans)],
                      sr, n, crossfade_s=2.0)
    bed = FollowBed([(s, e, BedReader(plan_fit(t, sr, k), t)) for (s, e), t, k in zip(plan, tracks, spans)],
                    sr, n, crossfade_s=2.0, channels=2)
    assert bed.n_samples == n
    edges = np.unique(np.concatenate([[0, n], rng.integers(1, n, 40)]))
    streamed = np.concatenate([bed(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])], axis=1)
    assert streamed.shape == whole.shape
    assert_allclose(streamed, whole, atol=2e-6)
    assert np.max(np.abs(whole[:, 12 * sr - 200: 12 * sr + 200])) > 0.1  # the crossfade is not a hole
