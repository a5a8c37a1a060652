"""Speech activity: Silero VAD (ONNX, run with onnxruntime, no torch) with an energy fallback.

The Silero model ships inside installed wheels, so nothing is downloaded:

* ``silero_vad/data/silero_vad_16k_sequence.onnx`` and ``faster_whisper/assets/silero_vad_v6.onnx``: the
  *sequence* export. It takes a whole block of frames ``(n_frames, 64 + 512)`` plus the LSTM ``h``/``c`` and gives
  the same per-frame probabilities as the streaming model in one call per block (512 frames ~ 16 s), so the Python
  loop runs ``n / 16 s`` times instead of once per 32 ms.
* ``silero_vad/data/silero_vad.onnx``: the streaming export (``input (batch, 576)``, ``state (2, batch, 128)``,
  ``sr``). When only this one loads, the audio is cut into chunks run *as a batch*, each with its own state and a
  0.5 s warm-up taken from the audio before it, so the loop runs once per frame of one chunk, not of the whole file.

Each frame is 512 new samples at 16 kHz preceded by the last 64 samples of the previous frame (the model's context),
as in the package's ``OnnxWrapper``. Probabilities become segments with hysteresis (start at ``threshold``, end below
``threshold - 0.15``), short blips dropped, short gaps bridged, then padded. The energy fallback runs only when no model
can be loaded; :attr:`SpeechActivity.method` says which was used.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mixer._validate import check_audio

__all__ = ["VAD_SR", "SpeechActivity", "detect_speech", "load_vad_model", "speech_probabilities"]

log = logging.getLogger(__name__)

VAD_SR = 16000
_FRAME = 512  # samples per frame at 16 kHz (32 ms)
_CONTEXT = 64  # samples of the previous frame the model sees
_SEQ_BLOCK = 512  # frames per call of the sequence model (~16 s)
_STREAM_CHUNK = 938  # frames per batch row of the streaming model (~30 s)
_STREAM_WARMUP = 16  # frames of warm-up per row (~0.5 s)


@dataclass(frozen=True)
class SpeechActivity:
    """Where speech is.

    Attributes
    ----------
    segments : tuple of (start_s, end_s)
        Sorted, non-overlapping, padded speech segments in seconds.
    method : str
        ``"silero"`` (the ONNX model) or ``"energy"`` (fallback when the model could not be loaded).
    duration_s : float
        Length of the analysed audio in seconds.
    """

    segments: tuple[tuple[float, float], ...]
    method: str
    duration_s: float

    @property
    def speech_ratio(self) -> float:
        """Fraction of the audio covered by speech segments, in [0, 1]."""
        if self.duration_s <= 0:
            return 0.0
        return float(min(1.0, sum(e - s for s, e in self.segments) / self.duration_s))


@dataclass(frozen=True)
class _VadModel:
    session: Any  # onnxruntime.InferenceSession
    kind: str  # "sequence" | "streaming"
    path: str


def _package_dir(name: str) -> Path | None:
    """Folder of an installed package, without importing it (silero_vad imports torch; faster_whisper ctranslate2)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _model_candidates() -> list[Path]:
    """Shipped Silero ONNX files, best first (sequence exports, then the streaming one)."""
    out: list[Path] = []
    silero = _package_dir("silero_vad")
    whisper = _package_dir("faster_whisper")
    if silero is not None:
        out.append(silero / "data" / "silero_vad_16k_sequence.onnx")
    if whisper is not None:
        out.append(whisper / "assets" / "silero_vad_v6.onnx")
    if silero is not None:
        out.append(silero / "data" / "silero_vad.onnx")
    return out


@functools.lru_cache(maxsize=8)
def _load_session(path: str) -> _VadModel:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3  # the shipped exports carry unused initializers; ORT warns about each
    session = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    if {"input", "h", "c"} <= names:
        kind = "sequence"
    elif {"input", "state"} <= names:
        kind = "streaming"
    else:
        raise ValueError(f"{path} has inputs {sorted(names)}, not a Silero VAD export")
    return _VadModel(session, kind, path)


def load_vad_model(model_path: str | Path | None = None) -> _VadModel | None:
    """The Silero ONNX session (created once per process per path), or ``None`` when none loads.

    Parameters
    ----------
    model_path : path or None
        A Silero ONNX file; ``None`` tries the files shipped in installed wheels.
    """
    paths = [Path(model_path)] if model_path is not None else _model_candidates()
    errors = []
    for p in paths:
        try:
            return _load_session(str(p))
        except Exception as exc:  # noqa: BLE001 - any load failure means "try the next / fall back"
            errors.append(f"{p}: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    log.warning("Silero VAD not available (%s); using the energy detector", "; ".join(errors) or "no model found")
    return None


def _to_vad_input(audio: np.ndarray, sr: int) -> np.ndarray:
    """Mono (mean of channels) float32 at 16 kHz."""
    mono = audio[0] if audio.shape[0] == 1 else audio.mean(axis=0, dtype=np.float32)
    if sr == VAD_SR:
        return np.ascontiguousarray(mono, dtype=np.float32)
    import soxr

    return soxr.resample(mono, sr, VAD_SR, quality="MQ").astype(np.float32, copy=False)


def _frames_with_context(x: np.ndarray, f0: int, f1: int) -> np.ndarray:
    """Frames f0..f1-1 of ``x`` as rows of 64 context + 512 samples (zeros before the start and past the end)."""
    s0 = f0 * _FRAME - _CONTEXT
    s1 = f1 * _FRAME
    seg = np.zeros(s1 - s0, np.float32)
    a0, a1 = max(s0, 0), min(s1, x.size)
    if a1 > a0:
        seg[a0 - s0 : a1 - s0] = x[a0:a1]
    # Row i = seg[i*512 : i*512 + 576]: a strided view, copied once into a contiguous block for ORT.
    return np.lib.stride_tricks.sliding_window_view(seg, _FRAME + _CONTEXT)[::_FRAME][: f1 - f0].copy()


def _probs_sequence(model: _VadModel, x: np.ndarray, n_frames: int) -> np.ndarray:
    sess = model.session
    h = np.zeros((1, 1, 128), np.float32)
    c = np.zeros((1, 1, 128), np.float32)
    out = np.empty(n_frames, np.float32)
    for f0 in range(0, n_frames, _SEQ_BLOCK):
        f1 = min(n_frames, f0 + _SEQ_BLOCK)
        probs, h, c = sess.run(["speech_probs", "hn", "cn"], {"input": _frames_with_context(x, f0, f1),
                                                               "h": h, "c": c})
        out[f0:f1] = np.asarray(probs).reshape(-1)
    return out


def _probs_streaming(model: _VadModel, x: np.ndarray, n_frames: int) -> np.ndarray:
    """Streaming export run as a batch of chunks; each row warms its state up on the 0.5 s before its chunk."""
    sess = model.session
    chunk = min(_STREAM_CHUNK, n_frames)
    rows = -(-n_frames // chunk)
    steps = chunk + _STREAM_WARMUP
    batch = np.zeros((rows, steps, _FRAME + _CONTEXT), np.float32)
    for r in range(rows):
        f0 = r * chunk - _STREAM_WARMUP
        frames = _frames_with_context(x, max(f0, 0), min(n_frames, (r + 1) * chunk))
        batch[r, steps - frames.shape[0] :] = frames  # row 0 has no audio before it: zero warm-up frames
    state = np.zeros((2, rows, 128), np.float32)
    sr = np.array(VAD_SR, dtype=np.int64)
    probs = np.empty((rows, steps), np.float32)
    for t in range(steps):
        out, state = sess.run(None, {"input": batch[:, t], "state": state, "sr": sr})
        probs[:, t] = np.asarray(out).reshape(-1)
    return probs[:, _STREAM_WARMUP:].reshape(-1)[:n_frames]


def speech_probabilities(
    audio: np.ndarray, sr: int, *, model_path: str | Path | None = None
) -> tuple[np.ndarray, float] | None:
    """Per-frame Silero speech probabilities and the frame hop in seconds, or ``None`` when no model loads.

    Parameters
    ----------
    audio : np.ndarray [shape=(channels, samples)], float32
    sr : int
    model_path : path or None
        See :func:`load_vad_model`.
    """
    check_audio(audio, sr)
    model = load_vad_model(model_path)
    if model is None:
        return None
    x = _to_vad_input(audio, sr)
    n_frames = max(1, -(-x.size // _FRAME))
    probs = _probs_sequence(model, x, n_frames) if model.kind == "sequence" else _probs_streaming(model, x, n_frames)
    return probs, _FRAME / VAD_SR


def _energy_probabilities(audio: np.ndarray, sr: int) -> tuple[np.ndarray, float]:
    """A speech score per 32 ms frame from energy: 1 where a frame is 12 dB over the noise floor.

    The floor is the 10th percentile of frame levels, the score a soft step around ``floor + 12 dB``
    (also at least 40 dB under the loudest frame and above -60 dBFS). Stationary noise therefore scores 0.
    """
    x = _to_vad_input(audio, sr)
    n_frames = max(1, x.size // _FRAME)
    frames = np.zeros(n_frames * _FRAME, np.float32)
    frames[: min(x.size, frames.size)] = x[: frames.size]
    ms = np.mean(frames.reshape(n_frames, _FRAME).astype(np.float64) ** 2, axis=1)
    level = 10 * np.log10(ms + 1e-12)
    floor = np.percentile(level, 10)
    thresh = max(floor + 12.0, level.max() - 40.0, -60.0)
    return 1.0 / (1.0 + np.exp(-(level - thresh))), _FRAME / VAD_SR


def _segments_from_probs(
    probs: np.ndarray,
    hop_s: float,
    duration_s: float,
    *,
    threshold: float,
    min_speech_ms: float,
    min_silence_ms: float,
    pad_ms: float,
) -> tuple[tuple[float, float], ...]:
    """Hysteresis → drop blips → bridge short gaps → pad → merge overlaps."""
    neg = max(threshold - 0.15, 0.01)
    above = probs >= threshold
    below = probs < neg
    # Hysteresis, vectorised: the state at frame i is that of the last frame that was decisively above or below.
    decisive = np.where(above, 1, np.where(below, 0, -1))
    idx = np.where(decisive >= 0, np.arange(decisive.size), -1)
    last = np.maximum.accumulate(idx)
    state = np.where(last >= 0, decisive[np.maximum(last, 0)], 0).astype(bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], state.astype(np.int8), [0]])))
    segs = [[s * hop_s, e * hop_s] for s, e in zip(edges[::2], edges[1::2])]
    merged: list[list[float]] = []
    for s, e in segs:  # bridge gaps shorter than min_silence
        if merged and s - merged[-1][1] < min_silence_ms / 1000.0:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    merged = [seg for seg in merged if seg[1] - seg[0] >= min_speech_ms / 1000.0]
    pad = pad_ms / 1000.0
    out: list[list[float]] = []
    for s, e in merged:
        s, e = max(0.0, s - pad), min(duration_s, e + pad)
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return tuple((round(float(s), 3), round(float(e), 3)) for s, e in out if e > s)


def detect_speech(
    audio: np.ndarray,
    sr: int,
    *,
    threshold: float = 0.5,
    min_speech_ms: float = 250,
    min_silence_ms: float = 300,
    pad_ms: float = 150,
    model_path: str | Path | None = None,
) -> SpeechActivity:
    """Find speech segments in a voice track.

    Parameters
    ----------
    audio : np.ndarray [shape=(channels, samples)], float32
        Any rate; folded to mono (mean of channels) and resampled to 16 kHz for the model.
    sr : int
        Sample rate of ``audio`` in Hz.
    threshold : float
        Speech probability that starts a segment; it ends below ``threshold - 0.15``.
    min_speech_ms : float
        Shorter detections are dropped.
    min_silence_ms : float
        Shorter gaps between detections are bridged.
    pad_ms : float
        Each segment is widened by this much on both sides (then overlaps merged).
    model_path : path or None
        A Silero ONNX export; ``None`` uses the one shipped in the installed ``silero-vad`` (or
        ``faster-whisper``) wheel. When no model loads, an energy detector is used instead (``method="energy"``).

    Returns
    -------
    SpeechActivity

    Raises
    ------
    InvalidAudioError
        When ``audio`` or ``sr`` is not valid audio.
    """
    check_audio(audio, sr)
    duration_s = audio.shape[1] / sr
    result = speech_probabilities(audio, sr, model_path=model_path)
    if result is None:
        method = "energy"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            probs, hop_s = _energy_probabilities(audio, sr)
    else:
        method = "silero"
        probs, hop_s = result
    segments = _segments_from_probs(
        probs, hop_s, duration_s, threshold=threshold, min_speech_ms=min_speech_ms,
        min_silence_ms=min_silence_ms, pad_ms=pad_ms,
    )
    return SpeechActivity(segments=segments, method=method, duration_s=duration_s)
