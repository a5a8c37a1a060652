"""Voice sound → emotion: level-invariant acoustic features and the shipped EmoDB-trained classifier.

The default voice model is a multinomial logistic regression over 82 utterance-level acoustic statistics,
trained on EmoDB (Burkhardt et al. 2005) by :mod:`models.training.train_voice_emotion` and shipped as plain
numpy arrays in ``models/data/voice_emotion.npz`` (no pickle).

Level invariance
----------------
Every feature is computed after dividing the utterance by the RMS of its *active* frames (frames within 40 dB
of the loudest one), so a gain change, a quieter microphone or a hotter preamp gives the same features up to
float rounding. What is left is spectral shape (MFCC 1-19, band-energy ratios, centroid, flatness, roll-off),
relative dynamics (energy spread around the utterance median) and prosody (pitch in semitones, its spread and
slope, voicing, a syllable-rate proxy). None of them depends on the absolute level.

Label map (EmoDB's seven classes → the seed's six + valence/arousal)
--------------------------------------------------------------------
The classifier predicts EmoDB's own seven classes; :data:`EMODB_TO_LABELS` and :data:`EMODB_VA` turn those
probabilities into the six labels and a circumplex point:

=========  ===========================================  =====================
EmoDB      six labels                                   (valence, arousal)
=========  ===========================================  =====================
anger      anger                                        (-0.65, +0.75)
happiness  joy                                          (+0.80, +0.45)
sadness    sadness                                      (-0.70, -0.45)
fear       fear                                         (-0.70, +0.60)
disgust    anger 0.6, sadness 0.2, fear 0.2             (-0.60, +0.35)
boredom    by circumplex proximity (mostly sadness)     (-0.35, -0.60)
neutral    by circumplex proximity (spread)             ( 0.00, -0.10)
=========  ===========================================  =====================

Neutral and boredom have no counterpart among the six: they act through valence/arousal only, their label mass
is spread by :func:`models.mapping.labels_from_va`, and neutral lowers the confidence (a neutral-sounding voice
says little about the emotion, so the fusion leans on the words). EmoDB has no surprise or love: the voice model
never singles them out; the words supply them (see :mod:`models.fusion`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import ModelLoadError
from models.mapping import LABEL_VA, labels_from_va, normalise_labels
from models.types import LABELS, EmotionEstimate, neutral_estimate
from models.voice_input import SR, VoiceEmotionModel, as_mono16k, speech_windows

__all__ = [
    "DEFAULT_WEIGHTS",
    "EMODB_CLASSES",
    "EMODB_TO_LABELS",
    "EMODB_VA",
    "FEATURE_NAMES",
    "MIN_ACTIVE_S",
    "ShippedVoiceModel",
    "estimate_from_class_probs",
    "load_voice_model",
    "voice_features",
]

MIN_ACTIVE_S = 0.3  # less active speech than this → no judgement (flagged neutral)
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "data" / "voice_emotion.npz"

EMODB_CLASSES: tuple[str, ...] = ("anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness")

EMODB_VA: dict[str, tuple[float, float]] = {
    "anger": LABEL_VA["anger"],
    "happiness": LABEL_VA["joy"],
    "sadness": LABEL_VA["sadness"],
    "fear": LABEL_VA["fear"],
    "disgust": (-0.60, 0.35),
    "boredom": (-0.35, -0.60),
    "neutral": (0.00, -0.10),
}

EMODB_TO_LABELS: dict[str, dict[str, float]] = {
    "anger": {"anger": 1.0},
    "happiness": {"joy": 1.0},
    "sadness": {"sadness": 1.0},
    "fear": {"fear": 1.0},
    "disgust": {"anger": 0.6, "sadness": 0.2, "fear": 0.2},
    "boredom": labels_from_va(*EMODB_VA["boredom"]),
    "neutral": labels_from_va(*EMODB_VA["neutral"]),
}

# ---------------------------------------------------------------------------------------------------------
# features

_N_FFT = 512
_WIN = 400  # 25 ms
_HOP = 160  # 10 ms
_N_MELS = 40
_N_MFCC = 20  # coefficients 1..19 are kept; c0 is the level
_ACTIVE_DB = 40.0  # frames within this of the loudest frame count as active
_BANDS_HZ = (0.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
_F0_MIN_HZ, _F0_MAX_HZ = 60.0, 400.0
_PITCH_WIN = 320  # 40 ms at 8 kHz
_PITCH_FFT = 512  # ≥ _PITCH_WIN + 8000 / _F0_MIN_HZ: no circular wrap in the lags searched
_VOICING = 0.45  # normalised autocorrelation peak above this → voiced


def _names() -> tuple[str, ...]:
    n = [f"mfcc{i}_mean" for i in range(1, _N_MFCC)] + [f"mfcc{i}_std" for i in range(1, _N_MFCC)]
    n += [f"dmfcc{i}_std" for i in range(1, _N_MFCC)]
    n += [f"band{int(a)}_{int(b)}_ratio_db" for a, b in zip(_BANDS_HZ[:-1], _BANDS_HZ[1:])]
    n += ["energy_std_db", "energy_range_db", "denergy_std_db", "denergy_absmean_db"]
    n += ["centroid_logmean", "centroid_logstd", "flatness_logmean", "flatness_logstd",
          "rolloff_logmean", "rolloff_logstd", "zcr_mean", "zcr_std"]
    n += ["f0_median_st", "f0_std_st", "f0_range_st", "df0_std_st", "voiced_fraction", "voicing_mean"]
    n += ["voiced_onsets_per_s", "active_fraction"]
    return tuple(n)


FEATURE_NAMES: tuple[str, ...] = _names()


@functools.lru_cache(maxsize=4)
def _mel_and_dct(sr: int) -> tuple[np.ndarray, np.ndarray]:
    import librosa

    mel = librosa.filters.mel(sr=sr, n_fft=_N_FFT, n_mels=_N_MELS, fmin=0.0, fmax=sr / 2).astype(np.float32)
    k = np.arange(_N_MELS)
    dct = np.cos(np.pi / _N_MELS * (k[None, :] + 0.5) * np.arange(_N_MFCC)[:, None]) * np.sqrt(2.0 / _N_MELS)
    return mel, dct.astype(np.float32)


def _frames(x: np.ndarray, length: int, hop: int) -> np.ndarray:
    if x.size < length:
        x = np.pad(x, (0, length - x.size))
    n = 1 + (x.size - length) // hop
    return np.lib.stride_tricks.sliding_window_view(x, length)[::hop][:n]


@functools.lru_cache(maxsize=1)
def _pitch_taper() -> tuple[np.ndarray, np.ndarray]:
    """The 40 ms Hann window at 8 kHz and its own normalised autocorrelation (to unbias the taper)."""
    window = np.hanning(_PITCH_WIN)
    win_ac = np.fft.irfft(np.abs(np.fft.rfft(window, n=_PITCH_FFT)) ** 2)
    return window.astype(np.float32), np.maximum(win_ac / win_ac[0], 1e-3).astype(np.float32)


def _pitch(x: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame f0 (Hz, 0 when unvoiced) and voicing strength from the normalised autocorrelation at 8 kHz."""
    import scipy.fft

    y = x[::2] - x[::2].mean()  # 8 kHz is plenty for 60-400 Hz; the 16 kHz input is low-passed by the VAD/ASR path
    frames = _frames(y, _PITCH_WIN, _HOP // 2)[: active.size]  # 40 ms windows, 10 ms hop (same frame grid)
    frames = frames - frames.mean(axis=1, keepdims=True)
    window, win_ac = _pitch_taper()
    # float32 FFTs of _PITCH_FFT points: the linear autocorrelation is exact up to lag _PITCH_FFT - _PITCH_WIN,
    # beyond the longest period searched (8000 / _F0_MIN_HZ samples)
    spec = scipy.fft.rfft(frames.astype(np.float32) * window, n=_PITCH_FFT, axis=1)
    ac = scipy.fft.irfft(spec.real ** 2 + spec.imag ** 2, n=_PITCH_FFT, axis=1)
    ac = ac / np.maximum(ac[:, :1], 1e-12) / win_ac
    lo, hi = int(8000 / _F0_MAX_HZ), int(8000 / _F0_MIN_HZ)
    seg = ac[:, lo:hi]
    k = np.argmax(seg, axis=1)
    peak = seg[np.arange(seg.shape[0]), k]
    # parabolic interpolation around the peak for sub-sample lag
    km = np.clip(k, 1, seg.shape[1] - 2)
    a, b, c = seg[np.arange(seg.shape[0]), km - 1], seg[np.arange(seg.shape[0]), km], seg[np.arange(seg.shape[0]), km + 1]
    den = a - 2 * b + c
    shift = np.where(np.abs(den) > 1e-9, 0.5 * (a - c) / np.where(np.abs(den) > 1e-9, den, 1.0), 0.0)
    lag = lo + km + np.clip(shift, -0.5, 0.5)
    n = min(active.size, peak.size)
    voiced = np.zeros(active.size, dtype=bool)
    voiced[:n] = (peak[:n] > _VOICING) & active[:n]
    f0 = np.zeros(active.size, dtype=np.float32)
    f0[:n] = np.where(voiced[:n], 8000.0 / lag[:n], 0.0)
    strength = np.zeros(active.size, dtype=np.float32)
    strength[:n] = np.clip(peak[:n], 0, 1)
    return f0, strength


def voice_features(audio: np.ndarray, sr: int) -> np.ndarray | None:
    """Level-invariant utterance statistics of one stretch of speech.

    Parameters
    ----------
    audio : np.ndarray [shape=(channels, samples) or (samples,)]
        Float speech; channels are averaged; resampled to 16 kHz when ``sr`` differs.
    sr : int
        Sample rate of ``audio`` in Hz.

    Returns
    -------
    np.ndarray [shape=(len(FEATURE_NAMES),)] or None
        The features (float32), or None when the audio holds less than :data:`MIN_ACTIVE_S` of active sound.

    Raises
    ------
    InvalidAudioError
        Wrong shape, non-finite samples or a non-positive ``sr``.
    """
    x = as_mono16k(audio, sr)
    if x.size < _N_FFT:
        return None
    frames = _frames(x, _WIN, _HOP)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    peak = rms.max()
    if peak <= 1e-7:  # digital silence (below -140 dBFS)
        return None
    active = rms > peak * 10 ** (-_ACTIVE_DB / 20)
    if active.sum() * _HOP / SR < MIN_ACTIVE_S:
        return None
    # level normalisation: divide by the RMS of the active frames → every feature below is gain-invariant
    gain = 1.0 / np.sqrt(np.mean(rms[active] ** 2))
    x = x * np.float32(gain)
    frames = frames * np.float32(gain)

    mel, dct = _mel_and_dct(SR)
    import scipy.fft

    window = np.hanning(_WIN).astype(np.float32)
    spec_c = scipy.fft.rfft(frames[active] * window, n=_N_FFT, axis=1)  # float32 in, complex64 out
    spec_a = spec_c.real ** 2 + spec_c.imag ** 2  # (active frames, 257)
    eps = 1e-10
    logmel = np.log10(spec_a @ mel.T + eps) * 10.0  # dB
    mfcc = logmel @ dct.T  # (frames, 20)
    m = mfcc[:, 1:]
    dm = np.diff(m, axis=0) if m.shape[0] > 1 else np.zeros((1, m.shape[1]), np.float32)

    freqs = np.fft.rfftfreq(_N_FFT, 1.0 / SR)
    total = spec_a.sum(axis=1) + eps
    band = [spec_a[:, (freqs >= a) & (freqs < b)].sum(axis=1) for a, b in zip(_BANDS_HZ[:-1], _BANDS_HZ[1:])]
    band_ratio = [10 * np.log10(np.sum(bb) / np.sum(total) + eps) for bb in band]

    e_db = 10 * np.log10(rms[active] ** 2 * gain**2 + eps)
    e_rel = e_db - np.median(e_db)
    de = np.diff(e_db) if e_db.size > 1 else np.zeros(1)

    centroid = (spec_a @ freqs) / total
    flat = np.exp(np.mean(np.log(spec_a + eps), axis=1)) / (total / spec_a.shape[1])
    cum = np.cumsum(spec_a, axis=1)
    rolloff = freqs[np.argmax(cum >= 0.85 * cum[:, -1:], axis=1)]
    signs = np.signbit(frames[active])
    zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)

    f0, strength = _pitch(x, active)
    voiced = f0 > 0
    if voiced.sum() >= 3:
        st = 12 * np.log2(f0[voiced] / 100.0)
        f0_med = float(np.median(st))
        f0_std = float(np.std(st))
        f0_rng = float(np.percentile(st, 90) - np.percentile(st, 10))
        dst = np.diff(12 * np.log2(np.where(voiced, f0, np.nan) / 100.0))
        dst = dst[np.isfinite(dst)]
        df0 = float(np.std(dst)) if dst.size else 0.0
    else:
        f0_med, f0_std, f0_rng, df0 = 0.0, 0.0, 0.0, 0.0
    act_s = active.sum() * _HOP / SR
    onsets = np.sum(voiced[1:] & ~voiced[:-1]) / act_s

    feats = np.concatenate([
        m.mean(axis=0), m.std(axis=0), dm.std(axis=0), band_ratio,
        [e_rel.std(), np.percentile(e_rel, 95) - np.percentile(e_rel, 5), de.std(), np.mean(np.abs(de))],
        [np.mean(np.log(centroid + 1)), np.std(np.log(centroid + 1)),
         np.mean(np.log(flat + eps)), np.std(np.log(flat + eps)),
         np.mean(np.log(rolloff + 1)), np.std(np.log(rolloff + 1)), zcr.mean(), zcr.std()],
        [f0_med, f0_std, f0_rng, df0, voiced[active].mean(), strength[active].mean()],
        [onsets, active.mean()],
    ]).astype(np.float32)
    return feats


# ---------------------------------------------------------------------------------------------------------
# class probabilities → estimate

def estimate_from_class_probs(probs: np.ndarray, classes: Sequence[str] = EMODB_CLASSES) -> EmotionEstimate:
    """Map EmoDB-class probabilities onto the six labels, valence/arousal and a confidence.

    Confidence is ``(1 - normalised entropy) * (1 - p(neutral))``: a flat or neutral-sounding judgement is weak
    evidence for any of the six emotions.
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), 0, None)
    p = p / p.sum() if p.sum() > 0 else np.full(len(classes), 1.0 / len(classes))
    lab = {k: 0.0 for k in LABELS}
    val = aro = 0.0
    for pc, c in zip(p, classes):
        for k, w in EMODB_TO_LABELS[c].items():
            lab[k] += pc * w
        val += pc * EMODB_VA[c][0]
        aro += pc * EMODB_VA[c][1]
    ent = -np.sum(p * np.log(p + 1e-12)) / np.log(len(classes))
    p_neutral = float(p[list(classes).index("neutral")]) if "neutral" in classes else 0.0
    conf = float(np.clip((1.0 - ent) * (1.0 - p_neutral), 0.0, 1.0))
    return EmotionEstimate(normalise_labels(lab), float(np.clip(val, -1, 1)), float(np.clip(aro, -1, 1)), conf)


# ---------------------------------------------------------------------------------------------------------
# the model


@dataclass(frozen=True)
class _LinearWeights:
    mean: np.ndarray  # (F,)
    scale: np.ndarray  # (F,)
    coef: np.ndarray  # (C, F)
    intercept: np.ndarray  # (C,)
    classes: tuple[str, ...]


class ShippedVoiceModel(VoiceEmotionModel):
    """The default: level-invariant features → standardise → multinomial logistic regression (numpy only)."""

    def __init__(self, weights: _LinearWeights, name: str = "default") -> None:
        self._w = weights
        self.name = name
        _mel_and_dct(SR)  # the filterbank (and librosa's import) belong to loading, not to the first pass

    @classmethod
    def from_file(cls, path: Path, setting: str = "default") -> ShippedVoiceModel:
        try:
            with np.load(path, allow_pickle=False) as z:
                classes = tuple(str(c) for c in z["classes"])
                w = _LinearWeights(z["mean"].astype(np.float32), z["scale"].astype(np.float32),
                                   z["coef"].astype(np.float32), z["intercept"].astype(np.float32), classes)
                names = tuple(str(c) for c in z["feature_names"])
        except (OSError, KeyError, ValueError) as exc:
            raise ModelLoadError(
                f"voice model setting {setting!r}: cannot read weights {path} ({exc}); "
                "retrain with `python -m models.training.train_voice_emotion`") from None
        if names != FEATURE_NAMES or set(classes) != set(EMODB_CLASSES):
            raise ModelLoadError(
                f"voice model setting {setting!r}: weights {path} were trained on other features/classes; "
                "retrain with `python -m models.training.train_voice_emotion`")
        return cls(w, name=setting)

    def class_probs(self, features: np.ndarray) -> np.ndarray:
        """EmoDB-class probabilities for feature rows (N, F) → (N, C)."""
        z = (np.atleast_2d(features) - self._w.mean) / self._w.scale
        logits = z @ self._w.coef.T + self._w.intercept
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict_many(self, chunks: Sequence[np.ndarray], sr: int) -> list[EmotionEstimate]:
        out: list[EmotionEstimate] = []
        for chunk in chunks:
            x = as_mono16k(chunk, sr)
            feats, weights = [], []
            for w in speech_windows(x):
                f = voice_features(w, SR)
                if f is not None:
                    feats.append(f)
                    weights.append(w.size)
            if not feats:
                out.append(neutral_estimate())
                continue
            p = self.class_probs(np.stack(feats))
            p = np.average(p, axis=0, weights=np.asarray(weights, dtype=np.float64))
            out.append(estimate_from_class_probs(p, self._w.classes))
        return out


#: Named voice models: setting → weights file in ``models/data``. ``default`` is ``whisper-tiny+stats``.
VOICE_SETTINGS: dict[str, str] = {
    "default": "voice_whisper_tiny_stats.npz",
    "whisper-tiny+stats": "voice_whisper_tiny_stats.npz",
    "whisper-tiny": "voice_whisper_tiny.npz",
    "whisper-base": "voice_whisper_base.npz",
    "stats": "voice_emotion.npz",
}


@functools.lru_cache(maxsize=8)
def load_voice_model(name: str = "default") -> VoiceEmotionModel:
    """Load a voice emotion model once per process.

    Parameters
    ----------
    name : str
        ``"default"`` (a head on Whisper tiny.en encoder embeddings + the 82 statistics, trained on EmoDB), one of
        :data:`VOICE_SETTINGS` (``"whisper-tiny"``, ``"whisper-base"``, ``"stats"``: the previous model), a path to
        an ``.npz`` produced by a training script, or a transformers audio-classification model (hub id or local
        directory; see :mod:`models.hub_audio`).

    Raises
    ------
    ModelLoadError
        The setting cannot be loaded; the message names it.
    """
    setting = (name or "default").strip()
    if setting == "emodb":
        setting = "stats"
    if setting in VOICE_SETTINGS:
        return _load_npz(Path(__file__).resolve().parent / "data" / VOICE_SETTINGS[setting], setting)
    p = Path(setting).expanduser()
    if p.suffix == ".npz":
        if not p.is_file():
            raise ModelLoadError(f"voice model setting {name!r}: no such file; give 'default', a .npz from "
                                 "the training script, or a transformers audio-classification id/path")
        return _load_npz(p, setting)
    from models.hub_audio import load_hub_audio_model

    return load_hub_audio_model(setting)


def _load_npz(path: Path, setting: str) -> VoiceEmotionModel:
    try:
        with np.load(path, allow_pickle=False) as z:
            is_encoder = "encoder" in z.files
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"voice model setting {setting!r}: cannot read weights {path} ({exc}); "
                             "reinstall moodmix or retrain") from None
    if is_encoder:
        return EncoderVoiceModel.from_file(path, setting=setting)
    return ShippedVoiceModel.from_file(path, setting=setting)


# ---------------------------------------------------------------------------------------------------------
# the default since issue 10: a head on the Whisper encoder the ASR already runs

#: Whisper encoder frames: 1500 per 30 s window.
FRAME_S = 0.02
#: Speech pieces are laid end to end, with short silences between them, into windows of at most this long:
#: one Whisper encoder pass each (the ASR transcribes the very same windows, see :mod:`models.emotion_pass`).
PACK_MAX_S = 28.0
PACK_GAP_S = 0.3
#: The shipped default: a head over the Whisper tiny.en encoder embeddings and the 82 statistics
#: (``models/training/train_voice_encoder.py``; the best of the compared feature sets by held-out UAR and robustness).
ENCODER_WEIGHTS = Path(__file__).resolve().parent / "data" / "voice_whisper_tiny_stats.npz"
#: The previous default (82 statistics), reachable as ``"stats"``.
STATS_WEIGHTS = DEFAULT_WEIGHTS


def pack_pieces(durations_s: Sequence[float], *, max_s: float = PACK_MAX_S,
                gap_s: float = PACK_GAP_S) -> list[list[tuple[int, float]]]:
    """Group consecutive pieces into windows of at most ``max_s`` seconds.

    Returns
    -------
    list of windows, each a list of ``(piece index, start_s in the window)``; a piece longer than ``max_s``
    gets a window of its own (the encoder then sees only its first ``max_s``... callers split long pieces first).
    """
    windows: list[list[tuple[int, float]]] = []
    cur: list[tuple[int, float]] = []
    t = 0.0
    for i, d in enumerate(durations_s):
        if cur and t + d > max_s:
            windows.append(cur)
            cur, t = [], 0.0
        cur.append((i, t))
        t += float(d) + gap_s
    if cur:
        windows.append(cur)
    return windows


def window_audio(pieces: Sequence[np.ndarray], window: Sequence[tuple[int, float]],
                 gap_s: float = PACK_GAP_S) -> np.ndarray:
    """The 16 kHz audio of one packed window: its pieces end to end with ``gap_s`` of silence after each."""
    gap = np.zeros(round(gap_s * SR), np.float32)
    parts: list[np.ndarray] = []
    for i, start in window:
        pad = round(start * SR) - sum(p.size for p in parts)
        if pad > 0:
            parts.append(np.zeros(pad, np.float32))
        parts += [np.asarray(pieces[i], np.float32), gap]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


class WhisperEncoder:
    """The encoder half of a loaded faster-whisper model: 16 kHz audio (≤ 30 s) → frames (n, d), 20 ms apart."""

    def __init__(self, whisper_model: object, name: str) -> None:
        self.model = whisper_model  # a faster_whisper.WhisperModel
        self.name = name

    def encode(self, audio16k: np.ndarray) -> np.ndarray:
        """Encoder output for the first 30 s of ``audio16k``: float32 (frames, d) covering the audio (not the padding)."""
        from faster_whisper.audio import pad_or_trim

        x = np.asarray(audio16k, np.float32)
        feats = self.model.feature_extractor(x)  # type: ignore[attr-defined]
        out = np.asarray(self.model.encode(pad_or_trim(feats)))  # type: ignore[attr-defined]
        n = min(out.shape[1], max(1, int(np.ceil(x.size / SR / FRAME_S))))
        return np.ascontiguousarray(out[0, :n], dtype=np.float32)


def pool_frames(frames: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    """Mean and standard deviation over the encoder frames of one piece: (2d,) float32."""
    a = int(np.floor(start_s / FRAME_S))
    b = max(a + 2, int(np.ceil(end_s / FRAME_S)))
    f = frames[a:min(b, frames.shape[0])]
    if f.shape[0] == 0:
        f = frames[-2:]
    return np.concatenate([f.mean(axis=0), f.std(axis=0)]).astype(np.float32)


def encode_pieces(encoder: WhisperEncoder, pieces: Sequence[np.ndarray],
                  known: dict[tuple[int, ...], np.ndarray] | None = None) -> np.ndarray:
    """Pooled encoder embeddings of 16 kHz pieces, packed into shared windows: (len(pieces), 2d).

    Pieces longer than :data:`PACK_MAX_S` are split and their parts' embeddings averaged by length.
    ``known`` maps a window's piece indices (as :func:`pack_pieces` groups them) to encoder frames already
    computed for exactly that window (the ASR's pass); only the other windows are encoded here.
    """
    parts: list[np.ndarray] = []
    owner: list[int] = []
    step = int(PACK_MAX_S * SR)
    for i, p in enumerate(pieces):
        p = np.asarray(p, np.float32)
        for k in range(0, max(p.size, 1), step):
            parts.append(p[k:k + step])
            owner.append(i)
    pooled = np.zeros((len(parts), 0), np.float32)
    rows: dict[int, np.ndarray] = {}
    split = len(parts) != len(pieces)
    for window in pack_pieces([q.size / SR for q in parts]):
        frames = None if (split or not known) else known.get(tuple(j for j, _ in window))
        if frames is None:
            frames = encoder.encode(window_audio(parts, window))
        for j, start in window:
            rows[j] = pool_frames(frames, start, start + parts[j].size / SR)
    if rows:
        pooled = np.stack([rows[j] for j in range(len(parts))])
    out = np.zeros((len(pieces), pooled.shape[1]), np.float32)
    weight = np.zeros(len(pieces))
    for j, i in enumerate(owner):
        w = max(parts[j].size, 1)
        out[i] += pooled[j] * w
        weight[i] += w
    return out / np.maximum(weight, 1)[:, None].astype(np.float32)


@dataclass(frozen=True)
class _OodModel:
    """How unlike the training voices a feature row is: squared Mahalanobis distance to the (standardised) training
    features under a Ledoit-Wolf shrunk covariance. ``full``/``zero`` are the median and 99th percentile of that
    distance for speakers the model never heard (held out in the training's outer folds)."""

    location: np.ndarray  # (F,)
    precision: np.ndarray  # (F, F)
    full: float
    zero: float

    def score(self, z: np.ndarray) -> np.ndarray:
        d = np.atleast_2d(z) - self.location
        return np.einsum("ij,jk,ik->i", d, self.precision, d)

    def factor(self, z: np.ndarray) -> np.ndarray:
        """1 for a voice as close as the median unseen speaker, falling to 0 at their 99th percentile and beyond."""
        return np.clip((self.zero - self.score(z)) / (self.zero - self.full), 0.0, 1.0)


class EncoderVoiceModel(VoiceEmotionModel):
    """Whisper-encoder embeddings (mean + std over a piece's frames) → standardise → logistic regression.

    The confidence is lowered for voices unlike the training speakers (:class:`_OodModel`), so that a synthetic
    or unusual voice leaves the decision to the words instead of sounding confidently angry.
    """

    def __init__(self, encoder: WhisperEncoder, weights: _LinearWeights, ood: _OodModel | None,
                 use_stats: bool, name: str = "default") -> None:
        self.encoder = encoder
        self._w = weights
        self._ood = ood
        self.use_stats = use_stats
        self.name = name
        if use_stats:
            _mel_and_dct(SR)  # the filterbank (and librosa's import) belong to loading, not to the first pass

    @classmethod
    def from_file(cls, path: Path, setting: str = "default") -> EncoderVoiceModel:
        try:
            with np.load(path, allow_pickle=False) as z:
                enc_name = str(z["encoder"])
                w = _LinearWeights(z["mean"].astype(np.float32), z["scale"].astype(np.float32),
                                   z["coef"].astype(np.float32), z["intercept"].astype(np.float32),
                                   tuple(str(c) for c in z["classes"]))
                ood = None
                if "ood_precision" in z.files:
                    ood = _OodModel(z["ood_location"].astype(np.float32), z["ood_precision"].astype(np.float32),
                                    float(z["ood_full"]), float(z["ood_zero"]))
                use_stats = bool(z["use_stats"])
        except (OSError, KeyError, ValueError) as exc:
            raise ModelLoadError(
                f"voice model setting {setting!r}: cannot read weights {path} ({exc}); "
                "retrain with `python -m models.training.train_voice_encoder`") from None
        from models.asr import load_asr

        # "default" is tiny.en: the same cached model object as the ASR's, so the two can share encoder passes
        asr = load_asr("default" if enc_name == "tiny.en" else enc_name)
        return cls(WhisperEncoder(asr.model, enc_name), w, ood, use_stats, name=setting)

    @property
    def encoder_name(self) -> str:
        return self.encoder.name

    def features(self, pooled: np.ndarray, pieces: Sequence[np.ndarray] | None = None) -> np.ndarray:
        """The head's input rows from pooled embeddings (and, for a model trained with them, the 82 statistics)."""
        if not self.use_stats:
            return np.asarray(pooled, np.float32)
        assert pieces is not None
        stats = [voice_features(p, SR) for p in pieces]
        st = np.stack([s if s is not None else np.zeros(len(FEATURE_NAMES), np.float32) for s in stats])
        return np.concatenate([pooled, st], axis=1).astype(np.float32)

    def class_probs(self, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(class probabilities (N, C), OOD confidence factor (N,)) for feature rows."""
        z = (np.atleast_2d(feats) - self._w.mean) / self._w.scale
        logits = z @ self._w.coef.T + self._w.intercept
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        factor = self._ood.factor(z) if self._ood is not None else np.ones(z.shape[0])
        return e / e.sum(axis=1, keepdims=True), factor

    def ood_scores(self, feats: np.ndarray) -> np.ndarray:
        """Out-of-domain distance in units of the median unseen training speaker's (1 = typical, larger = further)."""
        z = (np.atleast_2d(feats) - self._w.mean) / self._w.scale
        return self._ood.score(z) / self._ood.full if self._ood is not None else np.ones(z.shape[0])

    def estimates(self, pooled: np.ndarray, pieces: Sequence[np.ndarray]) -> list[EmotionEstimate]:
        """Estimates from pooled encoder embeddings of 16 kHz pieces (the ASR's shared encoder pass)."""
        out: list[EmotionEstimate] = [neutral_estimate() for _ in pieces]
        live = [i for i, p in enumerate(pieces) if _active_s(p) >= MIN_ACTIVE_S]
        if not live:
            return out
        probs, factor = self.class_probs(self.features(pooled[live], [pieces[i] for i in live]))
        for k, i in enumerate(live):
            e = estimate_from_class_probs(probs[k], self._w.classes)
            out[i] = EmotionEstimate(e.labels, e.valence, e.arousal, float(e.confidence * factor[k]))
        return out

    def predict_many(self, chunks: Sequence[np.ndarray], sr: int,
                     known: dict[tuple[int, ...], np.ndarray] | None = None) -> list[EmotionEstimate]:
        """Judge stretches of speech, packed into shared encoder windows.

        ``known``: encoder frames the ASR already computed for some of those windows (see :func:`encode_pieces`).
        """
        pieces = [as_mono16k(c, sr) for c in chunks]
        if not pieces:
            return []
        return self.estimates(encode_pieces(self.encoder, pieces, known), pieces)


def _active_s(x: np.ndarray) -> float:
    """Seconds of frames within 40 dB of the loudest 10 ms frame (0 for digital silence)."""
    if x.size < _WIN:
        return 0.0
    rms = np.sqrt(np.mean(_frames(np.asarray(x, np.float32), _WIN, _HOP).astype(np.float64) ** 2, axis=1))
    peak = rms.max()
    if peak <= 1e-7:
        return 0.0
    return float(np.sum(rms > peak * 10 ** (-_ACTIVE_DB / 20)) * _HOP / SR)
