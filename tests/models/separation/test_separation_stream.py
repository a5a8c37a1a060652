"""Voice isolation over a long input, window by window (what `mix --separate` runs on its spooled voice)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from tests.signals import load_music, mix_at_snr, si_sdr

from models.separation import isolate_voice
from models.separation.isolate import isolate_voice_stream

pytestmark = pytest.mark.model


@pytest.mark.parametrize("channels", [1, 2])
def test_windows_cover_the_input_sum_back_and_match_the_whole_call(
        channels: int, emodb_speech: tuple[np.ndarray, int]) -> None:
    speech, sr = emodb_speech
    speech = speech[:, : 10 * sr]
    x = np.repeat(mix_at_snr(speech, load_music(sr, speech.shape[1] / sr), 0.0), channels, axis=0)
    asked: list[tuple[int, int]] = []

    def read(i0: int, i1: int) -> np.ndarray:
        asked.append((i0, i1))
        return x[:, i0:i1]

    pieces = list(isolate_voice_stream(read, x.shape[1], sr, window_s=3.0, overlap_s=0.5))
    offsets = [off for off, _ in pieces]
    lengths = [p.voice.shape[1] for _, p in pieces]
    assert offsets == list(np.cumsum([0] + lengths[:-1])) and sum(lengths) == x.shape[1]  # contiguous, complete
    assert max(i1 - i0 for i0, i1 in asked) <= int(3.5 * sr)  # never more than a window + overlap in memory
    voice = np.concatenate([p.voice for _, p in pieces], axis=1)
    background = np.concatenate([p.background for _, p in pieces], axis=1)
    assert voice.shape == x.shape and {p.method for _, p in pieces} == {"deepfilternet"}
    assert_allclose(voice + background, x, atol=1e-6)
    whole = isolate_voice(x, sr).voice
    assert si_sdr(voice, whole) > 25.0  # window seams are inaudible next to the separation itself
    assert si_sdr(voice, speech.repeat(channels, axis=0)) > si_sdr(x, speech.repeat(channels, axis=0)) + 4.0


def test_a_short_input_is_one_window_and_silence_stays_silence() -> None:
    sr = 16_000
    x = np.zeros((1, 5 * sr), dtype=np.float32)
    pieces = list(isolate_voice_stream(lambda a, b: x[:, a:b], x.shape[1], sr, window_s=60.0))
    assert len(pieces) == 1 and pieces[0][0] == 0
    assert pieces[0][1].voice.shape == x.shape and not np.any(pieces[0][1].voice)
