"""Fit a music track to a length: loop it at bar (or beat) points with matched crossfades, or end it with a
fade-out on a bar line; fade in at the start. The output is exactly ``n_samples`` long.

Looping plays the track up to a loop end ``L1``, then jumps back to a loop start ``L0`` as many times as needed.
``L0``/``L1`` are downbeats (else beats, else plain points) chosen where the two sides sound alike (the cosine
similarity of the spectra around them) and where the track is at its usual level (no intro silence, no outro fade);
``L1`` is then nudged by up to 10 ms to the lag where the waveforms around the two points correlate best, so the
crossfade joins two in-phase signals. The crossfade is equal-power, corrected for the correlation ``r`` of the two
sides: ``g_out**2 + g_in**2 + 2 r g_out g_in = 1``, which is the equal-power law for unrelated material (``r = 0``)
and the equal-gain law for identical material (``r = 1``), so neither a dip nor a bump is heard.

The plan (:class:`FitPlan`) is small; :meth:`FitPlan.render` produces any sample range of the output, so a caller
can render an hour-long bed in blocks without ever holding it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import correlate

from core.errors import InvalidAudioError
from mixer._validate import check_audio

__all__ = ["FitPlan", "FitResult", "fit_to_length", "plan_fit"]

_MAX_NUDGE_S = 0.010
_MIN_BODY_S = 4.0
_MIN_LOOP_SAMPLES = 256


@dataclass(frozen=True)
class FitResult:
    """A fitted bed.

    Attributes
    ----------
    audio : np.ndarray [shape=(channels, n_samples)], float32
    seams : tuple of int
        Output sample index of each loop seam (the centre of its crossfade).
    method : str
        ``"loop"`` (shorter track looped), ``"trim"`` (longer track faded out) or ``"exact"``.
    """

    audio: np.ndarray
    seams: tuple[int, ...]
    method: str


@dataclass(frozen=True)
class _Piece:
    out0: int  # nominal output start (seam centre for pieces after the first)
    src0: int  # source sample at out0
    length: int  # nominal length
    xin: int  # crossfade length at the start (0 for the first piece)
    xout: int  # crossfade length at the end (0 for the last piece)
    r_in: float  # correlation of the two sides at the start seam
    r_out: float


@dataclass(frozen=True)
class FitPlan:
    """How to build the bed; render any part of it with :meth:`render`.

    Attributes
    ----------
    n_samples : int
        Output length.
    pieces : tuple
        Source ranges laid end to end, crossfaded at the seams.
    fade_in : int
        Fade-in length in samples at the start.
    fade_out_start, fade_out : int
        The fade-out covers ``[fade_out_start, fade_out_start + fade_out)`` and is silent after (it ends at
        ``n_samples``).
    method : str
    seams : tuple of int
    loop_s : (float, float) or None
        Loop start and end in the source, seconds (``None`` without looping).
    """

    n_samples: int
    pieces: tuple[_Piece, ...]
    fade_in: int
    fade_out_start: int
    fade_out: int
    method: str
    seams: tuple[int, ...]
    loop_s: tuple[float, float] | None
    sr: int
    source_len: int

    def render(self, music: np.ndarray, i0: int = 0, i1: int | None = None) -> np.ndarray:
        """Output samples ``[i0, i1)`` of the bed from the same ``music`` the plan was made for.

        Returns
        -------
        np.ndarray [shape=(channels, i1 - i0)], float32
        """
        i1 = self.n_samples if i1 is None else min(i1, self.n_samples)
        i0 = max(0, i0)
        if music.shape[1] != self.source_len:
            raise InvalidAudioError(
                f"this fit plan was made for music of {self.source_len} samples, got {music.shape[1]}; "
                "plan again with plan_fit"
            )
        out = np.zeros((music.shape[0], max(0, i1 - i0)), np.float32)
        # Pieces are laid end to end: only those whose (crossfade-extended) span meets [i0, i1) are touched.
        starts = [p.out0 for p in self.pieces]
        first = max(0, int(np.searchsorted(starts, i0, side="right")) - 2)
        last = int(np.searchsorted(starts, i1, side="right")) + 1
        for p in self.pieces[first:last]:
            a = p.out0 - p.xin // 2
            b = p.out0 + p.length + (p.xout - p.xout // 2)
            lo, hi = max(a, i0), min(b, i1)
            if hi <= lo:
                continue
            src = music[:, p.src0 + (lo - p.out0) : p.src0 + (hi - p.out0)]
            out[:, lo - i0 : hi - i0] += src
            # Crossfade ramps: add src * (gain - 1) on their (short) ranges only, never a gain array as long as
            # the piece. Ramps that overlap (a very short last piece) are handled as one range.
            ramps = []
            if p.xin:
                ramps.append((a, a + p.xin))
            if p.xout:
                ramps.append((b - p.xout, b))
            if len(ramps) == 2 and ramps[0][1] > ramps[1][0]:
                ramps = [(ramps[0][0], ramps[1][1])]
            for c0, c1 in ramps:
                r0, r1 = max(c0, lo), min(c1, hi)
                if r1 <= r0:
                    continue
                pos = np.arange(r0, r1)
                g = np.ones(r1 - r0)
                if p.xin:
                    m = pos < a + p.xin
                    g[m] = _xfade_gains((pos[m] - a + 0.5) / p.xin, p.r_in)[1]
                if p.xout:
                    m = pos >= b - p.xout
                    g[m] = g[m] * _xfade_gains((pos[m] - (b - p.xout) + 0.5) / p.xout, p.r_out)[0]
                out[:, r0 - i0 : r1 - i0] += src[:, r0 - lo : r1 - lo] * (g - 1.0).astype(np.float32)
        _apply_fades(out, i0, self.fade_in, self.fade_out_start, self.fade_out)
        return out


def _xfade_gains(t: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Gains (outgoing, incoming) at positions ``t`` in [0, 1] with ``g_o^2 + g_i^2 + 2 r g_o g_i = 1``."""
    theta = 0.5 * np.pi * np.clip(t, 0.0, 1.0)
    go, gi = np.cos(theta), np.sin(theta)
    norm = np.sqrt(go * go + gi * gi + 2.0 * max(0.0, min(1.0, r)) * go * gi)
    return go / norm, gi / norm


def _apply_fades(out: np.ndarray, i0: int, fade_in: int, fo_start: int, fade_out: int) -> None:
    """Raised-cosine fade-in at 0 and fade-out ending at ``fo_start + fade_out``, in place on a block."""
    n = out.shape[1]
    if fade_in > 0 and i0 < fade_in:
        k = np.arange(i0, min(i0 + n, fade_in))
        out[:, : k.size] *= (0.5 - 0.5 * np.cos(np.pi * (k + 0.5) / fade_in)).astype(np.float32)
    if fade_out > 0 and i0 + n > fo_start:
        lo = max(i0, fo_start)
        k = np.arange(lo, i0 + n) - fo_start
        g = np.where(k < fade_out, 0.5 + 0.5 * np.cos(np.pi * (k + 0.5) / fade_out), 0.0)
        out[:, lo - i0 :] *= g.astype(np.float32)


def _mono(music: np.ndarray) -> np.ndarray:
    return music[0] if music.shape[0] == 1 else music.mean(axis=0, dtype=np.float32)


def _frame_db(x: np.ndarray, centre: int, half: int) -> float:
    seg = x[max(0, centre - half) : centre + half]
    return float(10 * np.log10(np.mean(seg.astype(np.float64) ** 2) + 1e-12)) if seg.size else -120.0


def _spectrum(x: np.ndarray, centre: int, half: int) -> np.ndarray:
    seg = np.zeros(2 * half, np.float32)
    part = x[max(0, centre - half) : centre + half]
    seg[: part.size] = part
    mag = np.abs(np.fft.rfft(seg * np.hanning(seg.size)))
    # Pool into ~40 log-spaced bands so similar sounds match despite small pitch/phase differences.
    edges = np.unique(np.geomspace(2, mag.size - 1, 41).astype(int))
    bands = np.add.reduceat(mag, edges)[:-1]
    v = np.log1p(bands)
    return v / (np.linalg.norm(v) + 1e-12)


def _best_lag(x: np.ndarray, a: int, b: int, half: int, max_lag: int) -> tuple[int, float]:
    """Lag d in [-max_lag, max_lag] maximising the normalised correlation of x around b + d with x around a."""
    ref = x[a - half : a + half].astype(np.float64)
    lo, hi = b - half - max_lag, b + half + max_lag
    if lo < 0 or hi > x.size or ref.size < 2 * half:
        return 0, 0.0
    seg = x[lo:hi].astype(np.float64)
    c = correlate(seg, ref, mode="valid", method="fft")  # c[j] ~ seg[j:j+2h] . ref
    energy = np.convolve(seg * seg, np.ones(2 * half), mode="valid")
    norm = np.sqrt(np.maximum(energy * float(ref @ ref), 1e-20))
    rho = c / norm
    j = int(np.argmax(rho))
    return j - max_lag, float(rho[j])


def _choose_loop(
    music: np.ndarray, sr: int, points: np.ndarray, xfade: int
) -> tuple[int, int, float]:
    """Loop start L0, loop end L1 (source samples) and the correlation at the seam."""
    m = music.shape[1]
    x = _mono(music)
    half = max(xfade // 2, int(0.05 * sr))
    max_lag = int(_MAX_NUDGE_S * sr)
    margin = half + max_lag + 1
    pts = np.asarray([p for p in points if margin <= p <= m - margin], dtype=int)
    min_body = int(min(_MIN_BODY_S * sr, 0.5 * m))
    if pts.size >= 2:
        lvl = np.array([_frame_db(x, p, int(0.2 * sr)) for p in pts])
        ok = lvl >= np.median(lvl) - 6.0  # skip intro silence and the outro's fade
        specs = np.array([_spectrum(x, p, int(0.1 * sr)) for p in pts])
        best = None
        for i in range(pts.size):
            if not ok[i] or pts[i] > 0.5 * m:
                continue
            for j in range(pts.size - 1, i, -1):
                if not ok[j] or pts[j] - pts[i] < min_body:
                    continue
                sim = float(specs[i] @ specs[j])
                score = sim + 0.25 * (pts[j] - pts[i]) / m  # prefer longer loops among similar ones
                if best is None or score > best[0]:
                    best = (score, int(pts[i]), int(pts[j]))
        if best is not None:
            _, l0, l1 = best
            lag, rho = _best_lag(x, l0, l1, half, max_lag)
            return l0, l1 + lag, rho
    # No usable beat grid: loop (almost) the whole track, still phase-aligned.
    l0 = min(margin, m // 4)
    l1 = max(m - margin, l0 + 2)
    lag, rho = _best_lag(x, l0, l1, half, max_lag) if l1 - l0 > 2 * half else (0, 0.0)
    if l1 + lag + half > m:
        lag = 0
    return l0, l1 + lag, rho


def _out_downbeats(pieces: Sequence[_Piece], points_src: np.ndarray) -> np.ndarray:
    """Source bar points mapped to output sample positions through the pieces."""
    out = []
    for p in pieces:
        sel = points_src[(points_src >= p.src0) & (points_src < p.src0 + p.length)]
        out.append(p.out0 + (sel - p.src0))
    return np.sort(np.concatenate(out)) if out else np.zeros(0, int)


def plan_fit(
    source: np.ndarray | int,
    sr: int,
    n_samples: int,
    *,
    music: np.ndarray | None = None,
    beats: Sequence[float] | None = None,
    downbeats: Sequence[float] | None = None,
    fade_in_s: float = 1.0,
    fade_out_s: float = 3.0,
    crossfade_s: float = 0.5,
) -> FitPlan:
    """Plan the fit of ``music`` to ``n_samples`` without rendering it (see :func:`fit_to_length`).

    Render the bed, whole or in blocks, with :meth:`FitPlan.render` and the same ``music``.

    ``source`` is the music array; the older form ``plan_fit(len(music), sr, n, music=music)`` also works.
    """
    if isinstance(source, np.ndarray):
        music = source
    elif music is None or int(source) != getattr(music, "shape", (0, -1))[-1]:
        raise InvalidAudioError(
            f"plan_fit needs the music array: pass plan_fit(music, sr, n_samples), got {type(source).__name__}"
        )
    check_audio(music, sr, name="music")
    if int(n_samples) < 1:
        raise InvalidAudioError(f"n_samples must be at least 1, got {n_samples}; pass the voice's length")
    n = int(n_samples)
    m = int(music.shape[1])
    if m < n and m < _MIN_LOOP_SAMPLES:
        raise InvalidAudioError(
            f"music is {m} samples long, too short to loop to {n} samples; expected at least "
            f"{_MIN_LOOP_SAMPLES} samples (pick a longer track)"
        )
    if beats is None and downbeats is None:
        from mixer.beats import track_beats

        grid = track_beats(music, sr)
        beats, downbeats = grid.beats_s, grid.downbeats_s
    bar_pts = np.round(np.asarray(downbeats if downbeats else [], float) * sr).astype(int)
    beat_pts = np.round(np.asarray(beats if beats else [], float) * sr).astype(int)
    points = bar_pts if bar_pts.size >= 2 else beat_pts

    seams: list[int] = []
    loop_s = None
    if m >= n:
        pieces = [_Piece(0, 0, n, 0, 0, 0.0, 0.0)]
        method = "exact" if m == n else "trim"
    else:
        method = "loop"
        xfade = int(round(min(crossfade_s * sr, 0.25 * m)))
        xfade = max(2, xfade - xfade % 2)
        l0, l1, rho = _choose_loop(music, sr, points, xfade)
        body = l1 - l0
        xfade = max(2, min(xfade, body // 2, 2 * min(l0, m - l1)))
        xfade -= xfade % 2
        pieces_l = []
        pos, src, length = 0, 0, l1
        while pos < n:
            length = min(length, n - pos)
            pieces_l.append([pos, src, length])
            pos += length
            src, length = l0, body
        pieces = []
        for k, (o0, s0, ln) in enumerate(pieces_l):
            first, last = k == 0, k == len(pieces_l) - 1
            pieces.append(_Piece(o0, s0, ln, 0 if first else xfade, 0 if last else xfade,
                                 rho, rho))
            if not first:
                seams.append(o0)
        loop_s = (l0 / sr, l1 / sr)
    fade_in = min(int(round(fade_in_s * sr)), n // 4)
    fade_out = min(int(round(fade_out_s * sr)), n // 3)
    fo_start = n - fade_out
    if fade_out > 0 and points.size:
        # Phrase end: start the fade on a bar line so it spans whole bars and dies on the end.
        cands = _out_downbeats(pieces, points)
        cands = cands[(cands >= n - 1.5 * fade_out) & (cands <= n - 0.67 * fade_out) & (cands > fade_in)]
        if cands.size:
            fo_start = int(cands[np.argmin(np.abs(cands - (n - fade_out)))])
            fade_out = n - fo_start
    return FitPlan(n, tuple(pieces), fade_in, fo_start, fade_out, method, tuple(seams), loop_s, sr, m)


def fit_to_length(
    music: np.ndarray,
    sr: int,
    n_samples: int,
    *,
    beats: Sequence[float] | None = None,
    downbeats: Sequence[float] | None = None,
    fade_in_s: float = 1.0,
    fade_out_s: float = 3.0,
    crossfade_s: float = 0.5,
) -> FitResult:
    """Loop or trim ``music`` to exactly ``n_samples``, with a fade-in and a fade-out.

    Parameters
    ----------
    music : np.ndarray [shape=(channels, samples)], float32
    sr : int
    n_samples : int
        Output length in samples (>= 1).
    beats, downbeats : sequence of float or None
        Beat and bar times of ``music`` in seconds (e.g. from the catalog). Both ``None``: tracked here with
        :func:`mixer.beats.track_beats`. Empty: loop points are chosen without a grid.
    fade_in_s, fade_out_s : float
        Fade lengths (each capped to a fraction of the output). The fade-out starts on a bar line when one is near.
    crossfade_s : float
        Crossfade at each loop seam.

    Returns
    -------
    FitResult

    Raises
    ------
    InvalidAudioError
        Bad ``music``/``sr``, or ``n_samples < 1``.
    """
    check_audio(music, sr, name="music")
    plan = plan_fit(music, sr, n_samples, beats=beats, downbeats=downbeats,
                    fade_in_s=fade_in_s, fade_out_s=fade_out_s, crossfade_s=crossfade_s)
    return FitResult(plan.render(music), plan.seams, plan.method)
