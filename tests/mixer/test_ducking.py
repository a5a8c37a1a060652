"""The ducking envelope and gain curve: look-ahead, pauses, smoothness (no zipper)."""

from __future__ import annotations

import numpy as np
import pytest

from mixer.ducking import duck_depth_db, duck_envelope, duck_gain_per_sample, speech_mask

HOP_S = 0.01


def env_at(env: np.ndarray, t: float) -> float:
    return float(env[int(round(t / HOP_S))])


def test_down_before_speech_up_in_long_pauses_held_in_short_ones():
    segs = [(2.0, 4.0), (4.5, 6.0), (9.0, 10.0)]  # 0.5 s pause (bridged), 3 s pause (released)
    env = duck_envelope(segs, 1301, HOP_S, attack_ms=100, release_ms=500, lookahead_ms=150, hold_ms=100,
                        min_pause_s=0.8)
    assert env_at(env, 1.0) == 0.0
    assert env_at(env, 1.95) == 1.0  # already fully down 50 ms before the first syllable
    assert env_at(env, 1.85) == 0.0  # and not earlier than the look-ahead
    assert min(env[int(2.0 / HOP_S) : int(6.0 / HOP_S)]) == 1.0  # the 0.5 s pause stays ducked
    assert env_at(env, 6.1) == 1.0  # hold
    assert 0.0 < env_at(env, 6.4) < 1.0  # releasing
    assert env_at(env, 7.0) == 0.0 and env_at(env, 8.0) == 0.0  # back up in the 3 s pause
    assert env_at(env, 8.96) == 1.0
    assert env_at(env, 12.0) == 0.0


def test_no_speech_no_ducking():
    assert not duck_envelope([], 500, HOP_S).any()
    assert np.all(duck_gain_per_sample([], 48000, 48000, depth_db=18.0) == 1.0)


@pytest.mark.parametrize("sr", [16000, 44100, 48000])
@pytest.mark.parametrize("depth_db", [12.0, 18.0, 20.0])
def test_gain_curve_has_no_zipper(sr, depth_db):
    segs = [(0.5, 2.0), (2.9, 5.0), (5.3, 6.0)]
    n = sr * 8
    g = duck_gain_per_sample(segs, n, sr, depth_db=depth_db, attack_ms=100, release_ms=500)
    assert g.shape == (n,) and g.dtype == np.float32
    assert g.min() == pytest.approx(10 ** (-depth_db / 20), rel=1e-3)
    assert g.max() == pytest.approx(1.0)
    # A raised cosine in dB over the 100 ms attack changes the gain by at most
    # (pi/2) * depth * ln(10)/20 per attack length; allow 30 % for the 10 ms control-rate interpolation.
    bound = 1.3 * (np.pi / 2) * depth_db * np.log(10) / 20 / (0.1 * sr)
    assert np.abs(np.diff(g)).max() <= bound


def test_speech_mask_covers_segments():
    m = speech_mask([(0.1, 0.3)], 50, HOP_S)
    assert m.sum() == 20 and m[10] and m[29] and not m[30]


def test_depth_follows_the_voice():
    n = 1000
    mask = np.zeros(n, bool)
    mask[100:900] = True
    voice = np.where(mask, 1.0, 1e-6)
    voice[500:900] *= 0.1  # the speaker drops 10 dB for the second half
    bed = np.full(n, 0.5)
    d = duck_depth_db(voice, bed, mask, HOP_S, depth_db=18.0, smooth_s=0.5)
    bed_db = 10 * np.log10(0.5)
    # music short-term loudness (bed + d) sits 18 dB under the voice's, in each half
    assert bed_db + d[300] == pytest.approx(0.0 - 18.0, abs=0.3)
    assert bed_db + d[750] == pytest.approx(-10.0 - 18.0, abs=0.3)
    static = duck_depth_db(voice, bed, mask, HOP_S, depth_db=18.0, follow_voice=False)
    assert np.ptp(static) < 1e-9
    assert np.all(d <= 0.0)
