"""The report of one mix, typed: what :func:`moodmix.pipeline.mix_file` returns and writes with ``--report``.

Each section is a frozen dataclass; :meth:`MixReport.to_dict` gives the JSON object of DESIGN.md ("Report"), with
the same keys in the same order as ever (the contract is extended, never renamed). Figures are rounded where they
are made, here, once: times to the millisecond, levels to 0.01 dB, non-finite levels (silence) as null.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["InputSection", "MixReport", "MixSection", "OutputSection", "SpeechSection", "level_or_none"]

NO_SPEECH_NOTE = "no speech found: the music plays at its own level throughout (nothing to duck)"


def level_or_none(x: float | None) -> float | None:
    """A level in dB or LUFS to 0.01, or None for a missing or non-finite one (silence measures −inf)."""
    if x is None:
        return None
    x = float(x)
    return round(x, 2) if math.isfinite(x) else None


@dataclass(frozen=True)
class InputSection:
    path: str
    duration_s: float
    has_video: bool
    sample_rate: int
    channels: int
    container: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "duration_s", round(self.duration_s, 3))


@dataclass(frozen=True)
class OutputSection:
    path: str
    format: str
    sample_rate: int
    duration_s: float
    video_copied: bool
    stems: dict[str, str] | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "duration_s", round(self.duration_s, 3))


@dataclass(frozen=True)
class SpeechSection:
    segments: tuple[tuple[float, float], ...]
    speech_ratio: float
    method: str

    @property
    def found(self) -> bool:
        return bool(self.segments)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"segments": [[round(float(s), 3), round(float(e), 3)] for s, e in self.segments],
                             "speech_ratio": round(self.speech_ratio, 4), "method": self.method,
                             "found": self.found}
        if not self.found:
            d["note"] = NO_SPEECH_NOTE
        return d


@dataclass(frozen=True)
class MixSection:
    integrated_lufs: float | None
    true_peak_dbtp: float | None
    speech_to_music_db: float | None
    preset: str
    duck_db: float | None
    depth_db: float
    music_db: float
    target_lufs: float
    separation: str | None
    leveller: str
    leveller_range_db: tuple[float, float] | None
    limiter_gr_p99_db: float
    limiter_gr_max_db: float
    decoded_lufs: float | None = None

    def __post_init__(self) -> None:
        for name in ("integrated_lufs", "true_peak_dbtp", "speech_to_music_db", "duck_db", "decoded_lufs"):
            object.__setattr__(self, name, level_or_none(getattr(self, name)))
        for name in ("limiter_gr_p99_db", "limiter_gr_max_db"):
            object.__setattr__(self, name, round(float(getattr(self, name)), 2))
        if self.leveller_range_db is not None:
            lo, hi = self.leveller_range_db
            object.__setattr__(self, "leveller_range_db", (round(lo, 2), round(hi, 2)))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["leveller_range_db"] = list(self.leveller_range_db) if self.leveller_range_db is not None else None
        return d


@dataclass(frozen=True)
class MixReport:
    """The whole report. ``emotion`` is the emotion analysis's dict (or the first mix's, for a re-mix) and
    ``music`` the chosen track's (``TrackChoice.to_dict`` + alternatives, segments and fit): both are typed where
    they are made (:mod:`models.types`, :mod:`library.types`)."""

    input: InputSection
    output: OutputSection
    speech: SpeechSection
    emotion: dict[str, Any] | None
    emotion_skipped: str | None
    music: dict[str, Any]
    mix: MixSection
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": asdict(self.input),
            "output": asdict(self.output),
            "speech": self.speech.to_dict(),
            "emotion": self.emotion,
            "emotion_skipped": self.emotion_skipped,
            "music": self.music,
            "mix": self.mix.to_dict(),
            "timings_s": dict(self.timings_s),
        }
