"""What every voice emotion model shares: the 16 kHz mono input, the judging windows and the model interface.

:mod:`models.voice_emotion` (the shipped models) and :mod:`models.hub_audio` (transformers audio classifiers) both
build on this module; it imports neither of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import InvalidAudioError
from models.types import EmotionEstimate

__all__ = ["SR", "WINDOW_S", "VoiceEmotionModel", "as_mono16k", "speech_windows"]

SR = 16000
WINDOW_S = 4.0  # long segments are judged in windows of this length and averaged


def as_mono16k(audio: np.ndarray, sr: int) -> np.ndarray:
    """Audio (channels, samples) or (samples,) at ``sr`` → mono float32 at 16 kHz; refuses non-finite samples."""
    a = np.asarray(audio)
    if a.ndim == 2:
        a = a.mean(axis=0)
    if a.ndim != 1:
        raise InvalidAudioError(f"expected audio shaped (channels, samples) or (samples,), got shape {a.shape}")
    if sr <= 0:
        raise InvalidAudioError(f"expected a positive sample rate, got {sr}")
    a = a.astype(np.float32, copy=False)
    if not np.all(np.isfinite(a)):
        raise InvalidAudioError("audio contains NaN or infinite samples; clean or re-decode the input")
    if sr != SR:
        import soxr

        a = soxr.resample(a, sr, SR).astype(np.float32)
    return a


def speech_windows(x: np.ndarray) -> list[np.ndarray]:
    """Split 16 kHz audio into about-equal windows no longer than WINDOW_S."""
    n_win = int(WINDOW_S * SR)
    if x.size <= n_win * 1.25:
        return [x]
    k = int(np.ceil(x.size / n_win))
    return [w for w in np.array_split(x, k)]


class VoiceEmotionModel:
    """Interface of every voice model: speech audio → :class:`EmotionEstimate` (load once, predict many)."""

    name: str = "voice"
    #: labels this model can single out (the complement fusion takes only the others from the words)
    covers: frozenset[str] = frozenset({"sadness", "joy", "anger", "fear"})

    def predict(self, audio: np.ndarray, sr: int) -> EmotionEstimate:
        """Judge one stretch of speech; returns a flagged neutral estimate when it holds no active sound."""
        return self.predict_many([audio], sr)[0]

    def predict_many(self, chunks: Sequence[np.ndarray], sr: int) -> list[EmotionEstimate]:
        raise NotImplementedError
