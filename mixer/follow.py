"""Join several fitted music beds into one, with equal-power crossfades at the change points (``--follow-mood``).

The plan (where each track plays) comes from :func:`library.follow.plan_mood_segments`; this module only places
audio. For each planned segment ``(start_s, end_s)`` the caller fits its track (e.g. with
:func:`mixer.fit.fit_to_length`) to the length that :func:`segment_span` gives — the segment plus half a crossfade
on each inner side — and passes ``(start_s, end_s, audio)`` to :func:`build_bed`. Each change point is the middle
of a crossfade of ``crossfade_s`` with equal-power gains (sin/cos quarter waves: the summed power of two
uncorrelated beds stays constant). The result is then ducked and levelled like a single bed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mixer._validate import check_audio, check_sr
from moodmix.errors import InvalidAudioError

__all__ = ["build_bed", "equal_power_fades", "segment_span"]

#: How short a segment's audio may be (rounding) before it is an error; the missing tail is silence.
_SLACK_S = 0.01


def _effective_crossfade_s(starts: Sequence[float], ends: Sequence[float], crossfade_s: float) -> float:
    """The crossfade, shortened so that it never exceeds the shortest segment."""
    shortest = min(e - s for s, e in zip(starts, ends))
    return float(max(0.0, min(crossfade_s, shortest)))


def segment_span(start_s: float, end_s: float, *, sr: int, n_samples: int, crossfade_s: float,
                 first: bool, last: bool) -> tuple[int, int]:
    """Where a segment's audio sits in the bed: ``(offset_samples, length_samples)``.

    Inner boundaries get half a crossfade of overlap on each side; the first segment starts at 0 and the last
    ends at ``n_samples``.
    """
    half = 0.5 * crossfade_s
    a = 0 if first else max(0, int(round((start_s - half) * sr)))
    b = n_samples if last else min(n_samples, int(round((end_s + half) * sr)))
    return a, max(0, b - a)


def equal_power_fades(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade_in, fade_out) of ``n`` samples: sin and cos quarter waves, ``in² + out² = 1``."""
    t = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    return np.sin(0.5 * np.pi * t).astype(np.float32), np.cos(0.5 * np.pi * t).astype(np.float32)


def build_bed(
    segments_audio: Sequence[tuple[float, float, np.ndarray]],
    sr: int,
    n_samples: int,
    *,
    crossfade_s: float = 2.0,
) -> np.ndarray:
    """One bed of ``n_samples`` from consecutive segments, crossfaded at each change.

    Parameters
    ----------
    segments_audio : [(start_s, end_s, audio), ...] in time order, covering [0, n_samples / sr];
        ``audio`` is np.ndarray [shape=(channels, samples)] float32, at least as long as
        :func:`segment_span` says (longer is trimmed).
    sr : sample rate in Hz.
    n_samples : length of the bed.
    crossfade_s : length of each crossfade, centred on the change point (shortened for very short segments).

    Returns
    -------
    np.ndarray [shape=(channels, n_samples)] float32

    Raises
    ------
    InvalidAudioError
        No segments, channel counts that differ, or a segment's audio shorter than its span.
    """
    sr = check_sr(sr)
    if not segments_audio:
        raise InvalidAudioError("build_bed needs at least one (start_s, end_s, audio) segment; got none")
    if n_samples <= 0:
        raise InvalidAudioError(f"n_samples must be positive, got {n_samples}")
    audios = [check_audio(a, sr, name=f"segment {i} audio") for i, (_, _, a) in enumerate(segments_audio)]
    channels = {a.shape[0] for a in audios}
    if len(channels) != 1:
        raise InvalidAudioError(f"segment audios have different channel counts {sorted(channels)}; "
                                "convert them to the same layout first")
    ch = channels.pop()
    starts = [float(s) for s, _, _ in segments_audio]
    ends = [float(e) for _, e, _ in segments_audio]
    xf_s = _effective_crossfade_s(starts, ends, crossfade_s) if len(segments_audio) > 1 else 0.0
    xf = int(round(xf_s * sr))
    bed = np.zeros((ch, n_samples), dtype=np.float32)
    last_i = len(audios) - 1
    for i, audio in enumerate(audios):
        off, length = segment_span(starts[i], ends[i], sr=sr, n_samples=n_samples, crossfade_s=xf / sr,
                                   first=i == 0, last=i == last_i)
        if length == 0:
            continue
        if audio.shape[1] < length:
            if length - audio.shape[1] > _SLACK_S * sr:
                raise InvalidAudioError(
                    f"segment {i} audio has {audio.shape[1]} samples but its span needs {length}; fit it to the "
                    "length segment_span() gives")
            audio = np.pad(audio, ((0, 0), (0, length - audio.shape[1])))
        piece = audio[:, :length].astype(np.float32, copy=True)
        fade_in, fade_out = equal_power_fades(xf)
        if i > 0 and xf > 0:
            k = min(xf, length)
            piece[:, :k] *= fade_in[:k]
        if i < last_i and xf > 0:
            k = min(xf, length)
            piece[:, length - k:] *= fade_out[xf - k:]
        bed[:, off: off + length] += piece
    return bed
