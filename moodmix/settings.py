"""Job settings: every option of one mix job, in one frozen value.

The CLI, the Celery tasks and the API build a :class:`JobSettings` and hand it to
:func:`moodmix.pipeline.mix_file`. DSP defaults live in :class:`mixer` modules; this is the user-facing layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from core.env import env_setting

if TYPE_CHECKING:  # pragma: no cover
    from models.emotion_pass import EmotionSettings

__all__ = ["JobSettings", "LEVELLERS", "Preset", "PRESETS", "ProgressFn", "emotion_settings_from_env"]

Preset = Literal["podcast", "vlog", "clear"]

#: Music depth under speech, in dB below the voice's short-term loudness, per preset.
#: podcast 18 dB; vlog 12 dB; clear 20 dB (WCAG 2.x SC 1.4.7: background at least 20 dB below the foreground).
PRESETS: dict[str, float] = {"podcast": 18.0, "vlog": 12.0, "clear": 20.0}

#: Voice leveller names (mixer.leveller): auto takes the preset's.
LEVELLERS: tuple[str, ...] = ("auto", "off", "gentle", "medium", "firm")

#: progress(stage, fraction) with fraction in [0, 1]; stages: decode, vad, separate, emotion, select, mix, render.
ProgressFn = Callable[[str, float], None]


@dataclass(frozen=True)
class JobSettings:
    """Options of one mix job (flags → environment → these defaults)."""

    music: Path | None = None  # force this track (``--music``); rule "forced"
    library: str | None = None  # catalog name/URL or a folder (``--library``); None: default catalog
    #: the default catalog's SQLAlchemy URL (``--database``, else ``MOODMIX_DATABASE_URL``, else the SQLite file
    #: under MOODMIX_HOME): the catalog every front end (mix, suggest, batch, worker, API) chooses from
    database: str | None = field(default_factory=lambda: env_setting("MOODMIX_DATABASE_URL"))
    mood: str | None = None  # override the detected mood (``--mood``)
    preset: Preset = "podcast"
    target_lufs: float = -16.0
    duck_db: float | None = None  # depth under speech; None: the preset's
    stems_dir: Path | None = None
    report_path: Path | None = None
    output_format: str | None = None  # extension without dot; None: from the output path or the input
    follow_mood: bool = False
    separate: bool = False
    separator: str = "deepfilternet"
    keep_ambience_db: float | None = None  # None: drop the original background when separating
    seed: int | None = None
    exclude_vocals: bool = True
    avoid_tracks: tuple[str, ...] = ()  # catalog ids not to pick (batch: no repeats)
    intro_s: float = 2.0  # audio-only: the bed starts this long before the voice
    outro_s: float = 2.0  # audio-only: and ends this long after it
    analyse_emotion: bool = True
    emotion_with_music: bool = False  # with ``music`` given, run the emotion pass anyway (``--analyse-emotion``)
    leveller: str = "auto"  # voice leveller: auto (the preset's), off, gentle, medium, firm (mixer.leveller)
    music_db: float = 0.0  # the bed relative to the preset's level, dB (-12..+12; ``--music-db``, re-mix)
    emotion: "EmotionSettings | None" = None  # which emotion models; None: the shipped defaults
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def depth_db(self) -> float:
        return float(self.duck_db) if self.duck_db is not None else PRESETS[self.preset]

    def with_(self, **changes: object) -> "JobSettings":
        return replace(self, **changes)  # type: ignore[arg-type]


def emotion_settings_from_env(voice_model: str | None = None, text_model: str | None = None,
                              asr_model: str | None = None, fusion: str | None = None,
                              language_model: str | None = None) -> "EmotionSettings":
    """Emotion model settings from flags, then ``MOODMIX_VOICE_MODEL`` / ``MOODMIX_TEXT_MODEL`` /
    ``MOODMIX_ASR_MODEL`` / ``MOODMIX_FUSION`` / ``MOODMIX_LANGUAGE_MODEL``, then the shipped defaults. Front ends
    (CLI, workers) call this."""
    from core.errors import MoodmixError
    from models.emotion_pass import EmotionSettings
    from models.fusion import FUSION_METHODS

    method = fusion or env_setting("MOODMIX_FUSION", "weighted") or "weighted"
    if method not in FUSION_METHODS:
        raise MoodmixError(f"fusion method '{method}' is unknown; use one of {', '.join(FUSION_METHODS)}")
    return EmotionSettings(
        voice_model=voice_model or env_setting("MOODMIX_VOICE_MODEL", "default") or "default",
        text_model=text_model or env_setting("MOODMIX_TEXT_MODEL", "default") or "default",
        asr_model=asr_model or env_setting("MOODMIX_ASR_MODEL", "default") or "default",
        language_model=language_model or env_setting("MOODMIX_LANGUAGE_MODEL", "base") or "base",
        fusion=method,  # type: ignore[arg-type]
    )
