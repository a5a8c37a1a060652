"""Ducking: the music's gain curve from the speech segments.

Everything here runs at a control rate (one value per ~10 ms hop) and is interpolated linearly per sample by the
renderer, so a curve for an hour of audio is a few hundred kilobytes.

Two parts make the curve, both in dB relative to the bed's own (pause) level:

* the *envelope* ``a(t)`` in [0, 1]: 1 under speech, 0 in pauses longer than ``min_pause_s`` (shorter pauses stay
  ducked so the music does not pump between words). Each speech region ramps in with a raised cosine of ``attack_ms``
  that ends ``lookahead_ms - attack_ms`` *before* the first syllable (the music is already down when the voice
  starts), holds for ``hold_ms`` after the last one and ramps out over ``release_ms``. Overlapping ramps take the
  maximum. The envelope is continuous with bounded slope: no steps, no zipper noise.
* the *depth* ``d(t)`` (dB, <= 0): how far under its pause level the bed must go so that, under speech, its
  short-term loudness (BS.1770 K-weighted, 3 s window, EBU Tech 3341) sits ``depth_db`` below the voice's short-term
  loudness measured over speech only. It follows the voice when the speaker gets louder or quieter, and is smoothed
  over 1 s.

The music gain is ``a(t) * d(t)`` dB.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["duck_depth_db", "duck_envelope", "duck_gain_per_sample", "interpolate_curve", "speech_mask"]


def speech_mask(segments: Sequence[tuple[float, float]], n_hops: int, hop_s: float) -> np.ndarray:
    """Boolean per hop: True where a hop's centre lies in a speech segment."""
    mask = np.zeros(n_hops, bool)
    for s, e in segments:
        i0 = max(0, int(np.ceil(s / hop_s - 0.5)))
        i1 = min(n_hops, int(np.ceil(e / hop_s - 0.5)))
        if i1 > i0:
            mask[i0:i1] = True
    return mask


def _duck_regions(segments: Sequence[tuple[float, float]], min_pause_s: float) -> list[tuple[float, float]]:
    """Speech segments with pauses shorter than ``min_pause_s`` bridged."""
    regions: list[list[float]] = []
    for s, e in sorted((float(s), float(e)) for s, e in segments):
        if e <= s:
            continue
        if regions and s - regions[-1][1] < min_pause_s:
            regions[-1][1] = max(regions[-1][1], e)
        else:
            regions.append([s, e])
    return [(s, e) for s, e in regions]


def duck_envelope(
    segments: Sequence[tuple[float, float]],
    n_bounds: int,
    hop_s: float,
    *,
    attack_ms: float = 100.0,
    release_ms: float = 500.0,
    lookahead_ms: float = 150.0,
    hold_ms: float = 100.0,
    min_pause_s: float = 0.8,
) -> np.ndarray:
    """Ducking envelope in [0, 1] at ``n_bounds`` control points spaced ``hop_s`` (point k is at ``k * hop_s``).

    Parameters
    ----------
    segments : sequence of (start_s, end_s)
        Speech segments in seconds.
    n_bounds : int
        Number of control points.
    hop_s : float
        Control spacing in seconds.
    attack_ms, release_ms : float
        Raised-cosine ramp lengths down (into speech) and up (after it).
    lookahead_ms : float
        The down ramp starts this long before speech (>= ``attack_ms`` means fully down before the first syllable).
    hold_ms : float
        Stay down this long after speech before releasing.
    min_pause_s : float
        Pauses shorter than this stay ducked.
    """
    t = np.arange(n_bounds) * hop_s
    env = np.zeros(n_bounds)
    att = max(attack_ms, 1e-3) / 1000.0
    rel = max(release_ms, 1e-3) / 1000.0
    look = lookahead_ms / 1000.0
    hold = hold_ms / 1000.0
    for s, e in _duck_regions(segments, min_pause_s):
        a0 = s - look
        r0 = e + hold
        i0 = max(0, int(np.floor(a0 / hop_s)))
        i1 = min(n_bounds, int(np.ceil((r0 + rel) / hop_s)) + 1)
        if i1 <= i0:
            continue
        tt = t[i0:i1]
        up = np.clip((tt - a0) / att, 0.0, 1.0)
        down = np.clip((tt - r0) / rel, 0.0, 1.0)
        seg_env = (0.5 - 0.5 * np.cos(np.pi * up)) * (0.5 + 0.5 * np.cos(np.pi * down))
        np.maximum(env[i0:i1], seg_env, out=env[i0:i1])
    return env


def _centred_mean(x: np.ndarray, half: int) -> np.ndarray:
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(x.size)
    lo = np.maximum(idx - half, 0)
    hi = np.minimum(idx + half + 1, x.size)
    return (c[hi] - c[lo]) / (hi - lo)


def duck_depth_db(
    voice_power: np.ndarray,
    bed_power: np.ndarray,
    mask: np.ndarray,
    hop_s: float,
    *,
    depth_db: float,
    follow_voice: bool = True,
    short_term_s: float = 3.0,
    smooth_s: float = 1.0,
    floor_db: float = -60.0,
) -> np.ndarray:
    """Gain in dB (<= 0, relative to the bed's pause level) that puts the bed ``depth_db`` under the voice.

    Parameters
    ----------
    voice_power, bed_power : np.ndarray [shape=(n_hops,)]
        K-weighted power per hop of the levelled voice and of the levelled, un-ducked bed.
    mask : np.ndarray [shape=(n_hops,)], bool
        Speech hops.
    hop_s : float
    depth_db : float
        Wanted distance, voice minus music, in short-term loudness under speech.
    follow_voice : bool
        False: one static depth from the integrated speech loudness (no riding).
    short_term_s, smooth_s : float
        Loudness window (3 s: EBU short-term) and the extra smoothing of the result.
    floor_db : float
        The bed is never pulled lower than this.

    Returns
    -------
    np.ndarray [shape=(n_hops,)]
    """
    vp = np.asarray(voice_power, np.float64)
    bp = np.asarray(bed_power, np.float64)
    if not mask.any():
        return np.zeros(vp.size)
    speech_mean_v = vp[mask].mean()
    if follow_voice:
        half = max(1, int(round(short_term_s / hop_s / 2)))
        cnt = _centred_mean(mask.astype(np.float64), half)
        v = _centred_mean(vp * mask, half)
        b = _centred_mean(bp, half)
        # Voice loudness over speech only; where the window holds < 0.5 s of speech, the overall speech level.
        enough = cnt * (2 * half + 1) * hop_s >= 0.5
        v_speech = np.where(enough, v / np.maximum(cnt, 1e-12), speech_mean_v)
    else:
        v_speech = np.full(vp.size, speech_mean_v)
        b = np.full(vp.size, bp[mask].mean())
    with np.errstate(divide="ignore"):
        ride = 10 * np.log10(np.maximum(v_speech, 1e-20)) - depth_db - 10 * np.log10(np.maximum(b, 1e-20))
    ride = np.clip(ride, floor_db, 0.0)
    if smooth_s > 0:
        ride = _centred_mean(ride, max(1, int(round(smooth_s / hop_s / 2))))
    return ride


def interpolate_curve(bounds: np.ndarray, hop: int, i0: int, i1: int) -> np.ndarray:
    """Per-sample values for samples ``[i0, i1)`` from control values at sample ``k * hop`` (linear)."""
    k0 = i0 // hop
    k1 = min(bounds.size - 1, (i1 - 1) // hop + 1)
    pos = np.arange(i0, i1, dtype=np.float64) / hop
    return np.interp(pos, np.arange(k0, k1 + 1, dtype=np.float64), bounds[k0 : k1 + 1]).astype(np.float32)


def duck_gain_per_sample(
    segments: Sequence[tuple[float, float]],
    n_samples: int,
    sr: int,
    *,
    depth_db: float,
    attack_ms: float = 100.0,
    release_ms: float = 500.0,
    lookahead_ms: float = 150.0,
    hold_ms: float = 100.0,
    min_pause_s: float = 0.8,
) -> np.ndarray:
    """A static-depth ducking gain per sample (linear): ``depth_db`` down under speech, 1 in long pauses.

    The mixdown uses the loudness-following depth instead; this is the plain curve for inspection and tests.
    """
    hop = max(1, int(round(sr * 0.01)))
    n_bounds = -(-n_samples // hop) + 1
    env = duck_envelope(segments, n_bounds, hop / sr, attack_ms=attack_ms, release_ms=release_ms,
                        lookahead_ms=lookahead_ms, hold_ms=hold_ms, min_pause_s=min_pause_s)
    g = 10.0 ** (-env * depth_db / 20.0)
    return interpolate_curve(g, hop, 0, n_samples)
