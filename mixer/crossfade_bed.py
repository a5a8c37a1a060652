"""Join several fitted music beds into one, with equal-power crossfades at the change points (``--follow-mood``).

The plan (where each track plays) comes from :func:`library.mood_plan.plan_mood_segments`; this module only places
audio. For each planned segment ``(start_s, end_s)`` the caller fits its track (e.g. with
:func:`mixer.fit.fit_to_length`) to the length that :func:`segment_span` gives — the segment plus half a crossfade
on each inner side — and passes ``(start_s, end_s, audio)`` to :func:`build_bed`. Each change point is the middle
of a crossfade of ``crossfade_s`` with equal-power gains (sin/cos quarter waves: the summed power of two
uncorrelated beds stays constant). The result is then ducked and levelled like a single bed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.errors import InvalidAudioError
from mixer._validate import check_audio, check_sr

__all__ = ["FollowBed", "build_bed", "equal_power_fades", "segment_span"]

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


class FollowBed:
    """Block reader of a follow-mood bed: ``bed(i0, i1) -> (channels, i1 - i0)``, ``n_samples`` attribute.

    Each segment is a block reader of its own fitted bed (e.g. :class:`mixer.media.BedReader` over a
    :class:`mixer.fit.FitPlan` and its decoded track), placed where :func:`segment_span` says and faded with
    equal-power quarter waves over the crossfade at each inner change. Only the segments that meet the block are
    rendered, so memory stays bounded by the decoded tracks, whatever the length of the bed.

    Parameters
    ----------
    segments : [(start_s, end_s, reader), ...] in time order, covering [0, n_samples / sr]; ``reader(j0, j1)``
        gives samples ``[j0, j1)`` of that segment's audio (it may end early: the rest is silence).
    sr, n_samples, crossfade_s : as :func:`build_bed`.
    channels : int
        Channel count of every segment's audio.
    """

    def __init__(self, segments: Sequence[tuple[float, float, Callable[[int, int], np.ndarray]]], sr: int,
                 n_samples: int, *, crossfade_s: float = 2.0, channels: int = 2) -> None:
        self.sr = check_sr(sr)
        if not segments:
            raise InvalidAudioError("a follow-mood bed needs at least one (start_s, end_s, audio) segment; got none")
        if n_samples <= 0:
            raise InvalidAudioError(f"n_samples must be positive, got {n_samples}")
        self.n_samples, self.channels = int(n_samples), int(channels)
        starts = [float(s) for s, _, _ in segments]
        ends = [float(e) for _, e, _ in segments]
        xf_s = _effective_crossfade_s(starts, ends, crossfade_s) if len(segments) > 1 else 0.0
        self.xf = int(round(xf_s * self.sr))
        last = len(segments) - 1
        self._parts = []
        for i, (_, _, reader) in enumerate(segments):
            off, length = segment_span(starts[i], ends[i], sr=self.sr, n_samples=self.n_samples,
                                       crossfade_s=self.xf / self.sr, first=i == 0, last=i == last)
            self._parts.append((off, length, reader, i > 0 and self.xf > 0, i < last and self.xf > 0))

    @property
    def lengths(self) -> tuple[int, ...]:
        """Samples each segment covers in the bed (its span, crossfade overlaps included)."""
        return tuple(length for _, length, *_ in self._parts)

    def __call__(self, i0: int, i1: int) -> np.ndarray:
        i0, i1 = max(0, int(i0)), min(self.n_samples, int(i1))
        out = np.zeros((self.channels, max(0, i1 - i0)), dtype=np.float32)
        for off, length, reader, fade_in, fade_out in self._parts:
            lo, hi = max(i0, off), min(i1, off + length)
            if hi <= lo:
                continue
            piece = np.asarray(reader(lo - off, hi - off), dtype=np.float32)
            if piece.shape[0] != self.channels:
                raise InvalidAudioError(f"segment audio has {piece.shape[0]} channels, the bed {self.channels}; "
                                        "convert them to the same layout first")
            piece = piece[:, : hi - lo]
            if fade_in or fade_out:
                pos = np.arange(lo - off, lo - off + piece.shape[1])  # positions in the segment
                g = np.ones(pos.shape[0], dtype=np.float64)
                k = min(self.xf, length)
                if fade_in:
                    m = pos < k
                    g[m] *= np.sin(0.5 * np.pi * (pos[m] + 0.5) / self.xf)
                if fade_out:
                    m = pos >= length - k
                    g[m] *= np.cos(0.5 * np.pi * (pos[m] - (length - self.xf) + 0.5) / self.xf)
                piece = piece * g.astype(np.float32)
            out[:, lo - i0: lo - i0 + piece.shape[1]] += piece
        return out


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
    bed = FollowBed([(s, e, _array_reader(a)) for (s, e, _), a in zip(segments_audio, audios)], sr, n_samples,
                    crossfade_s=crossfade_s, channels=ch)
    for i, (length, audio) in enumerate(zip(bed.lengths, audios)):
        if length - audio.shape[1] > _SLACK_S * sr:
            raise InvalidAudioError(
                f"segment {i} audio has {audio.shape[1]} samples but its span needs {length}; fit it to the "
                "length segment_span() gives")
    return bed(0, n_samples)


def _array_reader(audio: np.ndarray) -> Callable[[int, int], np.ndarray]:
    """Samples ``[j0, j1)`` of a rendered segment, silence past its end."""
    def read(j0: int, j1: int) -> np.ndarray:
        x = audio[:, j0:j1]
        return x if x.shape[1] == j1 - j0 else np.pad(x, ((0, 0), (0, j1 - j0 - x.shape[1])))

    return read
