"""Analysis on generated signals: clicks → tempo and beats, chords → key and mode, silence, noise vs tones."""

from __future__ import annotations

import numpy as np
import pytest
from tests.signals import MUSIC_SR as SR, chord_track, click_track, write_wav

from core.errors import DecodeError, InvalidAudioError
from library.features import (
    KEY_NAMES,
    analyse_audio,
    analyse_file,
    estimate_key,
    integrated_loudness,
)


def _octave_ok(est: float, true: float, tol: float = 0.04) -> bool:
    return any(abs(est * f - true) / true <= tol for f in (1.0, 2.0, 0.5))


@pytest.mark.parametrize("bpm", [72.0, 100.0, 128.0, 150.0])
def test_click_track_tempo_and_beats(bpm: float) -> None:
    f = analyse_audio(click_track(bpm, 20), SR)
    assert _octave_ok(f.tempo_bpm, bpm), f.tempo_bpm
    ibi = np.diff(f.beats_s)
    assert np.median(ibi) == pytest.approx(60.0 / f.tempo_bpm, rel=0.03)
    # beats sit on the clicks (first click at 0.1 s, then every period): within 35 ms of one
    period = 60.0 / bpm
    phase = (np.asarray(f.beats_s) - 0.1) / period
    assert np.median(np.abs(phase - np.round(phase))) * period < 0.035
    assert 0 < len(f.downbeats_s) <= len(f.beats_s) // 3


def test_downbeats_follow_the_accents() -> None:
    # accented (bar) clicks every 4 beats at 100 BPM: downbeats should land on 0.1 + k*2.4 s
    # (at 50 BPM the 4-beat downbeats fall every 4.8 s: still on the accents)
    f = analyse_audio(click_track(100.0, 24), SR)
    assert _octave_ok(f.tempo_bpm, 100.0) and f.tempo_bpm < 110.0
    bar = 2.4
    off = (np.asarray(f.downbeats_s) - 0.1) / bar
    assert np.median(np.abs(off - np.round(off))) * bar < 0.05


@pytest.mark.parametrize("root", [55, 57, 60, 62, 64, 65])
@pytest.mark.parametrize("minor", [False, True])
def test_chord_progression_key_and_mode(root: int, minor: bool) -> None:
    f = analyse_audio(chord_track(root, minor, 16), SR)
    assert f.mode == (0 if minor else 1)
    assert f.key == KEY_NAMES[root % 12]
    assert f.key_strength > 0.5


def test_estimate_key_rejects_unknown_profile() -> None:
    with pytest.raises(ValueError, match="key profile must be one of"):
        estimate_key(np.ones(12), profile="nope")  # type: ignore[arg-type]


def test_silence_is_quiet_and_still() -> None:
    f = analyse_audio(np.zeros((1, SR * 8), dtype=np.float32), SR)
    assert f.loudness_lufs == -70.0
    assert f.energy == 0.0 and f.danceability == 0.0 and f.valence == 0.0
    assert f.tempo_bpm == 0.0 and f.beats_s == ()
    assert f.vocal == 0.0


def test_noise_is_less_acoustic_and_more_energetic_than_tones(rng: np.random.Generator) -> None:
    noise = (0.3 * rng.standard_normal((1, SR * 10))).astype(np.float32)
    tones = chord_track(60, False, 10)
    fn, ft = analyse_audio(noise, SR), analyse_audio(tones, SR)
    assert fn.acousticness < ft.acousticness
    assert fn.energy > ft.energy
    for f in (fn, ft):
        for v in (f.energy, f.danceability, f.acousticness, f.valence, f.vocal):
            assert 0.0 <= v <= 1.0


def test_louder_is_more_energetic() -> None:
    quiet = analyse_audio(click_track(110, 12) * np.float32(0.05), SR)
    loud = analyse_audio(click_track(110, 12), SR)
    assert loud.loudness_lufs - quiet.loudness_lufs == pytest.approx(26.0, abs=0.5)
    assert loud.energy > quiet.energy


@pytest.mark.parametrize("sr", [22050, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_loudness_matches_pyloudnorm(sr: int, channels: int, rng: np.random.Generator) -> None:
    import pyloudnorm

    t = np.arange(sr * 6) / sr
    x = np.stack([0.2 * np.sin(2 * np.pi * (440 + 110 * c) * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
                  + 0.05 * rng.standard_normal(len(t)) for c in range(channels)]).astype(np.float32)
    ours = integrated_loudness(x, sr)
    ref = pyloudnorm.Meter(sr).integrated_loudness(x.T.astype(np.float64))
    assert ours == pytest.approx(ref, abs=0.05)


def test_long_input_streams_in_blocks_and_keeps_beats_to_the_end() -> None:
    f = analyse_audio(click_track(120, 75), SR)  # three 30 s blocks
    assert f.duration_s == pytest.approx(75.0, abs=0.01)
    assert f.beats_s[-1] > 70.0
    assert _octave_ok(f.tempo_bpm, 120.0)


def test_file_and_array_analysis_agree(tmp_path) -> None:
    audio = chord_track(62, True, 12)
    path = write_wav(tmp_path / "d_minor.flac", audio)
    a, b = analyse_audio(audio, SR), analyse_file(path)
    assert (a.key, a.mode) == (b.key, b.mode)
    assert b.tempo_bpm == pytest.approx(a.tempo_bpm, rel=0.02)
    assert b.loudness_lufs == pytest.approx(a.loudness_lufs, abs=0.2)  # 16-bit file vs float array


@pytest.mark.parametrize(
    ("audio", "match"),
    [
        (np.zeros((1, 100), dtype=np.float64), "expected float32"),
        (np.zeros(100, dtype=np.float32), "expected float32"),
        (np.zeros((1, 0), dtype=np.float32), "empty"),
        (np.full((1, 100), np.nan, dtype=np.float32), "NaN"),
    ],
)
def test_bad_audio_raises(audio: np.ndarray, match: str) -> None:
    with pytest.raises(InvalidAudioError, match=match):
        analyse_audio(audio, SR)


def test_bad_sample_rate_raises() -> None:
    with pytest.raises(InvalidAudioError, match="sample rate must be positive"):
        analyse_audio(np.zeros((1, 100), dtype=np.float32), 0)


def test_non_audio_file_raises_decode_error(tmp_path) -> None:
    p = tmp_path / "fake.mp3"
    p.write_bytes(b"definitely not audio" * 50)
    with pytest.raises(DecodeError, match="fake.mp3"):
        analyse_file(p)
    with pytest.raises(DecodeError, match="not found"):
        analyse_file(tmp_path / "missing.wav")
