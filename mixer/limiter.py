"""Look-ahead true-peak limiter computed at hop rate.

The limiter sees the whole signal's per-hop true peaks (a few floats per millisecond, cheap to hold even for hours
of audio) and returns a gain per hop *boundary*; the renderer interpolates it linearly per sample. The gain curve
is built only from operations that never raise it above what each hop needs, so the output provably stays under the
ceiling (up to the detector's own 4x-oversampling accuracy):

1. ``need[k] = min(1, ceiling / peak[k])`` per hop;
2. a forward-looking minimum over ``1 + 2W`` hops (look-ahead: the gain is already down when the peak arrives);
3. release: the gain may rise at most ``release_db_per_s`` (a running minimum in dB, vectorised with
   ``np.minimum.accumulate``);
4. two cascaded moving averages of ``W + 1`` hops: a smooth S-shaped attack ramp, no steps, no zipper.

Step 4 only averages values that are each at or below the need of the hop at hand (step 2 guarantees it), so the
average is too; linear interpolation between two boundaries that both satisfy hop ``k`` satisfies hop ``k``.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

__all__ = ["limiter_gain"]

_GROUP = 1 << 18  # hops per batch of limited regions (~4 minutes at 1 ms hops)


def _moving_average_causal(x: np.ndarray, length: int) -> np.ndarray:
    """y[k] = mean(x[k-length+1 .. k]), the window shortened at the start."""
    if length <= 1:
        return x.copy()
    c = np.concatenate([[0.0], np.cumsum(x)])
    k = np.arange(1, x.size + 1)
    lo = np.maximum(k - length, 0)
    return (c[k] - c[lo]) / (k - lo)


def limiter_gain(
    peak: np.ndarray,
    *,
    ceiling: float,
    hop_s: float,
    lookahead_ms: float = 5.0,
    release_ms: float = 150.0,
    release_db: float = 12.0,
) -> np.ndarray:
    """Gain per hop boundary that keeps ``peak * gain`` at or under ``ceiling``.

    Parameters
    ----------
    peak : np.ndarray [shape=(n_hops,)]
        Linear true peak of each hop (before the limiter).
    ceiling : float
        Linear ceiling, e.g. ``10 ** (-1 / 20)`` for -1 dBTP.
    hop_s : float
        Hop duration in seconds.
    lookahead_ms : float
        The gain starts falling this long before a peak (attack ramp length).
    release_ms, release_db : float
        The gain recovers at ``release_db`` per ``release_ms`` (a constant rate in dB).

    Returns
    -------
    np.ndarray [shape=(n_hops + 1,)], float32
        Gain at each hop boundary: boundary ``k`` is the first sample of hop ``k``; the last one is the end.
        Samples of hop ``k`` interpolate between boundaries ``k`` and ``k + 1``.
    """
    n = np.size(peak)
    if n == 0:
        return np.ones(1, np.float32)
    # float32 and in place: for hours of audio these per-hop arrays are millions long
    need = np.maximum(np.asarray(peak, dtype=np.float32), np.float32(1e-12))
    np.divide(np.float32(ceiling), need, out=need)
    np.minimum(need, np.float32(1.0), out=need)
    if need.min() >= 1.0:
        return np.ones(n + 1, np.float32)
    w = max(1, int(round(lookahead_ms / 1000.0 / hop_s / 2)))
    rate = release_db / max(release_ms / 1000.0 / hop_s, 1e-9)  # dB per hop
    # Only the neighbourhoods of hops that need gain reduction are computed: the curve is exactly 1 from
    # (recovery + averaging) hops after the last of them to (look-ahead) hops before the next, so long stretches
    # of 1 can be cut out and the pieces processed as one short array. Saves time and, for hours of audio,
    # hundreds of MB of temporaries.
    recover = int(np.ceil(-20.0 * np.log10(need.min()) / rate)) + 1
    before, after = 2 * w + 3, recover + 2 * w + 3
    if (before + after) % 2:
        after += 1
    half, shift = (before + after) // 2, (after - before) // 2
    # hop k is kept when a limited hop lies in [k - after, k + before]: a centred max filter over a copy of the
    # "limited" flags delayed by `shift` (uint8 arrays: a few MB even for hours)
    low = np.concatenate([np.zeros(shift, np.uint8), (need < 1.0).view(np.uint8)])
    keep = maximum_filter1d(low, size=2 * half + 1, mode="constant", cval=0)[:n]
    kept = np.flatnonzero(keep)
    g = np.ones(n + 1, np.float32)
    # Runs of kept hops are independent (each starts and ends on unity gain): process them in groups of about
    # _GROUP hops so the temporaries stay small however much of a long signal needs limiting.
    run_starts = np.concatenate([[0], np.flatnonzero(np.diff(kept) > 1) + 1, [kept.size]])
    a = 0
    while a < kept.size:
        j = int(np.searchsorted(run_starts, a + _GROUP, side="right")) - 1
        b = int(run_starts[j]) if run_starts[j] > a else int(run_starts[np.searchsorted(run_starts, a, "right")])
        idx = kept[a:b]
        core = _limiter_core(need[idx], w, rate)
        g[idx] = core[:-1]
        if b == kept.size and kept[-1] == n - 1:  # the end boundary, when the last run reaches the end
            g[n] = core[-1]
        a = b
    return g


def _limiter_core(need: np.ndarray, w: int, rate: float) -> np.ndarray:
    """Steps 2-4 of the module docstring on one array of per-hop needs; gains at its ``n + 1`` boundaries."""
    need = need.astype(np.float64)
    n = need.size
    # Boundary k touches hops k-1 and k; it must also honour every hop its two W-long averages reach ahead.
    need_b = np.concatenate([need, [1.0]])  # boundary k -> hop k (the end boundary has no hop of its own)
    need_b = np.minimum(need_b, np.concatenate([[1.0], need]))  # and hop k-1
    # Forward-looking minimum over [k, k + 2W]: minimum_filter1d centred at k+W covers it.
    padded = np.concatenate([need_b, np.ones(2 * w)])
    fwd = minimum_filter1d(padded, size=2 * w + 1, origin=-w, mode="nearest")[: n + 1]
    # Release: rise at most `rate` dB per hop -> log g[k] = min_j (log m[j] + rate (k - j)).
    log_m = 20.0 * np.log10(fwd)
    k = np.arange(n + 1, dtype=np.float64)
    log_rel = np.minimum.accumulate(log_m - rate * k) + rate * k
    g = 10.0 ** (np.minimum(log_rel, 0.0) / 20.0)
    g = _moving_average_causal(_moving_average_causal(g, w + 1), w + 1)
    return np.minimum(g, 1.0)
