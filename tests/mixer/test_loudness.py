"""BS.1770 loudness, true peak and the limiter, against pyloudnorm and signals with known answers."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from scipy.signal import resample_poly

from core.errors import InvalidAudioError
from mixer.limiter import limiter_gain
from mixer.loudness import (
    gain_to_target_db,
    integrated_loudness,
    kweighted_hop_power,
    short_term_from_hop_power,
    true_peak_dbtp,
)

SRS = [16000, 44100, 48000]


@pytest.mark.parametrize("sr", SRS)
@pytest.mark.parametrize("channels", [1, 2])
def test_integrated_matches_pyloudnorm(sr, channels, rng):
    x = (0.1 * rng.standard_normal((channels, sr * 12))).astype(np.float32)
    x[:, : sr * 4] *= 0.05  # a quiet stretch the relative gate must drop
    ours = integrated_loudness(x, sr)
    ref = pyloudnorm.Meter(sr).integrated_loudness(x.T.astype(np.float64))
    assert ours == pytest.approx(ref, abs=0.1)


@pytest.mark.parametrize("sr", SRS)
def test_stereo_1k_sine_reads_its_level(sr, sine_fn):
    # BS.1770: a 0 dBFS 997 Hz sine in one channel reads -3.01 LKFS; in both channels, 0 LKFS.
    x = sine_fn(sr, 997.0, 5.0, channels=2, amplitude=0.1)
    assert integrated_loudness(x, sr) == pytest.approx(-20.0, abs=0.15)


def test_silence_is_minus_infinity_and_gain_zero():
    x = np.zeros((2, 48000 * 2), np.float32)
    assert integrated_loudness(x, 48000) == float("-inf")
    assert gain_to_target_db(x, 48000, -16.0) == 0.0


@pytest.mark.parametrize("sr", SRS)
def test_true_peak_sees_intersample_peaks(sr):
    # fs/4 sine at 45 degrees: every sample sits at 0.707 of the crest, so the sample peak is 3 dB low.
    t = np.arange(sr) / sr
    x = (0.5 * np.sin(2 * np.pi * sr / 4 * t + np.pi / 4)).astype(np.float32)[None]
    sample_peak_db = 20 * np.log10(np.abs(x).max())
    assert sample_peak_db == pytest.approx(-9.03, abs=0.05)
    assert true_peak_dbtp(x, sr) == pytest.approx(-6.02, abs=0.2)


def test_true_peak_agrees_with_resample_poly(rng):
    # Band-limited noise (program material is): the BS.1770 interpolator, like ours, stops short of Nyquist.
    from scipy.signal import butter, sosfilt

    sr = 44100
    x = sosfilt(butter(8, 0.8, output="sos"), 0.2 * rng.standard_normal((2, sr * 3)), axis=1).astype(np.float32)
    ref = 20 * np.log10(np.abs(resample_poly(x.astype(np.float64), 4, 1, axis=1)).max())
    assert true_peak_dbtp(x, sr) == pytest.approx(ref, abs=0.2)


def test_short_term_follows_a_level_step(rng):
    sr = 48000
    x = (0.1 * rng.standard_normal((1, sr * 20))).astype(np.float32)
    x[:, sr * 10 :] *= 0.1  # -20 dB after 10 s
    hop = 480
    p, _ = kweighted_hop_power(x, sr, hop)
    st = short_term_from_hop_power(p, hop / sr)
    assert st[300] - st[1700] == pytest.approx(20.0, abs=0.5)


def test_hop_power_is_block_invariant(rng):
    sr = 16000
    x = (0.1 * rng.standard_normal((2, sr * 4))).astype(np.float32)
    whole, _ = kweighted_hop_power(x, sr, 160)
    a, z = kweighted_hop_power(x[:, : sr * 2], sr, 160)
    b, _ = kweighted_hop_power(x[:, sr * 2 :], sr, 160, z)
    np.testing.assert_allclose(np.concatenate([a, b]), whole, rtol=1e-9, atol=1e-15)


def test_limiter_keeps_every_hop_under_the_ceiling(rng):
    peak = np.abs(rng.standard_normal(20000)) * 0.4
    peak[5000] = 4.0
    peak[9000:9050] = 2.0
    ceiling = 10 ** (-1 / 20)
    g = limiter_gain(peak, ceiling=ceiling, hop_s=0.001)
    worst = np.maximum(g[:-1], g[1:])  # linear interpolation inside a hop never exceeds its boundaries
    assert (peak * worst).max() <= ceiling * (1 + 1e-6)  # float32 gains
    assert g.max() <= 1.0
    # look-ahead: the gain is already down 2 ms before the big peak, and recovers afterwards
    assert g[4998] < 0.9 and g[6500] > 0.95
    # smooth: no jump larger than the attack ramp allows
    assert np.abs(np.diff(g)).max() < 0.5


def test_limiter_idle_when_nothing_is_over():
    g = limiter_gain(np.full(100, 0.5), ceiling=0.89, hop_s=0.001)
    assert np.all(g == 1.0)


def test_bad_audio_raises_helpful_error():
    with pytest.raises(InvalidAudioError, match="float32"):
        integrated_loudness(np.zeros((1, 100), np.float64), 48000)
    with pytest.raises(InvalidAudioError, match="sample rate"):
        true_peak_dbtp(np.zeros((1, 100), np.float32), 0)


def test_limiter_skipping_quiet_stretches_is_exact(rng, monkeypatch):
    # limiter_gain computes only around the hops that need reduction; the result must equal the full computation.
    from mixer import limiter as limiter_mod
    from mixer.limiter import _limiter_core

    for trial in range(20):
        n = int(rng.integers(200, 40000))
        peak = np.abs(rng.standard_normal(n)) * rng.uniform(0.05, 0.4)
        for _ in range(int(rng.integers(1, 20))):
            i = int(rng.integers(0, n))
            peak[i : i + int(rng.integers(1, 50))] = rng.uniform(0.5, 5.0)
        if trial % 4 == 0:
            peak[-3:] = 3.0  # a peak at the very end
        need = np.minimum(1.0, 0.89 / peak.astype(np.float32)).astype(np.float64)
        monkeypatch.setattr(limiter_mod, "_GROUP", int(rng.integers(50, 5000)))
        full = _limiter_core(need, 2, 12.0 / 150.0) if need.min() < 1 else np.ones(n + 1)
        got = limiter_gain(peak, ceiling=0.89, hop_s=0.001, lookahead_ms=5.0, release_ms=150.0)
        np.testing.assert_allclose(got, full, rtol=0, atol=1e-6)
