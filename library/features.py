"""Music analysis: tempo, beats, downbeats, key, mode, loudness, vocal presence and the Spotify-scale features.

Everything is computed from the audio, in bounded memory: a file is decoded in 30 s blocks (mixer's ffmpeg
decoder, :func:`mixer.decode.iter_audio_blocks`; native rate up to 48 kHz, at most two channels) and each block is reduced at once to a few numbers per analysis frame (onset strength,
spectral shape, STFT chroma, RMS) plus 100 ms loudness sums; nothing of the signal itself is kept. The two slower
descriptors (CQT chroma for the key, the voice-activity model for vocal presence) run on at most
:data:`SLOW_EXCERPT_BLOCKS` blocks spread over the file.

Methods (all our own code over numpy/scipy/librosa; no copyleft analyzer):

- **Loudness** — ITU-R BS.1770-4 integrated loudness with mixer's meter (:mod:`mixer.loudness`: K-weighting
  from pyloudnorm's filter design, gated 400 ms blocks built from 100 ms hop powers), at the file's own rate on
  both channels.
- **Tempo** — after Percival & Tzanetakis (2014), *Streamlined tempo estimation based on autocorrelation and
  cross-correlation with pulses*: log-mel spectral flux → windowed autocorrelation (12 s windows) → "enhanced
  harmonics" ``A(l) + A(2l) + A(4l)`` → weighted by a log-normal tempo prior (centre 105 BPM, σ 0.7 octave) →
  the 8 best peaks are scored by cross-correlating the onset envelope with pulse trains (beat + off-beat) over all
  phases; the best candidate wins. The autocorrelation peak is interpolated, so the estimate is finer than one
  frame lag.
- **Beats and downbeats** — mixer's one beat grid (:class:`mixer.beats.OnsetEnvelope`: Ellis' dynamic-programming
  tracker on full-band plus bass onsets, bar phase from the bass) at the tempo above, fed the same centred STFT
  frames as the other descriptors. A file mixed with ``--music`` uses this grid when it is in the catalog; a
  file outside it gets :func:`mixer.beats.track_beats`, the same code at the tempogram's tempo (less often right
  about the octave: 19/28 built-in clips within 4 % against 28/28 for the estimate above).
- **Key and mode** — log-compressed CQT chroma (C2–C6, 36 bins/octave, tuning estimated) summed over the
  excerpt, correlated (Pearson) with the 24 rotations of a major and a minor key profile. Default profile:
  Krumhansl-Kessler (1982); Temperley, EDMA (Faraldo et al. 2016), Shaath and Bellman-Budge are available
  (``key_profile=``). ``benchmarks/bench_library_accuracy.py`` compares them; the default and the C2–C6 range
  were chosen on that benchmark (28 clips) and on generated chord progressions, so expect somewhat lower
  accuracy on other music.
- **Vocal presence** — share of 32 ms frames that the Silero voice-activity model (ONNX, the one
  :mod:`mixer.vad` uses for speech) marks as voice at p > 0.5; singing fires it as speech does. 0 for
  instrumentals.
- **Music tags** — the musicnn taggers (:mod:`library.musicnn`: MSD and MTT models, shipped weights, no
  TensorFlow) over the whole track in 3 s patches (every other patch beyond two minutes), streamed with the
  blocks: 50 + 50 tag probabilities and two 200-d embeddings, kept in the catalog.
- **Spotify-scale energy, danceability, acousticness, valence** — estimates, not Spotify's models. First from
  the descriptors (the ``descriptors`` field): each is built from audio descriptors and put on Spotify's scale
  with calibration tables fitted on the reference corpus ``spotify_songs.csv``
  (``library/training/fit_feature_calibration.py`` → ``library/data/feature_calibration.json``): energy is the
  corpus' mean energy at the measured loudness (isotonic fit) adjusted by brightness and onset density;
  danceability and acousticness are raw scores in [0, 1] read through the corpus' quantile function; valence
  is the corpus' linear model of valence from the other five features, rescaled to the corpus' spread, plus a
  small brightness term. Then each is blended with what the tags say (:mod:`library.tag_features`, one
  documented formula per feature).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.errors import DecodeError, InvalidAudioError

__all__ = [
    "ANALYSIS_SR",
    "KEY_NAMES",
    "KEY_PROFILES",
    "SLOW_EXCERPT_BLOCKS",
    "MusicFeatures",
    "analyse_audio",
    "analyse_file",
    "estimate_key",
    "estimate_tempo",
    "integrated_loudness",
]


#: Rate of the analysis copy (mono) in Hz.
ANALYSIS_SR = 22050
_N_FFT = 2048
_HOP = 512
_FPS = ANALYSIS_SR / _HOP
#: STFT frames reduced per step (≈ 6 s): bounds the spectrogram temporaries to a few MB.
_FRAMES_PER_STEP = 256
#: Decoding / analysis block length in seconds.
_BLOCK_S = 30.0
#: Slow descriptors (CQT chroma, voice activity) run on at most this many blocks (≈ 5 min) spread over a file.
SLOW_EXCERPT_BLOCKS = 10
#: Native rates above this are resampled to it while decoding (loudness is measured at the decoded rate).
_MAX_DECODE_SR = 48000

KEY_NAMES: tuple[str, ...] = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

#: Key profiles (major, minor), tonic first. Sources: Krumhansl & Kessler 1982; Temperley 1999 (Kostka-Payne);
#: Faraldo et al. 2016 "EDMA"; Shaath 2011; Bellman 2005 (Bellman-Budge).
KEY_PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "krumhansl": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
    "temperley": (
        (5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0),
        (5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0),
    ),
    "edma": (
        (0.16519551, 0.04749026, 0.08293076, 0.06687112, 0.09994645, 0.09274123, 0.05294487, 0.13159476,
         0.05218986, 0.07443653, 0.06940723, 0.06424152),
        (0.17235348, 0.04, 0.0761009, 0.12375933, 0.05587178, 0.079634, 0.0578329, 0.12035827, 0.05742452,
         0.05740052, 0.07018952, 0.06062632),
    ),
    "shaath": (
        (6.6, 2.0, 3.5, 2.3, 4.6, 4.0, 2.5, 5.2, 2.4, 3.7, 2.3, 3.4),
        (6.5, 2.7, 3.5, 5.4, 2.6, 3.5, 2.5, 5.2, 4.0, 2.7, 4.3, 3.2),
    ),
    "bellman": (
        (16.8, 0.86, 12.95, 1.41, 13.49, 11.93, 1.25, 20.28, 1.8, 8.04, 0.62, 10.57),
        (18.16, 0.69, 12.99, 13.34, 1.07, 11.15, 1.38, 21.07, 7.49, 1.53, 0.92, 10.21),
    ),
}
KeyProfile = Literal["krumhansl", "temperley", "edma", "shaath", "bellman"]
DEFAULT_KEY_PROFILE: KeyProfile = "krumhansl"

#: Shorter audio is not tagged (the taggers need at least one 3 s patch to say anything stable).
MIN_TAG_S = 3.0
#: Patch spacing of the taggers by track length: every patch up to 2 minutes, every other one beyond (the tags
#: are means over patches; half of a long track's patches estimate them as well at half the cost).
_TAG_ALL_PATCHES_S = 120.0

#: Below this integrated loudness a file counts as silent: energy, danceability and valence are 0.
_SILENT_LUFS = -60.0
#: Octaves of the key CQT, from C2 (65 Hz) up: C2–C6 covers bass lines and the harmony above them.
_CQT_OCTAVES = 4
_CALIBRATION_FILE = Path(__file__).parent / "data" / "feature_calibration.json"


@dataclass(frozen=True)
class MusicFeatures:
    """The analysis of one piece of music.

    tempo_bpm : float — beats per minute. beats_s, downbeats_s : tuple of float — times in seconds.
    key : str — tonic name from :data:`KEY_NAMES`; mode : int — 1 major, 0 minor; key_strength : Pearson r.
    energy, danceability, acousticness, valence : float in [0, 1] on Spotify's scales (heuristic estimates).
    loudness_lufs : float — integrated (BS.1770-4); -70.0 for silence. vocal : float in [0, 1].
    duration_s : float. pulse_clarity : float in [0, 1] — how periodic the onsets are (tempo confidence).
    """

    tempo_bpm: float
    beats_s: tuple[float, ...]
    downbeats_s: tuple[float, ...]
    key: str
    mode: int
    key_strength: float
    energy: float
    danceability: float
    acousticness: float
    valence: float
    loudness_lufs: float
    vocal: float
    duration_s: float
    pulse_clarity: float = 0.0
    #: The musicnn taggers' mean tag probabilities ``{"msd": {...}, "mtt": {...}}`` and their 200-d embeddings
    #: ``{"msd": [...], "mtt": [...]}`` (:mod:`library.musicnn`); empty for analyses made before the taggers.
    tags: dict[str, dict[str, float]] = field(default_factory=dict)
    embedding: dict[str, list[float]] = field(default_factory=dict)
    #: The descriptor-only estimates of energy, danceability, acousticness and valence (before the tags).
    descriptors: dict[str, float] = field(default_factory=dict)

    def spotify(self) -> dict[str, float]:
        """The six :data:`library.types.FEATURES` as a dict."""
        return {
            "danceability": self.danceability, "energy": self.energy, "mode": float(self.mode),
            "acousticness": self.acousticness, "valence": self.valence, "tempo": self.tempo_bpm,
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["beats_s"] = list(self.beats_s)
        d["downbeats_s"] = list(self.downbeats_s)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MusicFeatures:
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        d["beats_s"] = tuple(float(x) for x in d.get("beats_s", ()))
        d["downbeats_s"] = tuple(float(x) for x in d.get("downbeats_s", ()))
        return cls(**d)


# ----------------------------------------------------------------------------------------------- decoding


def _iter_blocks(path: Path, *, block_s: float = _BLOCK_S) -> Iterator[tuple[np.ndarray, int]]:
    """Decode the first audio stream block by block with mixer's decoder (:func:`mixer.decode.iter_audio_blocks`,
    the same ffmpeg path as a voice or a ``--music`` file): ``(audio (channels ≤ 2, n) float32, sr)`` at the
    file's own rate (at most :data:`_MAX_DECODE_SR`). Memory stays at one block whatever the file's length."""
    from mixer.decode import iter_audio_blocks, probe

    info = probe(path)
    if info.audio is None:
        raise DecodeError(f"{path.name} has no audio stream; give an audio file")
    sr = min(int(info.audio.sample_rate or 44100), _MAX_DECODE_SR)
    channels = 1 if info.audio.channels == 1 else 2
    for block in iter_audio_blocks(path, sr=sr, channels=channels, block_s=block_s, info=info):
        yield block, sr


def _probe_duration_s(path: Path) -> float:
    from mixer.decode import probe

    info = probe(path)
    return max(info.audio.duration_s if info.audio else 0.0, info.duration_s)


# ----------------------------------------------------------------------------------------------- calibration


@functools.lru_cache(maxsize=1)
def _calibration() -> dict[str, Any]:
    try:
        cal: dict[str, Any] = json.loads(_CALIBRATION_FILE.read_text())
        return cal
    except (OSError, ValueError) as exc:  # a broken install, not a user error
        raise RuntimeError(
            f"feature calibration missing or unreadable at {_CALIBRATION_FILE} ({exc}); "
            "run library/training/fit_feature_calibration.py"
        ) from None


def _quantile(feature: str, p: float) -> float:
    """The reference corpus' ``feature`` value at percentile ``p`` ∈ [0, 1] (piecewise-linear)."""
    q = _calibration()["quantiles"][feature]
    grid = np.linspace(0.0, 1.0, len(q))
    return float(np.interp(np.clip(p, 0.0, 1.0), grid, q))


# ----------------------------------------------------------------------------------------------- loudness


class _LoudnessMeter:
    """Streaming BS.1770-4 integrated loudness with mixer's meter (:mod:`mixer.loudness`: K-weighting from
    pyloudnorm's design, 100 ms hop powers, gated): the same numbers as a mix's loudness."""

    def __init__(self, sr: int, channels: int) -> None:
        self.sr = sr
        self.hop = max(1, int(round(0.1 * sr)))
        self.zi: np.ndarray | None = None
        self.tail = np.zeros((channels, 0), dtype=np.float32)
        self.powers: list[np.ndarray] = []

    def feed(self, audio: np.ndarray) -> None:
        from mixer.loudness import kweighted_hop_power

        x = np.concatenate([self.tail, audio], axis=1) if self.tail.shape[1] else audio
        n = (x.shape[1] // self.hop) * self.hop
        self.tail = np.array(x[:, n:], dtype=np.float32)
        if n:
            power, self.zi = kweighted_hop_power(np.ascontiguousarray(x[:, :n]), self.sr, self.hop, self.zi)
            self.powers.append(power)

    def integrated(self) -> float:
        from mixer.loudness import integrated_from_hop_power

        p = np.concatenate(self.powers) if self.powers else np.zeros(0)
        lufs = integrated_from_hop_power(p, self.hop / self.sr) if p.size else float("-inf")
        return float(max(-70.0, lufs)) if np.isfinite(lufs) else -70.0


def integrated_loudness(audio: np.ndarray, sr: int) -> float:
    """BS.1770-4 integrated loudness in LUFS of ``audio`` (channels, samples); -70.0 for silence."""
    _check(audio, sr)
    meter = _LoudnessMeter(sr, audio.shape[0])
    meter.feed(audio)
    return meter.integrated()


# ----------------------------------------------------------------------------------------------- framewise


@functools.lru_cache(maxsize=1)
def _filterbanks() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import librosa

    mel = librosa.filters.mel(sr=ANALYSIS_SR, n_fft=_N_FFT, n_mels=64).astype(np.float32)
    chroma = librosa.filters.chroma(sr=ANALYSIS_SR, n_fft=_N_FFT, tuning=0.0).astype(np.float32)
    freqs = np.fft.rfftfreq(_N_FFT, 1.0 / ANALYSIS_SR).astype(np.float32)
    chroma[:, (freqs < 55) | (freqs > 2000)] = 0.0
    return mel, chroma, freqs


class _Frames:
    """Streaming STFT reducer: keeps a few numbers per 512-sample frame of the 22.05 kHz mono copy."""

    def __init__(self) -> None:
        from mixer.beats import OnsetEnvelope

        # centred frames, as mixer's beat grid (and librosa) frame a signal: frame i is centred on sample i·hop
        self.buf = np.zeros(_N_FFT // 2, dtype=np.float32)
        self.onsets = OnsetEnvelope()
        self.prev_logmel: np.ndarray | None = None
        self.top_db = -np.inf
        self.window = np.hanning(_N_FFT + 1)[:-1].astype(np.float32)
        self.cols: dict[str, list[np.ndarray]] = {k: [] for k in (
            "flux", "bassflux", "rms", "centroid", "flatness", "hf", "sub", "chroma")}

    def feed(self, mono: np.ndarray) -> None:
        buf = np.concatenate([self.buf, mono]) if len(self.buf) else mono
        n = (len(buf) - _N_FFT) // _HOP + 1 if len(buf) >= _N_FFT else 0
        if n <= 0:
            self.buf = buf
            return
        from numpy.lib.stride_tricks import sliding_window_view

        frames = sliding_window_view(buf[: (n - 1) * _HOP + _N_FFT], _N_FFT)[::_HOP]
        for i in range(0, n, _FRAMES_PER_STEP):  # a few hundred frames at a time: small STFT temporaries
            self._reduce(frames[i:i + _FRAMES_PER_STEP])
        self.buf = buf[n * _HOP:]

    def flush(self) -> None:
        """The end padding (half a frame of zeros) that centred framing adds after the last sample."""
        self.feed(np.zeros(_N_FFT // 2, dtype=np.float32))

    def _reduce(self, frames: np.ndarray) -> None:
        power = np.abs(np.fft.rfft(frames * self.window, axis=1)).astype(np.float32) ** 2  # (n, bins)
        self.onsets.feed(power.T)
        mel_fb, chroma_fb, freqs = _filterbanks()
        logmel = 10 * np.log10(1e-10 + power @ mel_fb.T)  # (n, 64)
        # 80 dB dynamic range below the loudest band seen so far (as librosa's power_to_db top_db), so the flux
        # does not follow noise in near-silent bands
        self.top_db = max(self.top_db, float(logmel.max()))
        logmel = np.maximum(logmel, self.top_db - 80.0)
        prev = self.prev_logmel if self.prev_logmel is not None else logmel[:1]
        diff = np.diff(np.vstack([prev, logmel]), axis=0)
        pos = np.maximum(diff, 0.0)
        self.cols["flux"].append(pos.mean(axis=1))
        self.cols["bassflux"].append(pos[:, :8].mean(axis=1))  # mel bands below ≈ 250 Hz
        self.prev_logmel = logmel[-1:]
        total = power.sum(axis=1) + 1e-12
        self.cols["rms"].append(np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)).astype(np.float32))
        self.cols["centroid"].append((power @ freqs) / total)
        logp = np.log(power[:, 1:] + 1e-12)
        self.cols["flatness"].append(np.exp(logp.mean(axis=1)) / (power[:, 1:].mean(axis=1) + 1e-12))
        self.cols["hf"].append(power[:, freqs >= 4000].sum(axis=1) / total)
        self.cols["sub"].append(power[:, (freqs >= 20) & (freqs < 60)].sum(axis=1) / total)
        self.cols["chroma"].append(np.sqrt(power) @ chroma_fb.T)

    def result(self) -> dict[str, np.ndarray]:
        out = {}
        for k, v in self.cols.items():
            if v:
                out[k] = np.concatenate(v, axis=0)
            else:
                out[k] = np.zeros((0, 12) if k == "chroma" else 0, dtype=np.float32)
        return out


def _tuning(mono: np.ndarray) -> float:
    """Deviation from A440 in fractions of a bin (librosa.estimate_tuning) from the first 10 s of a block."""
    import librosa

    return float(librosa.estimate_tuning(y=mono[: 10 * ANALYSIS_SR], sr=ANALYSIS_SR, n_fft=4096))


def _cqt_chroma(mono: np.ndarray, tuning: float | None = None) -> np.ndarray:
    """Summed log-compressed CQT chroma (12,) of a 22.05 kHz block (C2–C6, 36 bins per octave, tuned)."""
    import librosa

    if len(mono) < 5 * ANALYSIS_SR:  # under 5 s (a file's last scraps): too short for the lowest CQT bins
        return np.zeros(12)
    if float(np.sqrt(np.mean(mono.astype(np.float64) ** 2))) < 1e-5:  # digital silence: no pitch to find
        return np.zeros(12)
    if tuning is None:
        tuning = _tuning(mono)
    c = np.abs(librosa.cqt(mono, sr=ANALYSIS_SR, hop_length=2048, fmin=librosa.note_to_hz("C2"),
                           n_bins=_CQT_OCTAVES * 36, bins_per_octave=36, tuning=tuning))
    ch = librosa.feature.chroma_cqt(C=np.log1p(100 * c), sr=ANALYSIS_SR, bins_per_octave=36, n_chroma=12,
                                    norm=None)
    return np.asarray(ch.sum(axis=1), dtype=np.float64)


def _voice_probabilities(mono_22k: np.ndarray) -> np.ndarray:
    """Speech probability per 32 ms frame of a 22.05 kHz mono block, from the same Silero ONNX model (run with
    onnxruntime) that finds the speech in a voice (:func:`mixer.vad.speech_probabilities`); empty when no model
    loads."""
    from mixer.vad import speech_probabilities

    res = speech_probabilities(np.ascontiguousarray(mono_22k, dtype=np.float32)[None, :], ANALYSIS_SR)
    return np.zeros(0, dtype=np.float32) if res is None else np.asarray(res[0], dtype=np.float32)


# ----------------------------------------------------------------------------------------------- tempo / key


def _onset_acf(onset: np.ndarray, *, fps: float = _FPS, win_s: float = 12.0) -> np.ndarray:
    """Mean normalised (generalised) autocorrelation of the detrended onset envelope over 12 s windows."""
    from scipy.ndimage import uniform_filter1d

    win = int(round(win_s * fps))
    o = np.asarray(onset, dtype=np.float64)
    # remove the slow trend (1 s moving average), keep the positive part: peaks that stand out locally
    o = np.maximum(o - uniform_filter1d(o, size=max(1, int(round(fps)))), 0.0)
    if len(o) < win:
        o = np.pad(o, (0, win - len(o)))
    acc = np.zeros(win)
    count = 0
    for start in range(0, len(o) - win + 1, win // 2):
        seg = o[start:start + win] - o[start:start + win].mean()
        spec = np.fft.rfft(seg, 2 * win)
        # generalised autocorrelation (Percival & Tzanetakis): magnitude compressed to |X|^1 instead of |X|^2
        a = np.fft.irfft(np.abs(spec), 2 * win)[:win]
        if a[0] > 1e-12:
            acc += a / a[0]
            count += 1
    return acc / max(count, 1)


def estimate_tempo(onset: np.ndarray, *, fps: float = _FPS, prior_bpm: float = 105.0,
                   prior_octaves: float = 0.7) -> tuple[float, float]:
    """Global tempo of an onset-strength envelope.

    Parameters
    ----------
    onset : np.ndarray [shape=(frames,)]
        Onset strength per frame.
    fps : float
        Frames per second of ``onset``.
    prior_bpm, prior_octaves : float
        Log-normal tempo prior: centre and standard deviation in octaves.

    Returns
    -------
    tempo_bpm : float
    clarity : float
        Normalised autocorrelation at the chosen beat period, in [0, 1] (how periodic the onsets are).
    """
    from scipy.signal import find_peaks

    if len(onset) < int(4 * fps) or not np.any(onset > 0):
        return 0.0, 0.0
    acf = _onset_acf(onset, fps=fps)
    bpms = np.arange(40.0, 220.0, 0.25)
    lags = 60.0 * fps / bpms
    idx = np.arange(len(acf))
    # "enhanced harmonics": a beat period also shows at 2 and 4 periods; evaluated at the exact fractional lags
    score = sum(np.interp(m * lags, idx, acf, right=0.0) for m in (1, 2, 4))
    prior = np.exp(-0.5 * (np.log2(bpms / prior_bpm) / prior_octaves) ** 2)
    weighted = np.maximum(score, 0.0) * prior
    peaks, _ = find_peaks(weighted)
    if not len(peaks):
        return 0.0, 0.0
    peaks = peaks[np.argsort(weighted[peaks])[::-1][:8]]
    o = np.asarray(onset, dtype=np.float64)
    best_score, best_bpm = -np.inf, float(bpms[peaks[0]])
    for p in peaks:
        period = lags[p]
        phases = np.arange(0.0, period, 0.5)
        # pulse train: beats (weight 1) and off-beats (weight 0.5), every phase at once
        beats = phases[:, None] + np.arange(0.0, len(o) - 1 - period / 2, period)[None, :]
        on = o[np.clip(np.round(beats).astype(int), 0, len(o) - 1)].mean(axis=1)
        off = o[np.clip(np.round(beats + period / 2).astype(int), 0, len(o) - 1)].mean(axis=1)
        vals = on + 0.5 * off
        s = (vals.max() + vals.std()) * prior[p]
        if s > best_score:
            best_score, best_bpm = s, float(bpms[p])
    # refine on the raw autocorrelation: parabolic peak near the chosen lag
    lag = 60.0 * fps / best_bpm
    i = int(round(lag))
    if 1 <= i < len(acf) - 1:
        y0, y1, y2 = acf[i - 1], acf[i], acf[i + 1]
        denom = y0 - 2 * y1 + y2
        if denom < 0:
            shift = 0.5 * (y0 - y2) / denom
            if abs(shift) <= 1.0 and abs((i + shift) - lag) <= 1.0:
                lag = i + shift
    clarity = float(np.clip(np.interp(lag, idx, acf), 0.0, 1.0))
    return float(60.0 * fps / lag), clarity


def estimate_key(chroma: np.ndarray, *, profile: KeyProfile = DEFAULT_KEY_PROFILE) -> tuple[str, int, float]:
    """Key and mode from a summed chroma vector.

    Parameters
    ----------
    chroma : np.ndarray [shape=(12,)]
        Chroma energy, index 0 = C.
    profile : {"edma", "krumhansl", "temperley", "shaath", "bellman"}

    Returns
    -------
    key : str — tonic from :data:`KEY_NAMES`. mode : int — 1 major, 0 minor. strength : float — Pearson r.
    """
    if profile not in KEY_PROFILES:
        raise ValueError(f"key profile must be one of {sorted(KEY_PROFILES)}, got {profile!r}")
    c = np.asarray(chroma, dtype=np.float64)
    if c.shape != (12,) or not np.any(c > 0) or np.ptp(c) == 0:
        return "C", 1, 0.0
    c = (c - c.mean()) / (c.std() + 1e-12)
    best = (-2.0, 0, 1)
    for mode, prof in ((1, KEY_PROFILES[profile][0]), (0, KEY_PROFILES[profile][1])):
        p = np.asarray(prof)
        p = (p - p.mean()) / p.std()
        for k in range(12):
            r = float(np.mean(c * np.roll(p, k)))
            if r > best[0]:
                best = (r, k, mode)
    return KEY_NAMES[best[1]], best[2], best[0]


# ----------------------------------------------------------------------------------------------- analyser


class _Analyser:
    def __init__(self, sr: int, channels: int, slow_blocks: set[int] | None, tag_hop_s: float | None = None
                 ) -> None:
        self.sr = sr
        self.loud = _LoudnessMeter(sr, channels)
        self.frames = _Frames()
        self.chroma = np.zeros(12)
        self.voice: list[np.ndarray] = []
        self.samples = 0
        self.block = 0
        self.slow_blocks = slow_blocks
        self.tuning: float | None = None
        self.tagger = _tag_stream(tag_hop_s)

    def feed(self, audio: np.ndarray) -> None:
        import soxr

        self.loud.feed(audio)
        self.samples += audio.shape[1]
        mono = audio[0] if audio.shape[0] == 1 else audio.mean(axis=0, dtype=np.float32)
        if self.sr != ANALYSIS_SR:
            mono = np.asarray(soxr.resample(np.ascontiguousarray(mono), self.sr, ANALYSIS_SR), dtype=np.float32)
        self.frames.feed(np.ascontiguousarray(mono, dtype=np.float32))
        if self.tagger is not None:
            self.tagger.feed(np.ascontiguousarray(mono, dtype=np.float32))
        if self.slow_blocks is None or self.block in self.slow_blocks:
            if self.tuning is None and len(mono) >= 5 * ANALYSIS_SR and np.any(mono):
                self.tuning = _tuning(mono)  # once per file, from its first non-silent slow block
            self.chroma += _cqt_chroma(mono, self.tuning)
            self.voice.append(_voice_probabilities(mono))
        self.block += 1

    def finish(self, *, key_profile: KeyProfile) -> MusicFeatures:
        duration_s = self.samples / self.sr
        loud = self.loud.integrated()
        self.frames.flush()
        fr = self.frames.result()
        onset = fr["flux"]
        tempo, clarity = estimate_tempo(onset)
        # beats and bars: mixer's one beat grid (:mod:`mixer.beats`), the grid a ``--music`` file gets too
        grid = self.frames.onsets.grid(bpm=tempo if tempo > 0 else None)
        beats = np.round(np.asarray(grid.beats_s) * ANALYSIS_SR / _HOP).astype(int)
        key, mode, strength = estimate_key(self.chroma, profile=key_profile)
        voice = np.concatenate(self.voice) if self.voice else np.zeros(0)
        vocal = float(np.mean(voice > 0.5)) if len(voice) else 0.0
        descriptors = _spotify_scale(loud, fr, tempo, clarity, beats, mode)
        spot = dict(descriptors)
        tags: dict[str, dict[str, float]] = {}
        embedding: dict[str, list[float]] = {}
        if self.tagger is not None and self.samples >= MIN_TAG_S * self.sr and loud > _SILENT_LUFS:
            from library.tag_features import derive_features, vocal_presence

            res = self.tagger.finish()
            tags = {r.model: {k: round(float(v), 5) for k, v in r.tags.items()} for r in (res.msd, res.mtt)}
            embedding = {r.model: [round(float(x), 5) for x in r.embedding] for r in (res.msd, res.mtt)}
            spot.update(derive_features(tags, descriptors))
            vocal = vocal_presence(tags, vocal)
        return MusicFeatures(
            tempo_bpm=round(tempo, 2),
            beats_s=tuple(round(float(b), 3) for b in grid.beats_s),
            downbeats_s=tuple(round(float(b), 3) for b in grid.downbeats_s),
            key=key, mode=mode, key_strength=round(strength, 4),
            loudness_lufs=round(loud, 2), vocal=round(vocal, 4), duration_s=round(duration_s, 3),
            pulse_clarity=round(clarity, 4), tags=tags, embedding=embedding,
            descriptors={k: round(float(v), 4) for k, v in descriptors.items()}, **spot,
        )


def _corpus_valence(feats: dict[str, float], mode: int, tempo: float, loud: float, centroid: float) -> float:
    """Valence: the reference corpus' linear model from the other features, stretched to the corpus' spread, plus
    a small brightness term (a brighter timbre reads as happier)."""
    vm = _calibration()["valence_model"]
    x = {"danceability": feats["danceability"], "energy": feats["energy"], "mode": float(mode),
         "acousticness": feats["acousticness"], "tempo": tempo, "loudness": loud}
    pred = vm["intercept"] + sum(vm["coef"][k] * x[k] for k in vm["coef"])
    v = vm["mean"] + (pred - vm["pred_mean"]) * vm["std"] / vm["pred_std"]
    v += 0.1 * (float(np.clip((centroid - 800.0) / (3500.0 - 800.0), 0.0, 1.0)) - 0.5)
    return float(np.clip(v, 0.0, 1.0))


def _spotify_scale(loud: float, fr: dict[str, np.ndarray], tempo: float, clarity: float, beats: np.ndarray,
                   mode: int) -> dict[str, float]:
    """Energy, danceability, acousticness, valence on Spotify's scales (documented heuristics)."""
    cal = _calibration()
    rms = fr["rms"]
    active = rms > 10 ** (-50 / 20)  # frames above -50 dBFS: ignore digital silence in the descriptors
    if loud <= _SILENT_LUFS or not np.any(active):
        return {"energy": 0.0, "danceability": 0.0, "acousticness": _quantile("acousticness", 0.5), "valence": 0.0}
    w = rms[active] ** 2
    w = w / w.sum()
    hf = float(np.sum(fr["hf"][active] * w))
    sub = float(np.sum(fr["sub"][active] * w))
    flat_db = float(10 * np.log10(np.sum(fr["flatness"][active] * w) + 1e-12))
    centroid = float(np.sum(fr["centroid"][active] * w))
    rms_db = 20 * np.log10(rms[active] + 1e-9)
    dyn_db = float(np.percentile(rms_db, 95) - np.percentile(rms_db, 10))
    flux = fr["flux"][active] if len(fr["flux"]) == len(rms) else fr["flux"]
    onset_rate = float(np.mean(flux > (np.median(flux) + 2 * np.std(flux)))) * _FPS if len(flux) else 0.0

    def unit(x: float, lo: float, hi: float) -> float:
        return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))

    # energy: corpus mean energy at this loudness, nudged by brightness (≥4 kHz share) and onset density
    grid = cal["energy_by_loudness"]
    e_loud = float(np.interp(loud, grid["loudness"], grid["energy"]))
    bright = unit(math.log10(hf + 1e-6), math.log10(0.005), math.log10(0.15))
    busy = unit(onset_rate, 0.5, 4.0)
    energy = float(np.clip(e_loud + 0.25 * (bright - 0.5) + 0.15 * (busy - 0.5), 0.0, 1.0))

    # danceability: pulse clarity, beat regularity, tempo near 120 BPM → percentile → corpus quantile
    if len(beats) > 3:
        ibi = np.diff(beats)
        regular = 1.0 - unit(float(np.std(ibi) / (np.mean(ibi) + 1e-9)), 0.02, 0.25)
    else:
        regular = 0.0
    tempo_pref = float(math.exp(-0.5 * (math.log2(max(tempo, 1.0) / 120.0) / 0.5) ** 2)) if tempo > 0 else 0.0
    raw_dance = 0.5 * unit(clarity, 0.0, 0.35) + 0.2 * regular + 0.3 * tempo_pref
    danceability = _quantile("danceability", raw_dance)

    # acousticness: tonal (not noisy) spectrum, little sub-bass, wide dynamics, soft → corpus quantile
    tonal = 1.0 - unit(flat_db, -35.0, -10.0)
    no_sub = 1.0 - unit(sub, 0.01, 0.2)
    dynamic = unit(dyn_db, 6.0, 25.0)
    soft = 1.0 - unit(loud, -24.0, -8.0)
    dull = 1.0 - bright
    raw_ac = 0.3 * tonal + 0.2 * no_sub + 0.2 * dynamic + 0.15 * soft + 0.15 * dull
    acousticness = _quantile("acousticness", raw_ac)

    valence = _corpus_valence({"danceability": danceability, "energy": energy, "acousticness": acousticness},
                              mode, tempo, loud, centroid)
    return {"energy": round(energy, 4), "danceability": round(danceability, 4),
            "acousticness": round(acousticness, 4), "valence": round(valence, 4)}


def _tag_stream(hop_s: float | None) -> Any:
    """A musicnn tag stream at the analysis rate (None when the shipped weights cannot load: then the descriptor
    estimates stand alone and the analysis says so by its empty ``tags``)."""
    from core.errors import ModelLoadError
    from library.musicnn import TagStream

    try:
        return TagStream(ANALYSIS_SR, hop_s=hop_s)
    except (ModelLoadError, OSError) as exc:
        import logging

        logging.getLogger(__name__).warning("music tags unavailable (%s); using the descriptors alone", exc)
        return None


def _tag_hop_s(duration_s: float) -> float | None:
    from library.musicnn import PATCH_S

    return None if duration_s <= _TAG_ALL_PATCHES_S else 2 * PATCH_S


def _check(audio: np.ndarray, sr: int) -> None:
    if not isinstance(audio, np.ndarray) or audio.dtype != np.float32 or audio.ndim != 2:
        got = f"{type(audio).__name__} {getattr(audio, 'dtype', '')} shape {getattr(audio, 'shape', '')}"
        raise InvalidAudioError(f"expected float32 audio of shape (channels, samples), got {got}; convert first")
    if sr <= 0:
        raise InvalidAudioError(f"sample rate must be positive, got {sr}")
    if audio.shape[1] == 0 or audio.shape[0] == 0:
        raise InvalidAudioError("audio is empty (0 samples); give at least a few seconds of music")
    if not np.all(np.isfinite(audio)):
        raise InvalidAudioError("audio contains NaN or infinite samples; clean or re-decode it")


def analyse_audio(audio: np.ndarray, sr: int, *, key_profile: KeyProfile = DEFAULT_KEY_PROFILE) -> MusicFeatures:
    """Analyse music held in memory.

    Parameters
    ----------
    audio : np.ndarray [shape=(channels, samples), dtype=float32]
        One or two channels (more are averaged to mono for everything but loudness).
    sr : int
        Sample rate in Hz.
    key_profile : str
        Key profile name, see :data:`KEY_PROFILES`.

    Returns
    -------
    MusicFeatures

    Raises
    ------
    InvalidAudioError
        Not float32 (channels, samples), empty, non-finite, or sr ≤ 0.
    """
    _check(audio, sr)
    audio = audio[:2] if audio.shape[0] > 2 else audio
    block = int(_BLOCK_S * sr)
    nblocks = max(1, math.ceil(audio.shape[1] / block))
    with _single_thread():
        an = _Analyser(sr, audio.shape[0], _slow_blocks(nblocks), _tag_hop_s(audio.shape[1] / sr))
        for i in range(nblocks):
            an.feed(audio[:, i * block:(i + 1) * block])
        return an.finish(key_profile=key_profile)


def _single_thread() -> Any:
    """BLAS/OpenMP pools limited to one thread while analysing: the small matrix products here gain nothing from
    threads, and idle pool threads spin (25 % more CPU time measured); parallelism is one process per file."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _slow_blocks(nblocks: int) -> set[int] | None:
    if nblocks <= SLOW_EXCERPT_BLOCKS:
        return None
    return {int(round(i)) for i in np.linspace(0, nblocks - 1, SLOW_EXCERPT_BLOCKS)}


def analyse_file(path: str | Path, *, key_profile: KeyProfile = DEFAULT_KEY_PROFILE) -> MusicFeatures:
    """Decode and analyse one music file in bounded memory (one 30 s block at a time).

    Parameters
    ----------
    path : str or Path
        Any audio file PyAV/ffmpeg reads (wav, flac, mp3, m4a, ogg, opus, aiff, ...).
    key_profile : str
        Key profile name, see :data:`KEY_PROFILES`.

    Returns
    -------
    MusicFeatures

    Raises
    ------
    DecodeError
        Missing, unreadable or non-audio file, or no samples.
    """
    p = Path(path)
    if not p.is_file():
        raise DecodeError(f"music file not found: {p}")
    est_s = _probe_duration_s(p)
    est_blocks = max(1, math.ceil(est_s / _BLOCK_S))
    an: _Analyser | None = None
    with _single_thread():
        for audio, sr in _iter_blocks(p):
            if an is None:
                an = _Analyser(sr, audio.shape[0], _slow_blocks(est_blocks), _tag_hop_s(est_s))
            if not np.all(np.isfinite(audio)):
                audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
            an.feed(audio)
        if an is None or an.samples == 0:
            raise DecodeError(f"{p.name} has an audio stream but no samples (zero-length audio)")
        return an.finish(key_profile=key_profile)
