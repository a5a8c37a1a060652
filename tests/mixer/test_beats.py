"""Beat and downbeat tracking on generated pulse music."""

from __future__ import annotations

import numpy as np
import pytest
from tests.signals import music_like

from core.errors import InvalidAudioError
from mixer.beats import BeatGrid, track_beats


@pytest.mark.parametrize("sr, bpm, accent", [(44100, 120.0, 1), (48000, 100.0, 3)])
def test_tempo_beats_and_bar_phase(sr, bpm, accent):
    music = music_like(sr, 24.0, bpm=bpm, accent_phase=accent)
    grid = track_beats(music, sr)
    period = 60.0 / bpm
    assert grid.tempo_bpm == pytest.approx(bpm, rel=0.04)
    beats = np.asarray(grid.beats_s)
    assert np.median(np.diff(beats)) == pytest.approx(period, rel=0.03)
    # beats sit on the generated pulses (onset detection lags a little)
    offsets = (beats + 0.5 * period) % period - 0.5 * period
    assert np.median(np.abs(offsets)) < 0.06
    # downbeats are every fourth beat, on the accented phase of the bar
    down = np.asarray(grid.downbeats_s)
    assert np.allclose(np.diff(down), 4 * period, rtol=0.05)
    bar_phase = np.round((down % (4 * period)) / period).astype(int) % 4
    assert np.all(bar_phase == accent)
    assert set(grid.downbeats_s) <= set(grid.beats_s)


def test_silence_has_no_beats():
    grid = track_beats(np.zeros((2, 44100 * 3), np.float32), 44100)
    assert grid == BeatGrid(0.0, (), ())


def test_bad_music_raises():
    with pytest.raises(InvalidAudioError, match="music"):
        track_beats(np.zeros((2, 0), np.float32), 44100)


@pytest.mark.slow  # librosa's numba JIT takes seconds in a new process
def test_the_numpy_tracker_agrees_with_librosa_on_real_music(builtin_track):
    """Issue 12: the beat tracker was librosa's, whose numba kernels compile in every process (~5 s per mix).
    The numpy port must find librosa's tempo and beats on a real track."""
    import librosa

    from mixer.beats import _ANALYSIS_SR, _HOP, _power_spectrogram, onset_strength
    from mixer.decode import decode_audio

    music, sr = decode_audio(builtin_track, sr=44100, channels=2)[0], 44100
    grid = track_beats(music, sr)
    import soxr

    mono = soxr.resample(music.mean(axis=0), sr, _ANALYSIS_SR, quality="MQ").astype(np.float32)
    full = librosa.onset.onset_strength(y=mono, sr=_ANALYSIS_SR, hop_length=_HOP)
    np.testing.assert_allclose(onset_strength(_power_spectrogram(mono))[: full.size], full, rtol=1e-3, atol=1e-3)
    low = librosa.onset.onset_strength(y=mono, sr=_ANALYSIS_SR, hop_length=_HOP, fmax=200.0, n_mels=32)
    onset = full / (full.std() + 1e-9) + low / (low.std() + 1e-9)
    tempo, frames = librosa.beat.beat_track(onset_envelope=onset, sr=_ANALYSIS_SR, hop_length=_HOP, trim=False)
    ref = librosa.frames_to_time(frames, sr=_ANALYSIS_SR, hop_length=_HOP)
    assert grid.tempo_bpm == pytest.approx(float(np.atleast_1d(tempo)[0]), rel=0.01)
    ours = np.asarray(grid.beats_s)
    assert ours.size == pytest.approx(ref.size, abs=1)
    assert np.mean([np.min(np.abs(ref - b)) < 0.03 for b in ours]) > 0.95
