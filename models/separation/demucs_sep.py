"""Demucs (HTDemucs and friends) as a voice separator, for users who point moodmix at Demucs weights.

Loading is :func:`.weights.load_demucs` (file, local repo folder, or a pretrained name when online).
Application is ours, not :func:`demucs.apply.apply_model`: that one allocates every stem for the whole track
on the model's device; here the model sees one ``segment``-long chunk at a time (the length it was trained
on), with 25 % overlap and linear cross-fades (:func:`.apply.overlap_add`), on the GPU when there is one.

Stems: ``vocals`` is the voice; the background is defined as ``input - vocals`` (the complement), so voice
and background always sum back to the input exactly, even though Demucs' own stems only approximately do.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from .apply import fit_length, overlap_add, resample
from .weights import load_demucs

__all__ = ["DemucsSeparator"]


class DemucsSeparator:
    """Demucs voice separator; load once, then :meth:`separate`.

    Parameters
    ----------
    model_path : str or Path, optional
        See :func:`.weights.load_demucs`; default ``$MOODMIX_DEMUCS_MODEL``.
    overlap : float
        Fraction of a chunk shared with the next one.
    device : str, optional
        Torch device; default CUDA when ``torch.cuda.is_available()``.
    """

    name = "demucs"

    def __init__(self, model_path: str | Path | None = None, *, overlap: float = 0.25,
                 device: str | None = None) -> None:
        import torch

        self.model: Any = load_demucs(model_path)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.models: list[Any] = list(getattr(self.model, "models", [self.model]))  # a bag or a single model
        weights = getattr(self.model, "weights", None) or [[1.0] * len(self.model.sources)]
        self.sources = [str(s) for s in self.model.sources]
        self._vocal_index = self.sources.index("vocals")
        self._weights = [float(w[self._vocal_index]) for w in weights]
        self.samplerate = int(self.model.samplerate)
        self.audio_channels = int(self.model.audio_channels)
        segments = [float(getattr(m, "segment", 8.0)) for m in self.models]
        self.segment_s = min(segments)
        self.overlap = float(overlap)
        self._lock = threading.Lock()

    def stems_chunk(self, chunk: np.ndarray) -> np.ndarray:
        """All stems of one chunk at the model rate: (channels, m) → (sources, channels, m)."""
        import torch

        with torch.inference_mode(), self._lock:
            x = torch.from_numpy(np.ascontiguousarray(chunk))[None].to(self.device)
            total = None
            for model, w in zip(self.models, self._weights):
                model.to(self.device)
                y = model(x)[0, :, :, : chunk.shape[1]] * w  # HTDemucs pads short chunks to its segment
                total = y if total is None else total + y
            assert total is not None
            stems: np.ndarray = (total / sum(self._weights)).float().cpu().numpy()
            return stems

    def vocals_chunk(self, chunk: np.ndarray) -> np.ndarray:
        vocals: np.ndarray = self.stems_chunk(chunk)[self._vocal_index]
        return vocals

    def separate(self, audio: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
        """(vocals, background = audio - vocals), each (channels, samples) float32 at ``sr``."""
        x = resample(audio, sr, self.samplerate)
        model_channels = self.audio_channels

        def chunk_vocals(c: np.ndarray) -> np.ndarray:
            # mono file on a stereo model: dual-mono in, mean out (per chunk: no stereo copy of the file);
            # stereo file on a mono model: the mean of the channels in, the same vocals on both out
            if c.shape[0] == model_channels:
                return self.vocals_chunk(c)[None]
            if c.shape[0] == 1:
                mono: np.ndarray = self.vocals_chunk(np.repeat(c, model_channels, axis=0)).mean(axis=0, keepdims=True)
                return mono[None]
            v = self.vocals_chunk(c.mean(axis=0, keepdims=True))
            return np.repeat(v.mean(axis=0, keepdims=True), c.shape[0], axis=0)[None]

        chunk = max(1, int(self.segment_s * self.samplerate))
        vocals = overlap_add(chunk_vocals, x, n_stems=1, chunk_samples=chunk,
                             overlap_samples=int(self.overlap * chunk))[0]
        vocals = fit_length(resample(np.ascontiguousarray(vocals, dtype=np.float32), self.samplerate, sr),
                            audio.shape[1])
        return vocals, audio - vocals
