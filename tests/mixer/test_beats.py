"""Beat and downbeat tracking on generated pulse music."""

from __future__ import annotations

import numpy as np
import pytest
from _dsp_signals import music_like

from mixer.beats import BeatGrid, track_beats
from moodmix.errors import InvalidAudioError


@pytest.mark.slow  # librosa's numba JIT makes the first call take a few seconds
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
