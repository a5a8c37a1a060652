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

from models.mapping import LABEL_VA, labels_from_va, normalise_labels
from models.types import LABELS, EmotionEstimate, neutral_estimate
from moodmix.errors import InvalidAudioError, ModelLoadError

__all__ = [
    "DEFAULT_WEIGHTS",
    "EMODB_CLASSES",
    "EMODB_TO_LABELS",
    "EMODB_VA",
    "FEATURE_NAMES",
    "MIN_ACTIVE_S",
    "SR",
    "WINDOW_S",
    "ShippedVoiceModel",
    "VoiceEmotionModel",
    "estimate_from_class_probs",
    "load_voice_model",
    "voice_features",
]

SR = 16000
WINDOW_S = 4.0  # long segments are judged in windows of this length and averaged
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


def _as_mono16k(audio: np.ndarray, sr: int) -> np.ndarray:
    a = np.asarray(audio)
    if a.ndim == 2:
        a = a.mean(axis=0)
    if a.ndim != 1:
        raise InvalidAudioError(f"expected audio shaped (channels, samples) or (samples,), got shape {a.shape}")
    if sr <= 0:
        raise InvalidAudioError(f"expected a positive sample rate, got {sr}")
    a = a.astype(np.float32, copy=False)
    if not np.all(np.isfinite(a)):
        raise InvalidAudioError("audio contains NaN or infinite samples; clean or re-decode the input")
    if sr != SR:
        import soxr

        a = soxr.resample(a, sr, SR).astype(np.float32)
    return a


def _pitch(x: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame f0 (Hz, 0 when unvoiced) and voicing strength from the normalised autocorrelation at 8 kHz."""
    y = x[::2] - x[::2].mean()  # 8 kHz is plenty for 60-400 Hz; the 16 kHz input is low-passed by the VAD/ASR path
    frames = _frames(y, 320, _HOP // 2)[: active.size]  # 40 ms windows, 10 ms hop (same frame grid)
    frames = frames - frames.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(frames * np.hanning(320).astype(np.float32), n=1024, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :321]
    win_ac = np.fft.irfft(np.abs(np.fft.rfft(np.hanning(320), n=1024)) ** 2)[:321]
    ac = ac / np.maximum(ac[:, :1], 1e-12) / np.maximum(win_ac / win_ac[0], 1e-3)  # unbias the window taper
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
    x = _as_mono16k(audio, sr)
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
    window = np.hanning(_WIN).astype(np.float32)
    spec = np.abs(np.fft.rfft(frames * window, n=_N_FFT, axis=1)) ** 2  # (frames, 257)
    spec_a = spec[active]
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


def _windows(x: np.ndarray) -> list[np.ndarray]:
    """Split 16 kHz audio into about-equal windows no longer than WINDOW_S."""
    n_win = int(WINDOW_S * SR)
    if x.size <= n_win * 1.25:
        return [x]
    k = int(np.ceil(x.size / n_win))
    return [w for w in np.array_split(x, k)]


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


class VoiceEmotionModel:
    """Interface of every voice model: speech audio → :class:`EmotionEstimate` (load once, predict many)."""

    name: str = "voice"
    #: labels this model can single out (the complement fusion takes only the others from the words)
    covers: frozenset[str] = frozenset({"sadness", "joy", "anger", "fear"})

    def predict(self, audio: np.ndarray, sr: int) -> EmotionEstimate:
        """Judge one stretch of speech; returns a flagged neutral estimate when it holds no active sound."""
        return self.predict_many([audio], sr)[0]

    def predict_many(self, chunks: Sequence[np.ndarray], sr: int) -> list[EmotionEstimate]:
        raise NotImplementedError


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
            x = _as_mono16k(chunk, sr)
            feats, weights = [], []
            for w in _windows(x):
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


@functools.lru_cache(maxsize=8)
def load_voice_model(name: str = "default") -> VoiceEmotionModel:
    """Load a voice emotion model once per process.

    Parameters
    ----------
    name : str
        ``"default"`` (shipped EmoDB model), a path to a ``voice_emotion.npz`` produced by the training script,
        or a transformers audio-classification model (hub id or local directory; see :mod:`models.hub_audio`).

    Raises
    ------
    ModelLoadError
        The setting cannot be loaded; the message names it.
    """
    if name in ("default", "", "emodb"):
        return ShippedVoiceModel.from_file(DEFAULT_WEIGHTS, setting=name or "default")
    p = Path(name).expanduser()
    if p.suffix == ".npz":
        if not p.is_file():
            raise ModelLoadError(f"voice model setting {name!r}: no such file; give 'default', a .npz from "
                                 "the training script, or a transformers audio-classification id/path")
        return ShippedVoiceModel.from_file(p, setting=name)
    from models.hub_audio import load_hub_audio_model

    return load_hub_audio_model(name)
