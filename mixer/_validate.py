"""Validate audio arrays once, at the public boundary of the DSP modules.

Internals trust their input; every public function of :mod:`mixer` calls :func:`check_audio` first.
"""

from __future__ import annotations

import numpy as np

from core.errors import InvalidAudioError

__all__ = ["as_float32_2d", "check_audio", "check_sr"]


def check_sr(sr: object, *, name: str = "sr") -> int:
    """Return ``sr`` as an int after checking it is a positive whole number of Hz.

    Raises
    ------
    InvalidAudioError
        When ``sr`` is not a positive integer.
    """
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or int(sr) <= 0:
        raise InvalidAudioError(
            f"{name} must be a positive integer sample rate in Hz, got {sr!r}; pass e.g. sr=48000"
        )
    return int(sr)


def check_audio(audio: object, sr: object, *, name: str = "audio", max_channels: int = 8) -> np.ndarray:
    """Check that ``audio`` is float32 audio shaped ``(channels, samples)`` and ``sr`` is valid.

    Parameters
    ----------
    audio : np.ndarray [shape=(channels, samples)]
        Float32 samples, finite, at least one sample.
    sr : int
        Sample rate in Hz, > 0.
    name : str
        What the array is called in error messages ("voice", "music", ...).
    max_channels : int
        More channels than this is taken as a transposed ``(samples, channels)`` array.

    Returns
    -------
    np.ndarray
        The same array (never a copy).

    Raises
    ------
    InvalidAudioError
        With a one-line message saying what was expected, what arrived and what to try.
    """
    check_sr(sr)
    if not isinstance(audio, np.ndarray):
        raise InvalidAudioError(
            f"{name} must be a numpy array shaped (channels, samples), got {type(audio).__name__}; "
            "wrap it with np.asarray(..., dtype=np.float32)"
        )
    if audio.dtype != np.float32:
        raise InvalidAudioError(
            f"{name} must be float32, got {audio.dtype}; convert with audio.astype(np.float32) "
            "(integer PCM: divide by its full scale first)"
        )
    if audio.ndim != 2:
        raise InvalidAudioError(
            f"{name} must be 2-D (channels, samples), got shape {audio.shape}; "
            "use audio[None, :] for mono"
        )
    if audio.shape[0] < 1 or audio.shape[0] > max_channels:
        raise InvalidAudioError(
            f"{name} must be shaped (channels, samples) with 1..{max_channels} channels, got shape "
            f"{audio.shape}; transpose a (samples, channels) array with audio.T"
        )
    if audio.shape[1] == 0:
        raise InvalidAudioError(f"{name} is empty (shape {audio.shape}); expected at least one sample")
    # A float64 sum is finite exactly when every sample is (for audio-range values) and allocates nothing,
    # unlike np.isfinite(audio).all(), which would build a bool copy of a long input.
    if not np.isfinite(np.sum(audio, dtype=np.float64)):
        bad = int(np.size(audio) - np.count_nonzero(np.isfinite(audio)))
        raise InvalidAudioError(
            f"{name} has {bad} non-finite samples (NaN or inf); expected finite float32 values, "
            "replace them e.g. with np.nan_to_num"
        )
    return audio


def as_float32_2d(audio: np.ndarray) -> np.ndarray:
    """View a 1-D array as ``(1, samples)``; 2-D arrays pass through unchanged (no copy)."""
    return audio[None, :] if audio.ndim == 1 else audio
