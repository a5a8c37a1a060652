"""The voice leveller (mixer/leveller.py) and its place in the mixdown: phrases whose level swings ±10 dB are brought
together, pauses are never raised, the limiter only trims, and the stems still sum to the pre-limiter mix."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mixer.ducking import speech_mask
from mixer.leveller import LEVELLER_PRESETS, LevellerSettings, compressor_gain, leveller_for, rider_gain_db
from mixer.loudness import integrated_loudness, kweighted_hop_power, true_peak_dbtp
from mixer.mixdown import MixSettings, mix_voice_and_bed
from tests.signals import emodb_program, music_like

SR = 48000
HOP = SR // 100


def _phrases(rng, gains_db, *, line_s=2.0, gap_s=0.8, sr=SR):
    """Speech-like lines at the given levels (dB), separated by gaps; returns (audio (1, n), segments)."""
    from tests.signals import speech_like

    parts, segs, t = [np.zeros(int(0.5 * sr), np.float32)], [], 0.5
    for g in gains_db:
        y = speech_like(sr, line_s, bursts=[(0.0, line_s)], rng=rng, level=0.25)[0] * np.float32(10 ** (g / 20))
        parts += [y, np.zeros(int(gap_s * sr), np.float32)]
        segs.append((t, t + line_s))
        t += line_s + gap_s
    return np.concatenate(parts)[None, :], segs


def _line_levels(audio, segs, sr=SR):
    out = []
    for s, e in segs:
        x = audio[:, int((s + 0.6) * sr):int((e - 0.2) * sr)]  # the body of the line (past the rider's rise)
        out.append(10 * np.log10(np.mean(x.astype(np.float64) ** 2)))
    return np.array(out)


def _apply_rider(audio, segs, settings, sr=SR):
    p, _ = kweighted_hop_power(audio, sr, HOP)
    mask = speech_mask(segs, p.size, HOP / sr)
    g_db = rider_gain_db(p, mask, HOP / sr, settings=settings)
    curve = np.interp(np.arange(audio.shape[1]) / HOP, np.arange(g_db.size), g_db)
    return audio * (10 ** (curve / 20)).astype(np.float32), g_db


def test_rider_brings_lines_swinging_20_db_within_a_few_db(rng):
    audio, segs = _phrases(rng, [-10, 10, 0, -10, 10, 0, 10, -10])
    before = _line_levels(audio, segs)
    out, g_db = _apply_rider(audio, segs, LevellerSettings())
    after = _line_levels(out, segs)
    assert np.ptp(before) > 19
    assert np.ptp(after) < 3.0, after
    assert g_db.max() <= 10.0 + 1e-9 and g_db.min() >= -10.0 - 1e-9


def test_rider_range_is_bounded(rng):
    """A line 20 dB under the others is raised by the range (here 6 dB), no more."""
    audio, segs = _phrases(rng, [0, 0, -20, 0, 0])
    out, g_db = _apply_rider(audio, segs, LevellerSettings(range_db=6.0))
    lv = _line_levels(out, segs) - _line_levels(audio, segs)
    assert lv[2] == pytest.approx(6.0, abs=0.3)
    assert g_db.max() <= 6.0 + 1e-9


def test_pauses_and_breaths_are_never_raised_above_the_speech_around_them(rng):
    """A whispered line after a loud one: the pause between them keeps the lower (loud line's) gain; a breath-like
    noise in the pause is not lifted to the whisper's boost."""
    audio, segs = _phrases(rng, [10, -10, -10, 10])
    breath_at = int((segs[1][1] + 0.3) * SR)
    audio[0, breath_at:breath_at + SR // 5] += 0.003 * rng.standard_normal(SR // 5).astype(np.float32)
    p, _ = kweighted_hop_power(audio, SR, HOP)
    mask = speech_mask(segs, p.size, HOP / SR)
    g_db = rider_gain_db(p, mask, HOP / SR, settings=LevellerSettings())
    for (s0, e0), (s1, _) in itertools.pairwise(segs):
        pause = g_db[int(e0 * 100) + 1:int(s1 * 100)]
        left = g_db[int((e0 - 0.3) * 100)]
        right = g_db[int((s1 + 1.0) * 100)]
        assert pause.max() <= max(left, right) + 0.5  # never above the speech on both sides
        assert pause.max() <= min(left, right) + 6.0  # and it rises into the quieter line, not in the pause
    # the pause between the two whispered lines is not raised above the whisper's own gain
    e1, s2 = segs[1][1], segs[2][0]
    assert g_db[int(e1 * 100) + 5:int(s2 * 100)].max() <= g_db[int((e1 - 0.5) * 100)] + 0.5


def test_no_speech_means_no_riding(rng):
    audio = (0.1 * rng.standard_normal((1, 3 * SR))).astype(np.float32)
    p, _ = kweighted_hop_power(audio, SR, HOP)
    assert np.all(rider_gain_db(p, np.zeros(p.size, bool), HOP / SR) == 0.0)


def test_compressor_reduces_peaks_above_threshold_by_the_ratio_and_never_boosts():
    hop_s = 0.001
    peak = np.full(3000, 10 ** (-12 / 20))
    peak[1000:2000] = 10 ** (3 / 20)  # 6 dB over a -3 dB threshold under a 0 dBFS ceiling
    g = compressor_gain(peak, hop_s, ceiling=1.0, settings=LevellerSettings(ratio=3.0, threshold_db=-3.0,
                                                                               knee_db=0.5))
    assert g.max() <= 1.0
    gr_mid = -20 * np.log10(g[1500])
    assert gr_mid == pytest.approx(6.0 * (1 - 1 / 3), abs=0.1)
    assert g[:990].min() > 10 ** (-4.1 / 20)  # look-ahead: down only just before the loud stretch
    assert g[500] == pytest.approx(1.0)
    assert g[2900] == pytest.approx(1.0, abs=1e-3)  # recovered


def test_leveller_names_and_presets():
    assert leveller_for("off") is None
    assert leveller_for("auto", "vlog") == LEVELLER_PRESETS["firm"]
    assert MixSettings.for_preset("podcast").leveller == LEVELLER_PRESETS["medium"]
    with pytest.raises(ValueError, match="leveller 'loud' is unknown"):
        leveller_for("loud")


def _wide_emodb(emodb_dir):
    """Real speech with ±10 dB line-to-line swings: emodb_program's six lines at -10, +10, 0, +10, -10, 0 dB."""
    audio, _ = emodb_program(emodb_dir, SR, pause_s=1.0)
    from mixer.decode import to_analysis
    from mixer.vad import detect_speech

    segs = list(detect_speech(to_analysis(audio, SR), 16000).segments)
    gains = [-10, 10, 0, 10, -10, 0]
    # one gain per VAD segment, in order (the lines are separated by at least 0.3 s of silence)
    out = audio.copy()
    for k, (s, e) in enumerate(segs):
        out[:, int(s * SR):int(e * SR)] *= np.float32(10 ** (gains[k % len(gains)] / 20))
    out *= np.float32(0.99 / np.abs(out).max())
    return out, segs


@pytest.mark.parametrize("leveller", ["medium", "off"])
def test_wide_dynamics_speech_the_limiter_only_trims_and_stems_sum(emodb_dir, leveller):
    """Issue 12: on real acted speech swinging ±10 dB the limiter did the levelling (11 dB, residual -8.5 dB).
    With the leveller: limiter ≤ 3 dB p99 and ≤ 6 dB max, stems sum to the output within -25 dB, speech 18 dB
    over the bed, on target, ≤ -1 dBTP. Off: the old behaviour, the limiter works hard."""
    voice, segs = _wide_emodb(emodb_dir)
    bed = music_like(SR, voice.shape[1] / SR, level=0.3)[:, : voice.shape[1]]
    res = mix_voice_and_bed(voice, bed, SR, segs,
                            settings=MixSettings(depth_db=18.0, leveller=leveller_for(leveller)))
    pre = res.voice + res.music
    resid = 10 * np.log10(np.sum((res.mix - pre).astype(np.float64) ** 2) / np.sum(res.mix.astype(np.float64) ** 2)
                           + 1e-30)
    hop = SR // 1000
    n = pre.shape[1] // hop * hop
    rp = np.sqrt((pre[:, :n].astype(np.float64) ** 2).reshape(2, -1, hop).mean(axis=(0, 2)))
    rm = np.sqrt((res.mix[:, :n].astype(np.float64) ** 2).reshape(2, -1, hop).mean(axis=(0, 2)))
    ok = rp > 1e-3
    gr = np.maximum(20 * np.log10(rp[ok] / rm[ok]), 0)
    assert integrated_loudness(res.mix, SR) == pytest.approx(-16.0, abs=0.5)
    assert true_peak_dbtp(res.mix, SR) <= -1.0 + 0.02
    if leveller == "off":
        assert np.percentile(gr, 99) > 3.0 or resid > -25
        return
    assert np.percentile(gr, 99) <= 3.0
    assert gr.max() <= 6.0
    assert resid <= -25.0
    assert res.speech_to_music_db >= 18.0 - 0.1
