"""Beat and downbeat tracking for loop points.

Beats come from the dynamic-programming beat tracker of Ellis (2007), "Beat tracking by dynamic programming", as
librosa implements it (librosa is ISC-licensed): onset strength from a log-mel spectrogram, a global tempo from the
autocorrelation tempogram with a log-normal prior around 120 BPM, then the DP that trades onset strength against
tempo consistency. It is written here in numpy/scipy rather than called through librosa: librosa compiles its
beat tracker with numba in every new process (one of its kernels is uncacheable, ~5 s), a cost paid by every
``mix --music``; this path has no JIT and agrees with librosa's (tests/mixer/test_beats.py checks both on real
music). The numbers follow librosa 0.11's defaults: 22.05 kHz mono, 2048-point STFT, hop 512, 128 Slaney mel bands,
power in dB (80 dB range), tightness 100.

Downbeats: the beats are grouped in bars of four and the phase (0-3) whose beats carry the strongest low-frequency
onsets is taken as beat one; kick drums and bass notes land on the bar line far more often than elsewhere in
popular and library music. Good enough to choose loop and fade points, which is all it is for.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from mixer._validate import check_audio

__all__ = ["BeatGrid", "OnsetEnvelope", "onset_strength", "track_beats"]

_ANALYSIS_SR = 22050
_HOP = 512
_N_FFT = 2048
_TIGHTNESS = 100.0


@dataclass(frozen=True)
class BeatGrid:
    """Beat times of a track.

    Attributes
    ----------
    tempo_bpm : float
        Estimated tempo (0.0 when no beat was found).
    beats_s : tuple of float
        Beat times in seconds, ascending.
    downbeats_s : tuple of float
        The subset of ``beats_s`` on bar lines (every fourth beat), ascending.
    """

    tempo_bpm: float
    beats_s: tuple[float, ...]
    downbeats_s: tuple[float, ...]


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@functools.lru_cache(maxsize=8)
def _mel_filters(sr: int, n_fft: int, n_mels: int, fmax: float) -> np.ndarray:
    """Triangular mel filterbank (n_mels, 1 + n_fft // 2), Slaney-normalised (constant energy per band)."""
    fft_f = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_f[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    w = np.maximum(0, np.minimum(lower, upper))
    w *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return w.astype(np.float32)


def _power_spectrogram(y: np.ndarray) -> np.ndarray:
    """|STFT|^2 (1 + n_fft // 2, frames): centred frames (zero padding), periodic Hann window."""
    pad = _N_FFT // 2
    x = np.pad(y.astype(np.float32, copy=False), (pad, pad), mode="constant")
    n_frames = 1 + (x.size - _N_FFT) // _HOP
    win = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_N_FFT) / _N_FFT)).astype(np.float32)
    out = np.empty((1 + _N_FFT // 2, n_frames), np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, _N_FFT)[::_HOP][:n_frames]
    for a in range(0, n_frames, 1024):  # bounded temporaries
        spec = np.fft.rfft(frames[a : a + 1024] * win, axis=1)
        out[:, a : a + spec.shape[0]] = (spec.real**2 + spec.imag**2).T
    return out


def onset_strength(power: np.ndarray, *, sr: int = _ANALYSIS_SR, n_mels: int = 128,
                   fmax: float | None = None) -> np.ndarray:
    """Spectral-flux onset strength per frame from a power spectrogram (librosa.onset.onset_strength's defaults).

    Parameters
    ----------
    power : np.ndarray [shape=(1 + n_fft // 2, frames)]
        Power spectrogram (:func:`_power_spectrogram`).
    sr : int
    n_mels : int
        Mel bands.
    fmax : float, optional
        Highest mel band edge (default Nyquist).

    Returns
    -------
    np.ndarray [shape=(frames,)]
        Mean over mel bands of the half-wave rectified first difference of the log-mel power, delayed by the
        frame centre offset as librosa does.
    """
    return _flux(_mel_filters(sr, _N_FFT, n_mels, float(fmax or sr / 2.0)) @ power, power.shape[1])


def _flux(mel: np.ndarray, n_frames: int) -> np.ndarray:
    """Onset strength from mel power (bands, frames): dB with an 80 dB floor below the peak, rectified
    difference, mean over bands, delayed by the frame centre offset (librosa's)."""
    if mel.shape[1] == 0:
        return np.zeros(0)
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    db = np.maximum(db, db.max() - 80.0)
    flux = np.maximum(0.0, db[:, 1:] - db[:, :-1]).mean(axis=0)
    pad = 1 + _N_FFT // (2 * _HOP)
    return np.concatenate([np.zeros(pad), flux])[:n_frames]


def _estimate_tempo(onset: np.ndarray, *, start_bpm: float = 120.0, std_bpm: float = 1.0, ac_size_s: float = 8.0,
                    max_tempo: float = 320.0) -> float:
    """Global tempo (BPM): the mean autocorrelation tempogram under a log-normal prior (librosa.feature.tempo)."""
    win = min(int(round(ac_size_s * _ANALYSIS_SR / _HOP)), onset.size)
    pad = win // 2
    x = np.pad(onset, (pad, pad), mode="linear_ramp", end_values=(0, 0))
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[: onset.size]
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    n_fft = 1 << int(np.ceil(np.log2(2 * win - 1)))
    acc = np.zeros(win)
    for a in range(0, frames.shape[0], 1024):
        f = np.fft.rfft(frames[a : a + 1024] * hann, n=n_fft, axis=1)
        ac = np.fft.irfft(f.real**2 + f.imag**2, n=n_fft, axis=1)[:, :win]
        peak = np.abs(ac).max(axis=1, keepdims=True)
        acc += (ac / np.where(peak > 0, peak, 1.0)).sum(axis=0)
    tg = acc / frames.shape[0]
    with np.errstate(divide="ignore"):
        bpms = 60.0 * _ANALYSIS_SR / (_HOP * np.arange(win, dtype=np.float64))
        prior = -0.5 * ((np.log2(bpms) - np.log2(start_bpm)) / std_bpm) ** 2
    prior[0] = -np.inf
    prior[bpms > max_tempo] = -np.inf
    best = int(np.argmax(np.log1p(1e6 * np.maximum(tg, 0)) + prior))
    return float(bpms[best]) if np.isfinite(prior[best]) else 0.0


def _beat_dp(onset: np.ndarray, bpm: float) -> np.ndarray:
    """Beat frames by dynamic programming (Ellis 2007; librosa.beat.__beat_tracker, trim=False)."""
    fpb = float(np.round(60.0 * _ANALYSIS_SR / _HOP / bpm))
    std = onset.std(ddof=1) if onset.size > 1 else 0.0
    norm = onset / (std + np.finfo(np.float64).tiny)
    k = np.arange(-fpb, fpb + 1)
    window = np.exp(-0.5 * (k * 32.0 / fpb) ** 2)
    local = np.convolve(norm, window, mode="same")
    n = local.size
    cum = np.zeros(n)
    back = np.full(n, -1, dtype=np.int64)
    cum[0] = local[0]
    thresh = 0.01 * local.max()
    near, far = int(np.round(fpb / 2)), int(2 * fpb)
    # the tempo penalty for each distance d in [near, far]: -tightness * log(d / fpb)^2
    dists = np.arange(near, far + 1)
    penalty = -_TIGHTNESS * (np.log(np.maximum(dists, 1)) - np.log(fpb)) ** 2
    first = True
    for i in range(1, n):
        lo, hi = i - far, i - near  # candidate predecessors [lo, hi], nearest first in librosa's scan
        if hi < 0:
            best, loc = -np.inf, -1
        else:
            lo_c = max(lo, 0)
            # distances i - loc for loc = hi down to lo_c: near .. i - lo_c
            cand = cum[hi : lo_c - 1 if lo_c > 0 else None : -1] + penalty[: hi - lo_c + 1]
            j = int(np.argmax(cand))  # the first maximum: the nearest predecessor, as librosa's strict '>'
            best, loc = float(cand[j]), hi - j
        cum[i] = local[i] + (best if loc >= 0 else 0.0)
        if first and local[i] < thresh:
            back[i] = -1
        else:
            back[i] = loc
            first = False
    # the last beat: the last local maximum of the cumulative score above half their median
    interior = np.zeros(n, bool)
    if n > 2:
        interior[1:-1] = (cum[1:-1] > cum[:-2]) & (cum[1:-1] >= cum[2:])
    if n > 1:
        interior[-1] = cum[-1] > cum[-2]
    if not interior.any():
        return np.zeros(0, np.int64)
    thr = 0.5 * np.median(cum[interior])
    tail = int(np.flatnonzero(interior & (cum >= thr))[-1])
    beats = []
    while tail >= 0:
        beats.append(tail)
        tail = int(back[tail])
    return np.asarray(beats[::-1], np.int64)


def track_beats(music: np.ndarray, sr: int, *, beats_per_bar: int = 4) -> BeatGrid:
    """Track beats and downbeats of a music signal.

    Parameters
    ----------
    music : np.ndarray [shape=(channels, samples)], float32
    sr : int
    beats_per_bar : int
        Beats grouped per bar for the downbeat phase (4 for most library music).

    Returns
    -------
    BeatGrid
        Empty beats (tempo 0) for silence or signals without pulse.

    Raises
    ------
    InvalidAudioError
        When ``music`` is not valid audio.
    """
    check_audio(music, sr, name="music")
    mono = music[0] if music.shape[0] == 1 else music.mean(axis=0, dtype=np.float32)
    if sr != _ANALYSIS_SR:
        import soxr

        mono = soxr.resample(mono, sr, _ANALYSIS_SR, quality="MQ").astype(np.float32, copy=False)
    if mono.size < _HOP * 8 or not np.any(mono):
        return BeatGrid(0.0, (), ())
    # Full-band onsets plus low-band (< 200 Hz: kick, bass) onsets, each scaled to unit spread: steady pads and
    # chords can swamp the full-band envelope with spurious periodicity, the low band keeps the pulse.
    env = OnsetEnvelope()
    env.feed(_power_spectrogram(mono))
    return env.grid(beats_per_bar=beats_per_bar)


class OnsetEnvelope:
    """The beat grid's input, built block by block: feed power spectrograms of consecutive centred frames (22.05
    kHz, 2048-point STFT, hop 512, periodic Hann; ``(1025, frames)``), then :meth:`grid`. Only two mel
    spectrograms (128 full-band, 32 below 200 Hz, float32) are kept, about 1.6 MB per minute of music, and the
    onsets are computed from them block by block, so music analysis
    (:mod:`library.features`) gets exactly the grid :func:`track_beats` gives for the same samples.
    """

    def __init__(self) -> None:
        self._full: list[np.ndarray] = []
        self._low: list[np.ndarray] = []

    def feed(self, power: np.ndarray) -> None:
        """Add the power spectrogram (1 + n_fft // 2, frames) of the next frames."""
        self._full.append((_mel_filters(_ANALYSIS_SR, _N_FFT, 128, _ANALYSIS_SR / 2.0) @ power).astype(np.float32))
        self._low.append((_mel_filters(_ANALYSIS_SR, _N_FFT, 32, 200.0) @ power).astype(np.float32))

    def grid(self, *, beats_per_bar: int = 4, bpm: float | None = None) -> BeatGrid:
        """Tempo, beats and downbeats of everything fed (empty for silence or no pulse); ``bpm`` tracks the beats
        at a tempo estimated elsewhere (music analysis has a more accurate one) instead of the tempogram's."""
        n = sum(m.shape[1] for m in self._full)
        if n < 8:
            return BeatGrid(0.0, (), ())
        full = _flux_blocks(self._full, n)
        low = _flux_blocks(self._low, n)
        return _grid_from_onsets(full, low, beats_per_bar, bpm)


def _flux_blocks(mels: list[np.ndarray], n_frames: int) -> np.ndarray:
    """:func:`_flux` over mel blocks in order, one block's temporaries at a time (the same numbers: the 80 dB floor
    is taken below the peak of all blocks)."""
    top = 10.0 * np.log10(max(max(float(m.max()) for m in mels if m.size), 1e-10))
    parts: list[np.ndarray] = []
    prev: np.ndarray | None = None
    for m in mels:
        if not m.size:
            continue
        db = 10.0 * np.log10(np.maximum(m, 1e-10))
        np.maximum(db, top - 80.0, out=db)
        d = np.diff(db, axis=1) if prev is None else np.diff(np.concatenate([prev, db], axis=1), axis=1)
        parts.append(np.maximum(0.0, d).mean(axis=0))
        prev = db[:, -1:]
    flux = np.concatenate(parts) if parts else np.zeros(0)
    pad = 1 + _N_FFT // (2 * _HOP)
    return np.concatenate([np.zeros(pad), flux])[:n_frames]


def _grid_from_onsets(full: np.ndarray, low: np.ndarray, beats_per_bar: int, bpm: float | None = None) -> BeatGrid:
    onset = full / (full.std() + 1e-9) + low / (low.std() + 1e-9)
    if not np.any(onset):
        return BeatGrid(0.0, (), ())
    tempo = float(bpm) if bpm and bpm > 0 else _estimate_tempo(onset)
    if tempo <= 0:
        return BeatGrid(0.0, (), ())
    frames = _beat_dp(onset, tempo)
    if frames.size == 0:
        return BeatGrid(0.0, (), ())
    beats = frames * _HOP / _ANALYSIS_SR
    # Low-frequency onset strength at each beat decides the bar phase.
    strength = low[np.clip(frames, 0, low.size - 1)]
    phases = [strength[p::beats_per_bar].mean() if strength[p::beats_per_bar].size else -1.0
              for p in range(min(beats_per_bar, frames.size))]
    phase = int(np.argmax(phases))
    downbeats = beats[phase::beats_per_bar]
    return BeatGrid(float(tempo), tuple(float(b) for b in beats), tuple(float(b) for b in downbeats))
