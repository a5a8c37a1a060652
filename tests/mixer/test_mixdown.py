"""The mixdown on real speech: depth under speech per preset, music back up in pauses, loudness target, true peak,
stems that sum to the pre-limiter mix, block-wise rendering, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pyloudnorm
import pytest
from tests.signals import emodb_program, music_like
from scipy.signal import resample_poly

from core.errors import InvalidAudioError
from mixer.ducking import interpolate_curve
from mixer.fit import plan_fit
from mixer.loudness import integrated_loudness, true_peak_dbtp
from mixer.mixdown import DEPTH_PRESETS, MixResult, MixSettings, mix_voice_and_bed, plan_mix
from mixer.vad import detect_speech


def lufs(x: np.ndarray, sr: int, t0: float, t1: float) -> float:
    return integrated_loudness(np.ascontiguousarray(x[:, int(t0 * sr) : int(t1 * sr)]), sr)


@pytest.fixture(scope="module")
def program(emodb_dir):
    """emodb speech (2 groups of 3 utterances, 5 s pauses) at 48 kHz, its VAD segments and a fitted bed."""
    sr = 48000
    voice, spans = emodb_program(emodb_dir, sr, pause_s=5.0)
    segs = detect_speech(voice, sr).segments
    music = music_like(sr, 12.0, level=0.5)
    plan = plan_fit(music, sr, voice.shape[1], beats=list(np.arange(0, 12, 0.5)),
                    downbeats=list(np.arange(0, 12, 2.0)))
    return voice, plan.render(music), sr, segs, spans


@pytest.mark.parametrize("preset", sorted(DEPTH_PRESETS))
def test_bed_sits_at_the_preset_depth_and_comes_back_up(program, preset):
    voice, bed, sr, segs, spans = program
    settings = MixSettings.for_preset(preset)
    res = mix_voice_and_bed(voice, bed, sr, segs, settings=settings)
    assert isinstance(res, MixResult)
    depth = DEPTH_PRESETS[preset]
    for s, e in spans:  # under speech (short-term windows inside each spoken group)
        for t0 in np.arange(s + 0.3, e - 3.0, 1.0):
            gap = lufs(res.voice, sr, t0, t0 + 3.0) - lufs(res.music, sr, t0, t0 + 3.0)
            assert gap == pytest.approx(depth, abs=2.0), (t0, gap)
    voice_level = lufs(res.voice, sr, 0, voice.shape[1] / sr)
    for s, e in spans:  # in the 5 s pauses: back at its own level, bed_db under the voice
        pause = lufs(res.music, sr, e + 1.2, e + 4.2)
        assert pause - voice_level == pytest.approx(settings.bed_db, abs=2.0)
        assert pause > lufs(res.music, sr, s + 0.3, e - 0.3) + depth + settings.bed_db - 2.0
    assert res.speech_to_music_db == pytest.approx(depth, abs=2.0)
    assert res.duck_db == pytest.approx(depth + settings.bed_db, abs=2.0)


@pytest.mark.parametrize("target", [-16.0, -14.0, -23.0])
def test_loudness_target_and_true_peak(program, target):
    voice, bed, sr, segs, _ = program
    res = mix_voice_and_bed(voice, bed, sr, segs, settings=MixSettings(target_lufs=target))
    ref = pyloudnorm.Meter(sr).integrated_loudness(res.mix.T.astype(np.float64))
    assert ref == pytest.approx(target, abs=1.0)
    assert res.integrated_lufs == pytest.approx(ref, abs=0.1)
    oversampled = 20 * np.log10(np.abs(resample_poly(res.mix.astype(np.float64), 4, 1, axis=1)).max())
    assert oversampled <= -1.0 + 0.05
    assert res.true_peak_dbtp <= -1.0
    assert res.true_peak_dbtp == pytest.approx(true_peak_dbtp(res.mix, sr), abs=0.01)


@pytest.mark.parametrize("sr", [16000, 44100, 48000])
def test_limiter_catches_peaks_and_stems_sum_to_the_pre_limiter_mix(sr, speech_fn, rng):
    # A loud target on peaky speech-like bursts forces the limiter to work.
    bursts = [(0.5, 3.0), (3.4, 6.0), (8.0, 11.0)]
    voice = speech_fn(sr, 12.0, bursts=bursts, rng=rng)
    bed = music_like(sr, 12.0)
    settings = MixSettings(target_lufs=-9.0, depth_db=12.0)
    res = mix_voice_and_bed(voice, bed, sr, bursts, settings=settings)
    assert res.integrated_lufs == pytest.approx(-9.0, abs=1.0)
    assert res.true_peak_dbtp <= -1.0
    assert true_peak_dbtp(res.mix, sr) <= -1.0
    plan = plan_mix(voice, bed, sr, bursts, settings=settings)
    lim = interpolate_curve(plan.limiter, plan.lim_hop, 0, voice.shape[1])
    assert lim.min() < 0.9  # it did limit
    pre = res.voice + res.music
    np.testing.assert_allclose(res.mix, pre * lim, atol=1e-6)
    untouched = lim == 1.0
    np.testing.assert_array_equal(res.mix[:, untouched], pre[:, untouched])


def test_stems_sum_exactly_when_the_limiter_is_idle(program):
    voice, bed, sr, segs, _ = program
    res = mix_voice_and_bed(voice, bed, sr, segs, settings=MixSettings(target_lufs=-23.0))
    np.testing.assert_allclose(res.voice + res.music, res.mix, atol=1e-6)
    assert res.voice.shape == res.music.shape == res.mix.shape == (2, voice.shape[1])
    np.testing.assert_array_equal(res.voice[0], res.voice[1])  # mono voice, dual-mono in the stems


def test_blockwise_render_matches_whole_array(program, rng):
    voice, bed, sr, segs, _ = program
    whole = mix_voice_and_bed(voice, bed, sr, segs, settings=MixSettings())

    def read_bed(i0, i1):
        return bed[:, i0:i1]

    read_bed.n_samples = bed.shape[1]
    plan = plan_mix(voice, read_bed, sr, segs, settings=MixSettings())
    n = voice.shape[1]
    edges = np.unique(np.concatenate([[0, n], rng.integers(1, n, 17)]))
    mix = np.concatenate([plan.render_block(voice[:, a:b], bed[:, a:b], int(a))[0]
                          for a, b in itertools.pairwise(edges)], axis=1)
    np.testing.assert_allclose(mix, whole.mix, atol=1e-6)


def test_silent_voice_still_gets_a_bed():
    sr = 16000
    voice = np.zeros((1, sr * 10), np.float32)
    bed = music_like(sr, 10.0)
    res = mix_voice_and_bed(voice, bed, sr, [], settings=MixSettings())
    assert res.integrated_lufs == pytest.approx(-16.0, abs=1.0)
    assert not np.any(res.voice)
    assert res.duck_db == 0.0


def test_inputs_are_not_mutated(program):
    voice, bed, sr, segs, _ = program
    v0, b0 = voice.copy(), bed.copy()
    mix_voice_and_bed(voice, bed, sr, segs, settings=MixSettings())
    np.testing.assert_array_equal(voice, v0)
    np.testing.assert_array_equal(bed, b0)


def test_presets():
    assert MixSettings.for_preset("vlog").depth_db == 12.0
    assert MixSettings.for_preset("clear", target_lufs=-14.0).target_lufs == -14.0
    with pytest.raises(InvalidAudioError, match="unknown preset"):
        MixSettings.for_preset("loud")


@pytest.mark.parametrize(
    "voice, bed, sr, match",
    [
        (np.zeros((1, 100), np.float32), np.zeros((2, 99), np.float32), 16000, "fit the bed"),
        (np.zeros((1, 100), np.float64), np.zeros((2, 100), np.float32), 16000, "voice must be float32"),
        (np.zeros(100, np.float32), np.zeros((2, 100), np.float32), 16000, "voice must be 2-D"),
        (np.zeros((1, 100), np.float32), np.full((2, 100), np.nan, np.float32), 16000, "bed has 200 non-finite"),
        (np.zeros((1, 0), np.float32), np.zeros((2, 0), np.float32), 16000, "voice is empty"),
        (np.zeros((1, 100), np.float32), np.zeros((2, 100), np.float32), 0, "sample rate"),
    ],
)
def test_bad_input_raises_helpful_error(voice, bed, sr, match):
    with pytest.raises(InvalidAudioError, match=match):
        mix_voice_and_bed(voice, bed, sr, [], settings=MixSettings())


def test_bad_settings_raise():
    x = np.zeros((1, 16000), np.float32)
    with pytest.raises(InvalidAudioError, match="target_lufs"):
        mix_voice_and_bed(x, x, 16000, [], settings=MixSettings(target_lufs=5.0))
