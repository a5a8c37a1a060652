"""Emotion value types shared by every model, the fusion, the report and selection.

Labels everywhere are the seed's six — sadness, joy, love, anger, fear, surprise — as probabilities summing to 1,
plus valence and arousal in [-1, 1]. Models with other label sets map onto these in :mod:`models.mapping`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LABELS", "EmotionAnalysis", "EmotionEstimate", "TimedEmotion", "neutral_estimate"]

LABELS: tuple[str, ...] = ("sadness", "joy", "love", "anger", "fear", "surprise")


@dataclass(frozen=True)
class EmotionEstimate:
    """One emotion judgement.

    labels : the six probabilities (sum 1); valence, arousal in [-1, 1]; confidence in [0, 1].
    neutral : True when there was nothing to judge (no speech, empty text): a flagged neutral result.
    """

    labels: Mapping[str, float]
    valence: float
    arousal: float
    confidence: float
    neutral: bool = False

    def top(self) -> str:
        return max(self.labels, key=lambda k: self.labels[k])

    def vector(self) -> list[float]:
        """The 8-vector [six labels..., valence, arousal] used for clustering and the music model."""
        return [float(self.labels[k]) for k in LABELS] + [float(self.valence), float(self.arousal)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": {k: round(float(self.labels[k]), 4) for k in LABELS},
            "valence": round(float(self.valence), 4),
            "arousal": round(float(self.arousal), 4),
            "confidence": round(float(self.confidence), 4),
            "neutral": bool(self.neutral),
        }


def neutral_estimate() -> EmotionEstimate:
    """Uniform labels, centre of the circumplex, zero confidence, flagged neutral."""
    return EmotionEstimate({k: 1.0 / len(LABELS) for k in LABELS}, 0.0, 0.0, 0.0, neutral=True)


@dataclass(frozen=True)
class TimedEmotion:
    """The fused emotion of one speech segment (seconds from the start of the input)."""

    start: float
    end: float
    estimate: EmotionEstimate
    text: str = ""  # the English words the text model judged (the translation when the speech was not English)

    def to_dict(self) -> dict[str, Any]:
        d = self.estimate.to_dict()
        return {"start": round(self.start, 3), "end": round(self.end, 3), "labels": d["labels"],
                "valence": d["valence"], "arousal": d["arousal"], "confidence": d["confidence"],
                "text": self.text}


@dataclass(frozen=True)
class EmotionAnalysis:
    """Everything the emotion pass found in one input: the report's ``emotion`` section.

    transcript : the words in the spoken language.
    language : ISO 639-1 code of the spoken language ("" when no words were listened for or none were heard).
    language_probability : the detector's probability for it; None when it was not detected (assumed English).
    translation : the English text the text model judged, when the speech was not English; else "".
    words_note : why (some of) the words were not used, e.g. an unclear language or a hallucinated loop; else "".
    """

    overall: EmotionEstimate
    sources: Mapping[str, EmotionEstimate | None] = field(default_factory=dict)  # "voice", "text"
    transcript: str = ""
    timeline: tuple[TimedEmotion, ...] = ()
    models: Mapping[str, str] = field(default_factory=dict)  # which model produced each source
    language: str = ""
    language_probability: float | None = None
    translation: str = ""
    words_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        o = self.overall.to_dict()
        return {
            **o,
            "sources": {k: (v.to_dict() if v is not None else {}) for k, v in self.sources.items()},
            "transcript": self.transcript,
            "timeline": [t.to_dict() for t in self.timeline],
            "models": dict(self.models),
            "language": self.language,
            "language_probability": (round(float(self.language_probability), 4)
                                     if self.language_probability is not None else None),
            "translation": self.translation,
            "words_note": self.words_note,
        }
