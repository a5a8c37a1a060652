"""Mixdown: level the voice and the bed, duck the bed under speech, hit the loudness target, limit true peaks.

Order of operations (and why):

0. With ``settings.leveller`` (the default of every preset), the voice is first levelled by :mod:`mixer.leveller`:
   a slow, speech-gated rider brings its phrases toward one level within a bounded range and a gentle look-ahead
   compressor takes the peaks that remain, so a voice that swings from whisper to shout reaches the limiter at
   an even level. One gain curve per limiter hop, applied to the voice stem (the stems still sum to the
   pre-limiter mix).
1. Voice and bed are levelled *separately* to integrated loudness (ITU-R BS.1770-4): the voice to the target, the
   bed to ``bed_db`` under it (its level in pauses).
2. The bed is ducked by the curve of :mod:`mixer.ducking` (depth follows the voice's short-term loudness).
3. The two are summed and one *static* gain brings the sum to ``target_lufs``. No dynamic normaliser ever runs over
   the mix: it would undo the ducking.
4. A look-ahead true-peak limiter (:mod:`mixer.limiter`, 4x-oversampled detection) only catches the peaks. Its small
   loudness cost is measured and folded back into the static gain, so the limited mix still lands on the target.

The stems are the levelled voice and the fitted, ducked bed *after* the static gain, so ``voice + music`` equals the
mix before the limiter, to float rounding.

Memory: the work is done in passes over ~1 s blocks; between passes only per-hop numbers are kept (10 ms hops for
loudness and ducking, ~1 ms hops for the limiter: under 20 MB for an hour). :func:`plan_mix` accepts arrays or
block readers, and :meth:`MixPlan.render_block` renders any block, so a caller can stream an hour-long mix to an
encoder without holding it. :func:`mix_voice_and_bed` is the whole-array convenience on top.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.errors import InvalidAudioError
from mixer._validate import check_audio, check_sr
from mixer.ducking import duck_depth_db, duck_envelope, interpolate_curve, speech_mask
from mixer.leveller import LevellerSettings, compressor_gain, leveller_for, rider_gain_db
from mixer.limiter import limiter_gain
from mixer.loudness import (
    integrated_from_hop_power,
    kweighted_filter,
    kweighted_hop_power,
    true_peak_per_hop,
)
from mixer.presets import DEFAULT_PRESET, DEFAULT_TARGET_LUFS, PRESETS

__all__ = [
    "DEPTH_PRESETS",
    "MixPlan",
    "MixResult",
    "MixSettings",
    "mix_voice_and_bed",
    "plan_mix",
]

#: Music depth under speech per preset (dB under the voice's short-term loudness), from :mod:`mixer.presets`.
DEPTH_PRESETS: dict[str, float] = {name: p.depth_db for name, p in PRESETS.items()}

BlockReader = Callable[[int, int], np.ndarray]
Source = np.ndarray | BlockReader


@dataclass(frozen=True)
class MixSettings:
    """DSP settings of the mixdown.

    Attributes
    ----------
    depth_db : float
        Music under the voice by short-term loudness, under speech (podcast 18, vlog 12, clear 20).
    target_lufs : float
        Integrated loudness of the final mix.
    true_peak_dbtp : float
        Ceiling of the limiter (4x-oversampled true peak).
    attack_ms, release_ms, lookahead_ms, hold_ms : float
        Ducking ramps: down over ``attack_ms`` starting ``lookahead_ms`` before speech, up over ``release_ms``
        after ``hold_ms`` of silence.
    min_pause_s : float
        Pauses at least this long let the music come back up.
    bed_db : float
        The bed's own level (in long pauses) relative to the voice, integrated loudness.
    follow_voice : bool
        Let the depth follow the voice's short-term loudness (True) or use one static depth (False).
    short_term_s : float
        Short-term loudness window for the depth (3 s, EBU Tech 3341).
    limiter_lookahead_ms, limiter_release_ms : float
        True-peak limiter timing (it recovers 12 dB per ``limiter_release_ms``).
    block_s : float
        Processing block length.
    leveller : LevellerSettings or None
        The voice leveller (:mod:`mixer.leveller`): a speech-gated rider and gentle compression before the mix.
        None: the voice gets one integrated gain (the behaviour before the leveller).
    """

    depth_db: float = PRESETS[DEFAULT_PRESET].depth_db
    target_lufs: float = DEFAULT_TARGET_LUFS
    true_peak_dbtp: float = -1.0
    attack_ms: float = 100.0
    release_ms: float = 500.0
    lookahead_ms: float = 150.0
    hold_ms: float = 100.0
    min_pause_s: float = 0.8
    bed_db: float = -6.0
    follow_voice: bool = True
    short_term_s: float = 3.0
    limiter_lookahead_ms: float = 5.0
    limiter_release_ms: float = 150.0
    block_s: float = 1.0
    leveller: LevellerSettings | None = None

    @classmethod
    def for_preset(cls, preset: str, **changes: object) -> MixSettings:
        """Settings of a named preset (``podcast``, ``vlog``, ``clear``: depth and leveller), with ``changes``
        applied."""
        if preset not in DEPTH_PRESETS:
            raise InvalidAudioError(
                f"unknown preset {preset!r}; expected one of {', '.join(DEPTH_PRESETS)}"
            )
        base = cls(depth_db=DEPTH_PRESETS[preset], leveller=leveller_for("auto", preset))
        return replace(base, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class MixResult:
    """The mixed audio and what it measures.

    Attributes
    ----------
    mix : np.ndarray [shape=(2, n)], float32
        Final mix, limited.
    voice, music : np.ndarray [shape=(2, n)], float32
        Stems: levelled voice and fitted, ducked bed; ``voice + music`` is the mix before the limiter.
    integrated_lufs : float
        Measured on ``mix`` (BS.1770-4).
    true_peak_dbtp : float
        Measured on ``mix`` (4x oversampled).
    speech_to_music_db : float
        Voice minus music loudness over the speech hops (K-weighted).
    duck_db : float
        Mean gain reduction of the bed under speech relative to its pause level (positive dB).
    """

    mix: np.ndarray
    voice: np.ndarray
    music: np.ndarray
    integrated_lufs: float
    true_peak_dbtp: float
    speech_to_music_db: float
    duck_db: float


@dataclass(frozen=True)
class MixPlan:
    """Everything the render needs, from one analysis pass: static gains and the hop-rate gain curves.

    Render with :meth:`render_block` block by block (any order, any size) from the voice and bed blocks.
    """

    sr: int
    n_samples: int
    ctl_hop: int
    lim_hop: int
    voice_gain: float  # linear, levelling x static gain
    music_gain: float  # linear, levelling x static gain
    duck_gain: np.ndarray  # linear per control boundary, relative to the bed's pause level
    limiter: np.ndarray  # linear per limiter boundary
    static_gain_db: float
    voice_level_db: float
    bed_level_db: float
    speech_to_music_db: float
    duck_db: float
    predicted_lufs: float
    voice_curve: np.ndarray | None = None  # linear per limiter boundary: the leveller (rider x compressor)
    leveller_range_db: tuple[float, float] | None = None  # the rider's lowest and highest gain under speech
    limiter_gr_p99_db: float = 0.0  # the final limiter's gain reduction, 99th percentile over sounding hops
    limiter_gr_max_db: float = 0.0
    fold: _LimiterFold | None = None  # the pre-limiter powers and peaks, to re-aim the loudness (retargeted)
    fold_ratio: float = 1.0

    def retargeted(self, delta_db: float) -> MixPlan:
        """The same mix ``delta_db`` louder (static gain and limiter re-planned together, stems scaled alike).

        Used to land a lossy output on target as decoded: the encoder's loudness change is measured on the written
        file and the mix re-rendered once with the difference.
        """
        if self.fold is None or not np.isfinite(delta_db):
            return self
        ratio, lim, lufs = self.fold(self.predicted_lufs + delta_db)
        c = ratio / self.fold_ratio
        return replace(self, voice_gain=self.voice_gain * c, music_gain=self.music_gain * c,
                       limiter=lim.astype(np.float32), static_gain_db=self.static_gain_db + 20 * np.log10(c),
                       predicted_lufs=float(lufs), fold_ratio=ratio)

    def render_block(
        self,
        voice_block: np.ndarray,
        bed_block: np.ndarray,
        i0: int,
        out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Render output samples ``[i0, i0 + len)`` from the voice and bed blocks covering the same samples.

        Parameters
        ----------
        voice_block, bed_block : np.ndarray [shape=(channels, len)], float32
            ``voice[:, i0:i0+len]`` and ``bed[:, i0:i0+len]`` (mono is played dual-mono).
        i0 : int
            First output sample of the block.
        out : (mix, voice, music) arrays of shape (2, len), or None
            Write into these instead of allocating.

        Returns
        -------
        mix, voice, music : np.ndarray [shape=(2, len)], float32
            Limited mix and the two stems (``voice + music`` = the mix before the limiter).
        """
        n = voice_block.shape[1]
        i1 = i0 + n
        if out is None:
            out = (np.empty((2, n), np.float32), np.empty((2, n), np.float32), np.empty((2, n), np.float32))
        mix, v, m = out
        np.multiply(_stereo(voice_block), np.float32(self.voice_gain), out=v)
        if self.voice_curve is not None:
            v *= interpolate_curve(self.voice_curve, self.lim_hop, i0, i1)
        duck = interpolate_curve(self.duck_gain, self.ctl_hop, i0, i1)
        duck *= np.float32(self.music_gain)
        np.multiply(_stereo(bed_block), duck, out=m)
        np.add(v, m, out=mix)
        mix *= interpolate_curve(self.limiter, self.lim_hop, i0, i1)
        return mix, v, m


def _stereo(block: np.ndarray) -> np.ndarray:
    """(1, n) → (2, n) by duplication; (2, n) as is; more channels → mean, duplicated."""
    if block.shape[0] == 2:
        return block
    mono = block[0] if block.shape[0] == 1 else block.mean(axis=0, dtype=np.float32)
    return np.broadcast_to(mono, (2, mono.size))


def _stereo_powers(
    voice: np.ndarray, bed: np.ndarray, sr: int, hop: int, zv: np.ndarray | None, zb: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """K-weighted power per hop of a voice block and a bed block as heard in stereo, and their cross term
    ``sum_c G_c mean(kv_c kb_c)`` (BS.1770 channel weights; a mono block plays on both channels)."""
    v = voice if voice.shape[0] <= 2 else voice.mean(axis=0, dtype=np.float32)[None, :]
    b = bed if bed.shape[0] <= 2 else bed.mean(axis=0, dtype=np.float32)[None, :]
    yv, zv = kweighted_filter(_padded(v, hop), sr, zv)
    yb, zb = kweighted_filter(_padded(b, hop), sr, zb)
    k = yv.shape[1] // hop
    yv = yv[:, : k * hop].reshape(yv.shape[0], k, hop)
    yb = yb[:, : k * hop].reshape(yb.shape[0], k, hop)
    pv = np.einsum("chk,chk->h", yv, yv, dtype=np.float64) / hop * (2 // yv.shape[0])
    pb = np.einsum("chk,chk->h", yb, yb, dtype=np.float64) / hop * (2 // yb.shape[0])
    if yv.shape[0] == yb.shape[0]:
        cr = np.einsum("chk,chk->h", yv, yb, dtype=np.float64) / hop * (2 // yv.shape[0])
    else:  # one mono, one stereo: the mono one is on both channels
        mono, st = (yv, yb) if yv.shape[0] == 1 else (yb, yv)
        cr = np.einsum("hk,chk->h", mono[0], st, dtype=np.float64) / hop
    return pv, pb, cr, zv, zb


def _reader(src: Source, name: str, sr: int) -> tuple[BlockReader, int]:
    if isinstance(src, np.ndarray):
        check_audio(src, sr, name=name)
        return (lambda i0, i1: src[:, i0:i1]), src.shape[1]
    if callable(src):
        n = getattr(src, "n_samples", None)
        if n is None:
            raise InvalidAudioError(f"{name} reader needs an n_samples attribute; pass an array instead")
        return src, int(n)
    raise InvalidAudioError(
        f"{name} must be a float32 array shaped (channels, samples) or a block reader, got {type(src).__name__}"
    )


def _blocks(n: int, block: int) -> Iterator[tuple[int, int]]:
    for i0 in range(0, n, block):
        yield i0, min(n, i0 + block)


def _db(p: float) -> float:
    return float(10 * np.log10(p)) if p > 0 else float("-inf")


def plan_mix(
    voice: Source,
    bed: Source,
    sr: int,
    segments: Sequence[tuple[float, float]],
    *,
    settings: MixSettings = MixSettings(),
) -> MixPlan:
    """Analyse voice and bed and plan the mix (gains, ducking curve, limiter curve).

    Parameters
    ----------
    voice, bed : np.ndarray [shape=(channels, n)] or block reader
        Same length ``n`` and rate. A block reader is a callable ``(i0, i1) -> (channels, i1 - i0)`` float32
        array with an ``n_samples`` attribute (e.g. a fitted bed rendered on demand); it is read in order, three
        times.
    sr : int
    segments : sequence of (start_s, end_s)
        Speech segments (from :func:`mixer.vad.detect_speech`).
    settings : MixSettings

    Raises
    ------
    InvalidAudioError
        Bad arrays, different lengths, bad settings.
    """
    sr = check_sr(sr)
    read_v, n = _reader(voice, "voice", sr)
    read_b, n_b = _reader(bed, "bed", sr)
    if n_b != n:
        raise InvalidAudioError(
            f"voice is {n} samples but bed is {n_b}; fit the bed to the voice first (mixer.fit.fit_to_length)"
        )
    if not np.isfinite(settings.target_lufs) or not -70 < settings.target_lufs < 0:
        raise InvalidAudioError(f"target_lufs must be between -70 and 0 LUFS, got {settings.target_lufs}")
    if settings.depth_db < 0:
        raise InvalidAudioError(f"depth_db must be >= 0 dB (music under the voice), got {settings.depth_db}")

    lim_hop = max(1, sr // 1000)
    ctl_hop = 10 * lim_hop
    hop_s = ctl_hop / sr
    block = ctl_hop * max(1, int(round(settings.block_s / hop_s)))
    n_ctl = -(-n // ctl_hop)
    n_lim = -(-n // lim_hop)

    # Pass 1: K-weighted power per control hop of the voice and of the bed (as they will be heard: stereo).
    # With the leveller, also the voice's sample peak per limiter hop (for its compressor).
    # Also their cross term per hop, so that the K-weighted power of any mix a x voice + b x bed with gains
    # steady over a hop is a^2 pv + b^2 pb + 2ab cross, with no second filtering pass (K-weighting is linear).
    pv = np.zeros(n_ctl)
    pb = np.zeros(n_ctl)
    cross = np.zeros(n_ctl)
    lev = settings.leveller
    vpk = np.zeros(n_lim, np.float32) if lev is not None else None
    zv = zb = None
    for i0, i1 in _blocks(n, block):
        k0 = i0 // ctl_hop
        vb = read_v(i0, i1)
        pv_k, pb_k, cr_k, zv, zb = _stereo_powers(vb, read_b(i0, i1), sr, ctl_hop, zv, zb)
        pv[k0 : k0 + pv_k.size] = pv_k
        pb[k0 : k0 + pb_k.size] = pb_k
        cross[k0 : k0 + cr_k.size] = cr_k
        if vpk is not None:
            x = _padded(vb, lim_hop)
            pk = np.abs(x).reshape(x.shape[0], -1, lim_hop).max(axis=(0, 2))
            j0 = i0 // lim_hop
            vpk[j0 : j0 + pk.size] = pk[: n_lim - j0]
    pv_raw = pv

    mask = speech_mask(segments, n_ctl, hop_s)
    ceiling = 10 ** (settings.true_peak_dbtp / 20)
    per = ctl_hop // lim_hop
    voice_curve = None
    lev_range = None
    if lev is not None and mask.any():
        # The leveller: the rider brings phrases toward the voice's typical level, then the compressor takes the
        # peaks it leaves, at the level the voice will have in the mix (the target); one curve per limiter hop.
        rider_db = rider_gain_db(pv, mask, hop_s, settings=lev)
        pv = pv * 10 ** (0.5 * (rider_db[:-1] + rider_db[1:]) / 10)
        under = np.concatenate([mask, mask[-1:]]) | np.concatenate([mask[:1], mask])
        lev_range = (float(rider_db[under].min()), float(rider_db[under].max()))
        # the rider's gain at limiter boundaries (linear interpolation of the control curve, float32: for an hour
        # of audio each of these per-millisecond arrays is 14 MB)
        rider_lin = (10 ** (rider_db / 20)).astype(np.float32)
        frac = np.arange(per, dtype=np.float32) / np.float32(per)
        voice_curve = (rider_lin[:-1, None] + (rider_lin[1:] - rider_lin[:-1])[:, None] * frac).ravel()
        voice_curve = np.concatenate([voice_curve, rider_lin[-1:]])[: n_lim + 1]
        lv0 = integrated_from_hop_power(pv, hop_s)
        gv0 = np.float32(10 ** ((settings.target_lufs - lv0) / 20) if np.isfinite(lv0) else 1.0)
        np.multiply(vpk, np.minimum(voice_curve[:-1], voice_curve[1:]), out=vpk)
        vpk *= gv0
        comp = compressor_gain(vpk, lim_hop / sr, ceiling=ceiling, settings=lev)
        pv = pv * _ctl_mean_square(comp, per, n_ctl)
        voice_curve *= comp
        del rider_lin, comp
    vpk = None

    # Levelling: voice to the target, bed to bed_db under it (its pause level); silence is left alone.
    lv = integrated_from_hop_power(pv, hop_s)
    lb = integrated_from_hop_power(pb, hop_s)
    gv_db = settings.target_lufs - lv if np.isfinite(lv) else 0.0
    gb_db = (settings.target_lufs + settings.bed_db) - lb if np.isfinite(lb) else 0.0
    gv, gb = 10 ** (gv_db / 20), 10 ** (gb_db / 20)
    pv_l, pb_l = pv * gv * gv, pb * gb * gb

    # Ducking curve (control boundaries).
    env = duck_envelope(segments, n_ctl + 1, hop_s, attack_ms=settings.attack_ms,
                        release_ms=settings.release_ms, lookahead_ms=settings.lookahead_ms,
                        hold_ms=settings.hold_ms, min_pause_s=settings.min_pause_s)
    depth = duck_depth_db(pv_l, pb_l, mask, hop_s, depth_db=settings.depth_db,
                          follow_voice=settings.follow_voice, short_term_s=settings.short_term_s)
    depth_b = np.concatenate([depth, depth[-1:]])
    duck = 10.0 ** (env * depth_b / 20.0)
    duck_hop = 0.5 * (duck[:-1] + duck[1:])  # gain at each hop's centre, for power predictions
    if mask.any():
        # The depth is set on smoothed short-term windows; over the speech as a whole (what a listener and the
        # report measure) the bed can sit a few tenths of a dB closer. Close that gap once, by deepening the
        # ducking by the shortfall (at most 3 dB).
        short = settings.depth_db - (_db(pv_l[mask].sum()) - _db((pb_l * duck_hop**2)[mask].sum()))
        if 0.0 < short < np.inf:
            depth = duck_depth_db(pv_l, pb_l, mask, hop_s, depth_db=settings.depth_db + min(short, 3.0) + 0.05,
                                  follow_voice=settings.follow_voice, short_term_s=settings.short_term_s)
            depth_b = np.concatenate([depth, depth[-1:]])
            duck = 10.0 ** (env * depth_b / 20.0)
            duck_hop = 0.5 * (duck[:-1] + duck[1:])

    # K-weighted power of the pre-limiter mix at unity static gain, from the pass-1 powers and cross term (the
    # gains are steady within a 10 ms hop; the voice curve's mean square stands for it within the hop).
    a2 = gv * gv * (_ctl_mean_square(voice_curve.astype(np.float64), per, n_ctl) if voice_curve is not None
                    else np.ones(n_ctl))
    b_hop = gb * duck_hop
    pm1 = a2 * pv_raw + b_hop**2 * pb + 2.0 * np.sqrt(a2) * b_hop * cross
    pm1 = np.maximum(pm1, 0.0)
    pred = integrated_from_hop_power(pm1, hop_s)
    g_db = settings.target_lufs - pred if np.isfinite(pred) else 0.0
    g = 10 ** (g_db / 20)
    pm = pm1 * g * g

    # Pass 2: true peaks of the pre-limiter mix at that gain, oversampled on the hops whose sample peak is within
    # 9 dB of the ceiling (3 dB of room for the limiter's gain correction below + 6 dB of inter-sample overshoot,
    # more than band-limited audio shows).
    peaks = _mix_pass(read_v, read_b, gv * g, gb * g, duck, sr, n, ctl_hop, lim_hop, block,
                      only_above=ceiling / _ROOM, voice_curve=voice_curve)

    # Static gain + limiter, refined together: the limiter's loudness cost is folded back into the gain.
    fold = _LimiterFold(pm=pm, peaks=peaks, ceiling=ceiling, lim_hop=lim_hop, ctl_hop=ctl_hop, sr=sr,
                        lookahead_ms=settings.limiter_lookahead_ms, release_ms=settings.limiter_release_ms)
    ratio, lim, lufs = fold(settings.target_lufs)
    g *= ratio
    final_db = 20 * np.log10(g)

    # Report figures from the hop powers of the stems.
    pv_s = pv_l * g * g
    pm_s = pb_l * duck_hop**2 * g * g
    if mask.any():
        s2m = _db(pv_s[mask].sum()) - _db(pm_s[mask].sum())
        duck_db = float(-np.mean(20 * np.log10(np.maximum(duck_hop[mask], 1e-6))))
    else:
        s2m, duck_db = float("nan"), 0.0
    # The limiter's gain reduction over the hops that sound (pre-limiter peak above -60 dBFS).
    sounding = peaks * ratio > 1e-3
    if sounding.any():
        lim_hop_gain = np.minimum(lim[:-1], lim[1:])[sounding]
        gr = -20 * np.log10(np.maximum(lim_hop_gain, 1e-6))
        gr_p99, gr_max = float(np.percentile(gr, 99)), float(gr.max())
    else:
        gr_p99 = gr_max = 0.0
    return MixPlan(sr=sr, n_samples=n, ctl_hop=ctl_hop, lim_hop=lim_hop, voice_gain=gv * g, music_gain=gb * g,
                   duck_gain=duck.astype(np.float32), limiter=lim.astype(np.float32), static_gain_db=float(final_db),
                   voice_level_db=float(gv_db), bed_level_db=float(gb_db), speech_to_music_db=float(s2m),
                   duck_db=duck_db, predicted_lufs=float(lufs), voice_curve=voice_curve,
                   leveller_range_db=lev_range, limiter_gr_p99_db=max(0.0, gr_p99), limiter_gr_max_db=max(0.0, gr_max),
                   fold=fold, fold_ratio=ratio)


@dataclass(frozen=True)
class _LimiterFold:
    """Static gain and limiter for a target loudness, from the pre-limiter mix's K-weighted hop powers ``pm`` and
    true peaks ``peaks`` (at unity extra gain): the limiter's loudness cost is folded back into the gain."""

    pm: np.ndarray
    peaks: np.ndarray
    ceiling: float
    lim_hop: int
    ctl_hop: int
    sr: int
    lookahead_ms: float
    release_ms: float

    def __call__(self, target_lufs: float) -> tuple[float, np.ndarray, float]:
        """(extra gain, limiter curve per boundary, predicted loudness) for ``target_lufs``."""
        per = self.ctl_hop // self.lim_hop
        n_ctl = self.pm.size
        hop_s = self.ctl_hop / self.sr
        ratio = 1.0
        lim = np.ones(self.peaks.size + 1)
        lufs = integrated_from_hop_power(self.pm, hop_s)
        for _ in range(4):
            if not np.isfinite(lufs):
                break
            ratio *= 10 ** ((target_lufs - lufs) / 20)
            ratio = min(ratio, 10 ** ((_ROOM_DB - 6.0) / 20))
            lim = limiter_gain(self.peaks * ratio, ceiling=self.ceiling * _LIMIT_MARGIN, hop_s=self.lim_hop / self.sr,
                               lookahead_ms=self.lookahead_ms, release_ms=self.release_ms)
            lufs = integrated_from_hop_power(self.pm * ratio**2 * _ctl_mean_square(lim, per, n_ctl), hop_s)
        return ratio, lim, float(lufs)


def _ctl_mean_square(lim: np.ndarray, per: int, n_ctl: int) -> np.ndarray:
    """Mean square of the limiter gain per control hop (``per`` limiter hops each), in bounded chunks."""
    out = np.ones(n_ctl)
    n_lim = lim.size - 1
    chunk = per * 65536
    for a in range(0, n_lim, chunk):
        b = min(n_lim, a + chunk)
        mid = 0.5 * (lim[a:b] + lim[a + 1 : b + 1])  # the gain at each hop's centre
        full = (b - a) // per
        if full:
            out[a // per : a // per + full] = (mid[: full * per] ** 2).reshape(full, per).mean(axis=1)
        if (b - a) % per:  # the last, partial control hop
            out[a // per + full] = float(np.mean(mid[full * per :] ** 2))
    return out


_ROOM_DB = 9.0
# The limiter aims 0.05 dB under the ceiling: its gain moves within a hop, which a 4x meter can see as a few
# thousandths of a dB of overshoot.
_LIMIT_MARGIN = 10 ** (-0.05 / 20)
_ROOM = 10 ** (_ROOM_DB / 20)


def _mix_pass(
    read_v: BlockReader, read_b: BlockReader, gv: float, gb: float, duck: np.ndarray, sr: int, n: int,
    ctl_hop: int, lim_hop: int, block: int, *, only_above: float, voice_curve: np.ndarray | None = None,
) -> np.ndarray:
    """True peak per limiter hop of the pre-limiter mix."""
    n_lim = -(-n // lim_hop)
    peaks = np.zeros(n_lim, np.float32)
    pre = _Prelimiter(read_v, read_b, gv, gb, duck, ctl_hop, n, voice_curve, lim_hop)
    for i0, i1 in _blocks(n, block):
        x = _padded(pre(i0, i1), ctl_hop)
        ctx = (pre(max(0, i0 - 64), i0), pre(i1, min(n, i1 + 64)))
        tp = true_peak_per_hop(x, lim_hop, only_above=only_above, context=ctx)
        k0 = i0 // lim_hop
        cnt = min(tp.size, n_lim - k0)
        peaks[k0 : k0 + cnt] = tp[:cnt]
    return peaks


class _Prelimiter:
    """The pre-limiter mix for any sample range (voice and bed levelled, bed ducked, static gain)."""

    def __init__(self, read_v: BlockReader, read_b: BlockReader, gv: float, gb: float, duck: np.ndarray,
                 ctl_hop: int, n: int, voice_curve: np.ndarray | None = None, lim_hop: int = 1) -> None:
        self.read_v, self.read_b, self.gv, self.gb = read_v, read_b, np.float32(gv), np.float32(gb)
        self.duck, self.ctl_hop, self.n = duck, ctl_hop, n
        self.voice_curve, self.lim_hop = voice_curve, lim_hop

    def __call__(self, i0: int, i1: int) -> np.ndarray:
        if i1 <= i0:
            return np.zeros((2, 0), np.float32)
        v = _stereo(self.read_v(i0, i1)) * self.gv
        if self.voice_curve is not None:
            v *= interpolate_curve(self.voice_curve, self.lim_hop, i0, i1)
        m = _stereo(self.read_b(i0, i1)) * (self.gb * interpolate_curve(self.duck, self.ctl_hop, i0, i1))
        return v + m


def _padded(x: np.ndarray, hop: int) -> np.ndarray:
    """Zero-pad a block to a whole number of hops (only the file's last block is ever short)."""
    r = x.shape[1] % hop
    if r == 0:
        return x
    return np.concatenate([x, np.zeros((x.shape[0], hop - r), x.dtype)], axis=1)


def mix_voice_and_bed(
    voice: np.ndarray,
    bed: np.ndarray,
    sr: int,
    segments: Sequence[tuple[float, float]],
    *,
    settings: MixSettings = MixSettings(),
) -> MixResult:
    """Mix a voice and a fitted bed: level, duck under speech, hit the loudness target, limit true peaks.

    Parameters
    ----------
    voice : np.ndarray [shape=(channels, n)], float32
        The voice at the output rate (mono or stereo).
    bed : np.ndarray [shape=(channels, n)], float32
        The fitted music (:func:`mixer.fit.fit_to_length`), same length and rate.
    sr : int
    segments : sequence of (start_s, end_s)
        Speech segments in seconds.
    settings : MixSettings

    Returns
    -------
    MixResult
        The final mix, the stems and the measured figures (loudness and true peak measured on the final mix).

    Raises
    ------
    InvalidAudioError
        Bad arrays, different lengths or bad settings.
    """
    check_audio(voice, sr, name="voice")
    check_audio(bed, sr, name="bed")
    plan = plan_mix(voice, bed, sr, segments, settings=settings)
    n = plan.n_samples
    mix = np.empty((2, n), np.float32)
    v_out = np.empty((2, n), np.float32)
    m_out = np.empty((2, n), np.float32)
    block = plan.ctl_hop * max(1, int(round(settings.block_s * sr / plan.ctl_hop)))
    zi = None
    pw = []
    best_tp = 0.0
    ceiling = 10 ** (settings.true_peak_dbtp / 20)
    for i0, i1 in _blocks(n, block):
        plan.render_block(voice[:, i0:i1], bed[:, i0:i1], i0,
                          out=(mix[:, i0:i1], v_out[:, i0:i1], m_out[:, i0:i1]))
        # Measure the final mix while the block is hot: BS.1770-4 loudness, and 4x true peak on every hop
        # within 6 dB of the ceiling (quieter hops cannot reach it).
        x = _padded(mix[:, i0:i1], plan.ctl_hop)
        p, zi = kweighted_hop_power(x, sr, plan.ctl_hop, zi)
        pw.append(p)
        ctx = (mix[:, max(0, i0 - 64) : i0], np.zeros((2, 0), np.float32))  # the next block is not rendered yet
        tp = true_peak_per_hop(x, plan.lim_hop, only_above=ceiling / 2, context=ctx)
        best_tp = max(best_tp, float(tp.max()) if tp.size else 0.0)
        if i0 > 0:  # the previous block's last hop, now with its right-hand neighbours
            j0 = i0 - plan.lim_hop
            ctx2 = (mix[:, max(0, j0 - 64) : j0], mix[:, i0 : i0 + 64])
            tp2 = true_peak_per_hop(mix[:, j0:i0], plan.lim_hop, only_above=ceiling / 2, context=ctx2)
            best_tp = max(best_tp, float(tp2.max()))
    lufs = integrated_from_hop_power(np.concatenate(pw), plan.ctl_hop / sr)
    tp_db = float(20 * np.log10(best_tp)) if best_tp > 0 else float("-inf")
    return MixResult(mix=mix, voice=v_out, music=m_out, integrated_lufs=float(lufs), true_peak_dbtp=tp_db,
                     speech_to_music_db=plan.speech_to_music_db, duck_db=plan.duck_db)
