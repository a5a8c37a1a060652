"""Applying a separation model to audio of any length: fixed blocks for streaming models, overlapping chunks
with linear cross-fades (overlap-add) for models that see one chunk at a time.

This module knows nothing about any particular model; the wrappers (:mod:`.deepfilter`, :mod:`.spleeter`,
:mod:`.demucs_sep`) pass a callable. That keeps the memory a model needs bounded by the chunk, whatever the
length of the input: a ten-minute file is never handed to a model in one piece.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

__all__ = ["chunk_plan", "fit_length", "iter_blocks", "overlap_add", "resample"]

#: (channels, samples) float32 → (stems, channels, samples) float32, same sample count as its input.
ChunkFn = Callable[[np.ndarray], np.ndarray]


def iter_blocks(n_samples: int, block_samples: int) -> Iterator[tuple[int, int]]:
    """Consecutive, non-overlapping ``(start, stop)`` blocks of at most ``block_samples`` covering ``n_samples``."""
    if block_samples <= 0:
        raise ValueError(f"block_samples must be > 0, got {block_samples}")
    for start in range(0, n_samples, block_samples):
        yield start, min(n_samples, start + block_samples)


def chunk_plan(n_samples: int, chunk_samples: int, overlap_samples: int) -> list[tuple[int, int]]:
    """Overlapping chunks ``[(start, stop), ...]`` covering ``n_samples``.

    Chunks are ``chunk_samples`` long (the last one may be shorter, but always longer than the overlap) and
    consecutive chunks share exactly ``overlap_samples``.
    """
    if chunk_samples <= 0 or not 0 <= overlap_samples < chunk_samples:
        raise ValueError(f"need chunk_samples > overlap_samples >= 0, got {chunk_samples} and {overlap_samples}")
    stride = chunk_samples - overlap_samples
    plan = []
    start = 0
    while True:
        stop = min(n_samples, start + chunk_samples)
        plan.append((start, stop))
        if stop >= n_samples:
            return plan
        start += stride


def _weight(length: int, overlap: int, fade_in: bool, fade_out: bool) -> np.ndarray:
    """Ones with linear ramps over ``overlap`` samples at the shared edges; a ramp-in and the previous chunk's
    ramp-out sum to exactly 1, so a model that returns its input unchanged reconstructs it exactly."""
    w = np.ones(length, dtype=np.float32)
    if overlap > 0:
        ramp = ((np.arange(overlap, dtype=np.float32) + 0.5) / overlap)[: length]
        if fade_in:
            w[: ramp.size] *= ramp
        if fade_out:
            w[length - ramp.size:] *= ramp[::-1]
    return w


def overlap_add(process: ChunkFn, audio: np.ndarray, *, n_stems: int, chunk_samples: int,
                overlap_samples: int) -> np.ndarray:
    """Run ``process`` on overlapping chunks of ``audio`` and cross-fade the results.

    Parameters
    ----------
    process : callable
        ``chunk (channels, m) float32 -> stems (n_stems, channels, m) float32``. Never sees more than
        ``chunk_samples`` samples. Chunks of digital silence are not passed to it: their stems are silence
        (a randomly initialised or biased network must not invent sound in silence).
    audio : np.ndarray [shape=(channels, samples), dtype=float32]
    n_stems : int
    chunk_samples, overlap_samples : int
        Chunk length and the overlap between consecutive chunks, in samples.

    Returns
    -------
    np.ndarray [shape=(n_stems, channels, samples), dtype=float32]
    """
    channels, n = audio.shape
    plan = chunk_plan(n, chunk_samples, overlap_samples)
    out = np.zeros((n_stems, channels, n), dtype=np.float32)
    total = np.zeros(n, dtype=np.float32)
    for i, (start, stop) in enumerate(plan):
        w = _weight(stop - start, overlap_samples, fade_in=i > 0, fade_out=i < len(plan) - 1)
        total[start:stop] += w
        chunk = audio[:, start:stop]
        if not np.any(chunk):
            continue
        stems = np.asarray(process(chunk), dtype=np.float32)
        if stems.shape != (n_stems, channels, stop - start):
            raise RuntimeError(f"separation model returned shape {stems.shape} for a chunk of shape {chunk.shape};"
                               f" expected {(n_stems, channels, stop - start)}")
        out[:, :, start:stop] += stems * w
    out /= total  # exactly 1 wherever the plan is regular; guards the edge cases
    return out


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """(channels, samples) float32 from ``sr_in`` to ``sr_out`` with soxr HQ (the same array when equal)."""
    if sr_in == sr_out:
        return audio
    import soxr

    y = soxr.resample(np.ascontiguousarray(audio.T), sr_in, sr_out, quality="HQ")
    return np.ascontiguousarray(np.asarray(y, dtype=np.float32).reshape(-1, audio.shape[0]).T)


def fit_length(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """Trim or zero-pad (channels, samples) to exactly ``n_samples`` (resampling round-trips may differ by one)."""
    if audio.shape[1] >= n_samples:
        return np.ascontiguousarray(audio[:, :n_samples])
    return np.pad(audio, ((0, 0), (0, n_samples - audio.shape[1])))
