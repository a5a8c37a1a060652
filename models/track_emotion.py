"""The emotion of a music track, from its audio features: the bridge between music and the voice's emotions.

Every library track gets an emotion 8-vector (six labels, valence, arousal) so that it can sit in the same emotion
clusters as voices. Two ways were measured on the built-in library (``benchmarks/track_emotion_agreement.py``,
figures in docs/benchmarks.md, "Choosing the music"):

- ``"features"`` (default): the music's own valence/energy/tempo/mode placed on the circumplex
  (:func:`va_from_features`) and mapped to the six labels with :func:`models.mapping.labels_from_va`. Cheap,
  deterministic, and the same mapping turns the Spotify corpus into training pairs for the music model, so a voice's
  emotion vector and a track's live on one scale.
- ``"voice"``: the shipped voice-sound model run on the track, as the seed did with songs. It was trained on speech
  (emodb), so on music it mostly hears timbre; it agreed less with the mood folders (see the benchmark).

The circumplex placement: valence from Spotify-scale valence with a small nudge for major/minor mode; arousal from
energy with a smaller share of tempo. Music-psychology reviews (Juslin & Laukka 2004; Gabrielsson & Lindström 2010)
name tempo and loudness/energy as the strongest arousal cues and mode as a valence cue, weaker than the overall
brightness that Spotify's valence already summarises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np

from models.mapping import labels_from_va
from models.types import LABELS, EmotionEstimate

__all__ = [
    "MOOD_VA",
    "TEMPO_HIGH_BPM",
    "TEMPO_LOW_BPM",
    "emotion_from_features",
    "emotion_vector_from_features",
    "emotion_vectors_from_table",
    "mood_emotion",
    "track_emotion",
    "va_from_features",
]

#: Tempo range mapped linearly onto [0, 1] for the arousal share of tempo (clipped outside).
TEMPO_LOW_BPM = 60.0
TEMPO_HIGH_BPM = 180.0

#: Share of tempo in arousal (the rest is energy) and of mode in valence (the rest is Spotify valence).
_TEMPO_SHARE = 0.25
_MODE_SHARE = 0.2

Method = Literal["features", "voice"]

#: Circumplex (valence, arousal) of mood words: the built-in library's folders (calm, energetic, happy, nostalgic,
#: tender) and a few common synonyms. Placed by their affective-norm ratings (Warriner et al. 2013 put "calm" and
#: "tender" pleasant and low-arousal, "nostalgic" mildly unpleasant and low-arousal, "energetic" high-arousal).
MOOD_VA: dict[str, tuple[float, float]] = {
    "calm": (0.35, -0.65),
    "tender": (0.65, -0.30),
    "nostalgic": (-0.35, -0.35),
    "happy": (0.80, 0.45),
    "energetic": (0.40, 0.85),
    "sad": (-0.70, -0.45),
    "angry": (-0.65, 0.75),
    "romantic": (0.75, 0.05),
    "relaxed": (0.45, -0.60),
    "upbeat": (0.70, 0.65),
    "tense": (-0.55, 0.55),
    "dark": (-0.60, 0.10),
}


def mood_emotion(mood: str) -> EmotionEstimate | None:
    """The target emotion of a mood word (a mood tag above, or one of the six labels); None if unknown."""
    from models.mapping import LABEL_VA

    key = mood.strip().lower()
    if key in LABEL_VA:
        v, a = LABEL_VA[key]
        labels = {k: (1.0 if k == key else 0.0) for k in LABELS}
        return EmotionEstimate(labels=labels, valence=v, arousal=a, confidence=1.0)
    if key in MOOD_VA:
        v, a = MOOD_VA[key]
        return EmotionEstimate(labels=labels_from_va(v, a), valence=v, arousal=a, confidence=1.0)
    return None


def _f(features: Mapping[str, float], name: str, default: float) -> float:
    value = features.get(name)
    if value is None or not np.isfinite(float(value)):
        return default
    return float(value)


def va_from_features(features: Mapping[str, float]) -> tuple[float, float]:
    """Circumplex (valence, arousal) in [-1, 1] of a track from its Spotify-scale features.

    Parameters
    ----------
    features : mapping with ``valence``, ``energy`` in [0, 1], ``mode`` 0/1 and ``tempo`` in BPM; a missing
        value counts as the neutral middle (0.5, 0.5 mode, 120 BPM).

    Returns
    -------
    (valence, arousal) : floats in [-1, 1]
    """
    valence01 = _f(features, "valence", 0.5)
    energy01 = _f(features, "energy", 0.5)
    mode01 = _f(features, "mode", 0.5)
    tempo_bpm = _f(features, "tempo", 120.0)
    tempo01 = float(np.clip((tempo_bpm - TEMPO_LOW_BPM) / (TEMPO_HIGH_BPM - TEMPO_LOW_BPM), 0.0, 1.0))
    v01 = (1.0 - _MODE_SHARE) * valence01 + _MODE_SHARE * mode01
    a01 = (1.0 - _TEMPO_SHARE) * energy01 + _TEMPO_SHARE * tempo01
    return float(np.clip(2.0 * v01 - 1.0, -1.0, 1.0)), float(np.clip(2.0 * a01 - 1.0, -1.0, 1.0))


def emotion_from_features(features: Mapping[str, float]) -> EmotionEstimate:
    """A track's :class:`EmotionEstimate` from its six features (labels via the circumplex)."""
    v, a = va_from_features(features)
    labels = labels_from_va(v, a)
    return EmotionEstimate(labels=labels, valence=v, arousal=a, confidence=1.0)


def emotion_vector_from_features(features: Mapping[str, float]) -> tuple[float, ...]:
    """The 8-vector (six labels, valence, arousal) of :func:`emotion_from_features`."""
    return tuple(emotion_from_features(features).vector())


def emotion_vectors_from_table(valence: np.ndarray, energy: np.ndarray, mode: np.ndarray,
                               tempo_bpm: np.ndarray) -> np.ndarray:
    """Vectorised :func:`emotion_vector_from_features` for a table of tracks: shape (n, 8)."""
    tempo01 = np.clip((np.asarray(tempo_bpm, float) - TEMPO_LOW_BPM) / (TEMPO_HIGH_BPM - TEMPO_LOW_BPM), 0, 1)
    v = np.clip(2 * ((1 - _MODE_SHARE) * np.asarray(valence, float) + _MODE_SHARE * np.asarray(mode, float)) - 1,
                -1, 1)
    a = np.clip(2 * ((1 - _TEMPO_SHARE) * np.asarray(energy, float) + _TEMPO_SHARE * tempo01) - 1, -1, 1)
    out = np.empty((len(v), len(LABELS) + 2))
    for i, (vi, ai) in enumerate(zip(v, a)):
        lab = labels_from_va(float(vi), float(ai))
        out[i, : len(LABELS)] = [lab[k] for k in LABELS]
        out[i, len(LABELS)] = vi
        out[i, len(LABELS) + 1] = ai
    return out


def track_emotion(
    features: Mapping[str, float] | None = None,
    *,
    audio: np.ndarray | None = None,
    sr: int | None = None,
    method: Method = "features",
) -> EmotionEstimate:
    """The emotion of one track.

    Parameters
    ----------
    features : the track's six features (needed for ``method="features"``).
    audio : np.ndarray [shape=(channels, samples)] float32, and ``sr``: needed for ``method="voice"``.
    method : ``"features"`` (default, see the module docstring for why) or ``"voice"``.

    Returns
    -------
    EmotionEstimate
    """
    from core.errors import InvalidAudioError

    if method == "features":
        if features is None:
            raise ValueError("track_emotion(method='features') needs the track's features; got None")
        return emotion_from_features(features)
    if method == "voice":
        if audio is None or sr is None:
            raise InvalidAudioError("track_emotion(method='voice') needs audio and sr; got none: pass both")
        return _voice_model_on_track(audio, sr)
    raise ValueError(f"track_emotion method must be 'features' or 'voice', got {method!r}")


def _voice_model_on_track(audio: np.ndarray, sr: int) -> EmotionEstimate:
    """Run the shipped voice-sound emotion model over a whole track (as the seed did with songs).

    The model judges long audio in short windows and averages them (:mod:`models.voice_emotion`).
    """
    from models.voice_emotion import load_voice_model

    return load_voice_model("stats").predict(np.asarray(audio, dtype=np.float32), sr)
