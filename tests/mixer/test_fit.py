"""Fit to length: loops without clicks at bar points, fades, exact length, trims ending on a fade."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from tests.signals import music_like

from core.errors import InvalidAudioError
from mixer.fit import FitResult, fit_to_length, plan_fit

SRS = [16000, 44100, 48000]
BPM = 120.0


def grid(seconds: float, bpm: float = BPM, accent: int = 0) -> tuple[list[float], list[float]]:
    period = 60.0 / bpm
    beats = list(np.arange(0.0, seconds, period))
    return beats, beats[accent::4]


def seam_jump_ratio(audio: np.ndarray, seam: int, half: int, reference: np.ndarray) -> float:
    """Largest sample-to-sample step around a seam over the source music's 99.9th-percentile step."""
    d = np.abs(np.diff(audio[:, seam - half : seam + half], axis=1)).max()
    return float(d / np.percentile(np.abs(np.diff(reference, axis=1)), 99.9))


@pytest.mark.parametrize("sr", SRS)
def test_loop_is_exact_length_and_seams_are_clean(sr):
    music = music_like(sr, 20.0)
    beats, downs = grid(20.0)
    n = int(sr * 61.3)
    res = fit_to_length(music, sr, n, beats=beats, downbeats=downs)
    assert isinstance(res, FitResult)
    assert res.method == "loop"
    assert res.audio.shape == (2, n) and res.audio.dtype == np.float32
    assert len(res.seams) >= 2
    for s in res.seams:
        assert seam_jump_ratio(res.audio, s, int(0.02 * sr), music) <= 1.0
    # no dip or bump: the level across each crossfade stays within 1.5 dB of the music's own
    own = 10 * np.log10(np.mean(music.astype(np.float64) ** 2))
    for s in res.seams:
        w = res.audio[:, s - sr // 4 : s + sr // 4].astype(np.float64)
        assert abs(10 * np.log10(np.mean(w**2)) - own) < 1.5


def test_seam_check_catches_a_hard_cut():
    # The click measure must fail on a naive loop: the same music butt-joined at an arbitrary point.
    sr = 44100
    music = music_like(sr, 10.0)
    naive = np.concatenate([music[:, : int(7.3 * sr)], music[:, int(1.1 * sr) :]], axis=1)
    assert seam_jump_ratio(naive, int(7.3 * sr), int(0.02 * sr), music) > 1.5


def test_loop_points_are_bar_lines_and_seams_follow_them():
    sr = 44100
    music = music_like(sr, 20.0)
    beats, downs = grid(20.0)
    plan = plan_fit(music, sr, sr * 50, beats=beats, downbeats=downs)
    l0, l1 = plan.loop_s
    bar = 4 * 60.0 / BPM
    assert min(abs(l0 - d) for d in downs) < 0.011  # within the 10 ms phase nudge
    assert min(abs(l1 - d) for d in downs) < 0.011
    assert l1 - l0 >= 2 * bar
    assert np.allclose(np.diff(plan.seams), round((l1 - l0) * sr), atol=1)


@pytest.mark.parametrize("sr", SRS)
def test_fade_in_and_faded_out_ending(sr):
    music = music_like(sr, 20.0, level=0.5)
    beats, downs = grid(20.0)
    n = int(sr * 45)
    res = fit_to_length(music, sr, n, beats=beats, downbeats=downs, fade_in_s=1.0, fade_out_s=3.0)
    a = res.audio.astype(np.float64)

    def rms_db(x):
        return 10 * np.log10(np.mean(x**2) + 1e-20)

    body = rms_db(a[:, n // 2 : n // 2 + sr])
    assert abs(a[:, 0]).max() < 1e-3
    assert rms_db(a[:, : sr // 10]) < body - 20  # first 100 ms of a 1 s raised-cosine fade
    assert abs(a[:, -1]).max() < 1e-3
    tail = [rms_db(a[:, n - k * sr // 2 : n - (k - 1) * sr // 2]) for k in (6, 4, 2, 1)]
    assert all(x > y for x, y in zip(tail, tail[1:]))  # falling through the last 3 s
    assert tail[-1] < body - 20


def test_fade_out_starts_on_a_bar_line():
    sr = 44100
    music = music_like(sr, 40.0)
    beats, downs = grid(40.0)
    n = int(sr * 31.7)
    plan = plan_fit(music, sr, n, beats=beats, downbeats=downs, fade_out_s=3.0)
    assert plan.method == "trim"
    assert min(abs(plan.fade_out_start / sr - d) for d in downs) < 1.0 / sr + 1e-9
    assert plan.fade_out_start + plan.fade_out == n


@pytest.mark.parametrize("sr", SRS)
def test_trim_keeps_the_music_between_the_fades(sr):
    music = music_like(sr, 30.0)
    beats, downs = grid(30.0)
    n = int(sr * 12.5)
    res = fit_to_length(music, sr, n, beats=beats, downbeats=downs)
    assert res.method == "trim" and res.seams == () and res.audio.shape == (2, n)
    mid = slice(2 * sr, 8 * sr)
    np.testing.assert_array_equal(res.audio[:, mid], music[:, mid])


def test_loop_without_a_grid_and_mono():
    sr = 16000
    music = music_like(sr, 7.0, channels=1)
    res = fit_to_length(music, sr, sr * 30, beats=[], downbeats=[])
    assert res.method == "loop" and res.audio.shape == (1, sr * 30)
    for s in res.seams:
        assert seam_jump_ratio(res.audio, s, int(0.02 * sr), music) <= 1.0


def test_blockwise_render_equals_whole(rng):
    sr = 16000
    music = music_like(sr, 9.0)
    beats, downs = grid(9.0)
    n = sr * 40 + 123
    plan = plan_fit(music, sr, n, beats=beats, downbeats=downs)
    whole = plan.render(music)
    edges = np.unique(np.concatenate([[0, n], rng.integers(1, n, 25)]))
    parts = np.concatenate([plan.render(music, a, b) for a, b in itertools.pairwise(edges)], axis=1)
    np.testing.assert_array_equal(parts, whole)


@pytest.mark.slow
def test_beats_tracked_when_not_given():
    sr = 22050
    music = music_like(sr, 16.0, accent_phase=2)
    res = fit_to_length(music, sr, sr * 40)
    assert res.method == "loop" and res.audio.shape == (2, sr * 40)
    for s in res.seams:
        assert seam_jump_ratio(res.audio, s, int(0.02 * sr), music) <= 1.0


def test_does_not_mutate_input():
    sr = 16000
    music = music_like(sr, 5.0)
    before = music.copy()
    fit_to_length(music, sr, sr * 12, beats=[], downbeats=[])
    np.testing.assert_array_equal(music, before)


def test_bad_inputs_raise():
    sr = 16000
    with pytest.raises(InvalidAudioError, match="n_samples"):
        fit_to_length(music_like(sr, 2.0), sr, 0, beats=[], downbeats=[])
    with pytest.raises(InvalidAudioError, match="music must be float32"):
        fit_to_length(np.zeros((2, 100), np.float64), sr, 100)
    with pytest.raises(InvalidAudioError, match="music has 1 non-finite"):
        bad = music_like(sr, 1.0)
        bad[0, 5] = np.inf
        fit_to_length(bad, sr, 100)


def test_too_short_music_to_loop_raises():
    with pytest.raises(InvalidAudioError, match="too short to loop"):
        fit_to_length(np.full((2, 100), 0.1, np.float32), 16000, 16000, beats=[], downbeats=[])


def test_very_short_music_loops_to_exact_length():
    sr = 16000
    music = music_like(sr, 0.3)
    res = fit_to_length(music, sr, sr * 5, beats=[], downbeats=[])
    assert res.audio.shape == (2, sr * 5) and res.method == "loop"
    assert np.isfinite(res.audio).all() and np.abs(res.audio).max() <= 1.0


def test_plan_fit_accepts_the_length_and_music_keyword_form():
    sr = 16000
    music = music_like(sr, 6.0)
    a = plan_fit(music, sr, sr * 15, beats=[], downbeats=[])
    b = plan_fit(music.shape[1], sr, sr * 15, music=music, beats=[], downbeats=[])
    assert a == b
