"""Voice leveller: a slow, speech-gated gain rider, then gentle look-ahead compression of what remains.

A single integrated gain cannot level speech whose loudness swings 20 dB from a whispered line to a shouted one:
the shouted lines then reach the final limiter 10 dB too hot and it does the levelling, audibly, and the stems no
longer sum to the output. Broadcast levellers work in two stages, and so does this one:

1. **Rider** (control rate, ~10 ms hops). The loudness of each stretch of speech is measured over a window of
   *speech hops only* (BS.1770 K-weighted power, the VAD's segments decide what is speech), and the gain that brings
   it to the voice's typical phrase level (the median over speech, so a few shouts do not set the reference) is
   kept within ``±range_db``. In pauses the gain is *frozen*: it is the smaller of the gains of the speech on both
   sides, so a pause or a breath is never raised above the speech around it and the rider never hunts up in
   silence. The curve falls ahead of a loud phrase (look-ahead, so a shout's first syllable is already down) and
   rises at most ``rise_db_per_s`` (slowly, into a quiet phrase). Built only from operations that never exceed the
   wanted gain of the hop at hand (a forward minimum, a rise-rate limit as a running minimum, causal averages of
   values that each satisfy the hop): the curve is smooth and never above the target.
2. **Compressor** (limiter rate, ~1 ms hops). The sample peaks of the ridden voice, at the level it will have in
   the mix, are compressed by ``ratio`` above ``threshold_db`` (relative to the true-peak ceiling) with a soft
   knee, a look-ahead attack and a ``release_ms`` recovery: the few peaks a slow rider leaves are brought under the
   ceiling before the mix, so the final limiter only trims.

Both return gain curves per hop *boundary* (linear interpolation per sample by the renderer, as the ducking and the
limiter curves): pure functions of per-hop numbers, no audio is held.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy.ndimage import minimum_filter1d

from mixer.presets import PRESETS

__all__ = [
    "LEVELLER_PRESETS",
    "Leveller",
    "LevellerSettings",
    "compressor_gain",
    "leveller_for",
    "rider_gain_db",
]

Leveller = Literal["off", "gentle", "medium", "firm"]


@dataclass(frozen=True)
class LevellerSettings:
    """How firmly the voice is levelled.

    Attributes
    ----------
    range_db : float
        The rider moves the voice at most this far up or down (dB).
    window_s : float
        Length of the speech-only loudness window of the rider (a phrase).
    lookahead_s : float
        The rider's gain is down this long before a louder phrase starts.
    rise_db_per_s : float
        The rider's gain rises at most this fast (into a quieter phrase).
    ratio : float
        Compression ratio above the threshold (1: no compression).
    threshold_db : float
        Compression threshold relative to the true-peak ceiling (dB, <= 0): sample peaks of the voice above
        ``ceiling + threshold_db`` are compressed.
    knee_db : float
        Soft-knee width (dB).
    attack_ms, release_ms : float
        Compressor look-ahead attack and release (time to recover 10 dB).
    """

    range_db: float = 10.0
    window_s: float = 1.0
    lookahead_s: float = 0.3
    rise_db_per_s: float = 20.0
    ratio: float = 3.0
    threshold_db: float = -3.0
    knee_db: float = 4.0
    attack_ms: float = 3.0
    release_ms: float = 150.0

    def with_(self, **changes: object) -> LevellerSettings:
        return replace(self, **changes)  # type: ignore[arg-type]


#: Named firmness levels; ``off`` is today's single integrated gain.
LEVELLER_PRESETS: dict[str, LevellerSettings | None] = {
    "off": None,
    "gentle": LevellerSettings(range_db=6.0, window_s=1.5, rise_db_per_s=12.0, ratio=2.0, threshold_db=-2.0),
    "medium": LevellerSettings(),
    "firm": LevellerSettings(range_db=12.0, window_s=0.8, rise_db_per_s=30.0, ratio=4.0, threshold_db=-4.0),
}

#: Each mix preset's leveller (defined with the preset in :mod:`mixer.presets`).
PRESET_LEVELLER: dict[str, str] = {name: p.leveller for name, p in PRESETS.items()}


def leveller_for(name: str, preset: str = "podcast") -> LevellerSettings | None:
    """The :class:`LevellerSettings` of a name (``off``, ``gentle``, ``medium``, ``firm``, or ``auto``: the
    preset's); None for ``off``.

    Raises
    ------
    ValueError
        Unknown name.
    """
    if name == "auto":
        name = PRESET_LEVELLER.get(preset, "medium")
    if name not in LEVELLER_PRESETS:
        raise ValueError(f"leveller '{name}' is unknown; use one of auto, {', '.join(LEVELLER_PRESETS)}")
    return LEVELLER_PRESETS[name]


def _centred_sum(x: np.ndarray, half: int) -> np.ndarray:
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    idx = np.arange(x.size)
    return c[np.minimum(idx + half + 1, x.size)] - c[np.maximum(idx - half, 0)]


def _moving_average_causal(x: np.ndarray, length: int) -> np.ndarray:
    if length <= 1:
        return x.copy()
    c = np.concatenate([[0.0], np.cumsum(x)])
    k = np.arange(1, x.size + 1)
    lo = np.maximum(k - length, 0)
    return (c[k] - c[lo]) / (k - lo)


def _smooth_under(want_db: np.ndarray, lookahead: int, rise_per_hop: float) -> np.ndarray:
    """A smooth curve at or under ``want_db`` (per hop → per boundary, ``n + 1`` values): forward minimum over
    ``2 W`` hops, rise-rate limit, two causal ``W + 1`` averages (see mixer.limiter for why each step keeps the
    curve under the wanted value)."""
    n = want_db.size
    w = max(1, lookahead // 2)
    b = np.concatenate([want_db, want_db[-1:]])  # boundary k -> hop k (the end boundary: the last hop)
    b = np.minimum(b, np.concatenate([want_db[:1], want_db]))  # and hop k-1
    padded = np.concatenate([b, np.full(2 * w, b[-1])])
    fwd = minimum_filter1d(padded, size=2 * w + 1, origin=-w, mode="nearest")[: n + 1]
    k = np.arange(n + 1, dtype=np.float64)
    rel = np.minimum.accumulate(fwd - rise_per_hop * k) + rise_per_hop * k
    rel = np.minimum(rel, fwd.max())
    return _moving_average_causal(_moving_average_causal(rel, w + 1), w + 1)


def rider_gain_db(
    voice_power: np.ndarray,
    mask: np.ndarray,
    hop_s: float,
    *,
    settings: LevellerSettings = LevellerSettings(),
) -> np.ndarray:
    """The rider's gain (dB) per control boundary: phrases toward the voice's typical level within ±range.

    Parameters
    ----------
    voice_power : np.ndarray [shape=(n_hops,)]
        K-weighted power per hop of the voice (:func:`mixer.loudness.kweighted_hop_power`).
    mask : np.ndarray [shape=(n_hops,)], bool
        Speech hops (:func:`mixer.ducking.speech_mask` of the VAD segments).
    hop_s : float
        Hop duration in seconds.
    settings : LevellerSettings

    Returns
    -------
    np.ndarray [shape=(n_hops + 1,)], float64
        Gain in dB at each hop boundary; 0 everywhere when there is no speech.
    """
    p = np.asarray(voice_power, np.float64)
    n = p.size
    mask = np.asarray(mask, bool)
    if n == 0 or not mask.any():
        return np.zeros(n + 1)
    # Speech hops that carry sound (the VAD's segments include the gaps between words: a hop 40 dB under the
    # speech's own level is a gap, not a whisper, and must not pull the phrase level down).
    with np.errstate(divide="ignore"):
        level = 10 * np.log10(np.maximum(p, 1e-20))
    speech_db = level[mask]
    loud_ref = np.percentile(speech_db, 95)
    active = mask & (level > loud_ref - 45.0)
    if not active.any():
        return np.zeros(n + 1)
    half = max(1, int(round(settings.window_s / hop_s / 2)))
    cnt = _centred_sum(active.astype(np.float64), half)
    pw = _centred_sum(p * active, half)
    with np.errstate(divide="ignore", invalid="ignore"):
        phrase_db = 10 * np.log10(np.maximum(pw / np.maximum(cnt, 1e-12), 1e-20))
    # Reference: the median phrase level over speech (robust: a few shouted or whispered lines do not set it).
    ref = float(np.median(phrase_db[active]))
    want = np.clip(ref - phrase_db, -settings.range_db, settings.range_db)
    # Pauses (and speech hops whose window saw too little speech): frozen at the smaller gain of the speech on
    # either side, so they are never raised above the speech around them.
    known = mask & (cnt * hop_s >= 0.1)
    if not known.any():
        return np.zeros(n + 1)
    idx = np.arange(n)
    left = np.maximum.accumulate(np.where(known, idx, -1))
    right = np.minimum.accumulate(np.where(known, idx, n)[::-1])[::-1]
    lv = np.where(left >= 0, want[np.maximum(left, 0)], np.inf)
    rv = np.where(right < n, want[np.minimum(right, n - 1)], np.inf)
    frozen = np.minimum(lv, rv)
    want = np.where(known, want, frozen)
    lookahead = max(1, int(round(settings.lookahead_s / hop_s)))
    return _smooth_under(want, lookahead, settings.rise_db_per_s * hop_s)


def compressor_gain(
    peak: np.ndarray,
    hop_s: float,
    *,
    ceiling: float,
    settings: LevellerSettings = LevellerSettings(),
) -> np.ndarray:
    """Look-ahead compressor gain (linear) per limiter boundary from the voice's per-hop sample peaks.

    Parameters
    ----------
    peak : np.ndarray [shape=(n_hops,)]
        Linear sample peak per hop of the voice at the level it will have in the mix (rider and level applied).
    hop_s : float
        Hop duration (~1 ms).
    ceiling : float
        Linear true-peak ceiling of the mix; the threshold is ``settings.threshold_db`` under it.
    settings : LevellerSettings

    Returns
    -------
    np.ndarray [shape=(n_hops + 1,)], float32
        Gain at each hop boundary, <= 1.
    """
    from mixer.limiter import limiter_gain

    n = np.size(peak)
    if n == 0 or settings.ratio <= 1.0:
        return np.ones(n + 1, np.float32)
    t = 20 * np.log10(ceiling) + settings.threshold_db
    k = max(settings.knee_db, 1e-6)
    # only hops above the knee's foot are compressed: the rest need no arithmetic (an hour is 3.6 M hops)
    idx = np.flatnonzero(np.asarray(peak) > 10 ** ((t - k / 2) / 20))
    if idx.size == 0:
        return np.ones(n + 1, np.float32)
    over = 20 * np.log10(np.asarray(peak, np.float64)[idx]) - t
    slope = 1.0 - 1.0 / settings.ratio
    # soft knee (Giannoulis, Massberg & Reiss 2012, eq. 4): quadratic inside ±knee/2, linear above
    gr = np.where(over >= k / 2, slope * over, slope * (over + k / 2) ** 2 / (2 * k))
    # The gain each hop needs, smoothed exactly as the true-peak limiter smooths its own (look-ahead attack,
    # constant-rate release, S-shaped ramps, never above the need), computed only around the compressed hops.
    excess = np.ones(n, np.float32)  # 10^(gr/20): what a limiter with a unity ceiling would need to take off
    excess[idx] = (10.0 ** (gr / 20.0)).astype(np.float32)
    return limiter_gain(excess, ceiling=1.0, hop_s=hop_s, lookahead_ms=settings.attack_ms,
                        release_ms=settings.release_ms, release_db=10.0)
