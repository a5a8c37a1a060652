"""Boundary checks for the separation API: one place that turns bad arrays into :class:`InvalidAudioError`."""

from __future__ import annotations

import numpy as np

from core.errors import InvalidAudioError

__all__ = ["check_audio"]


def check_audio(audio: object, sr: object, *, max_channels: int = 2) -> np.ndarray:
    """Validate ``audio`` (channels, samples) at ``sr`` and return it as contiguous float32 (the same array when it
    already is: callers must not write into it).

    Raises
    ------
    InvalidAudioError
        Not a float array of shape (channels, samples) with 1..``max_channels`` channels, empty, non-finite,
        or a sample rate that is not a positive integer.
    """
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or int(sr) <= 0:
        raise InvalidAudioError(f"sample rate must be a positive integer in Hz, got {sr!r}")
    if not isinstance(audio, np.ndarray):
        raise InvalidAudioError(f"audio must be a numpy array (channels, samples), got {type(audio).__name__}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise InvalidAudioError(f"audio must be float (float32 in [-1, 1]), got dtype {audio.dtype}; "
                                "convert integer PCM with audio / 32768")
    if audio.ndim != 2 or not 1 <= audio.shape[0] <= max_channels:
        raise InvalidAudioError(f"audio must have shape (channels, samples) with 1 to {max_channels} channels, "
                                f"got shape {audio.shape}; use audio[None, :] for a mono 1-D array")
    if audio.shape[1] == 0:
        raise InvalidAudioError("audio is empty (0 samples); give at least one sample")
    if not np.all(np.isfinite(audio)):
        raise InvalidAudioError("audio contains NaN or infinite samples; clean or re-decode the input")
    return np.ascontiguousarray(audio, dtype=np.float32)
