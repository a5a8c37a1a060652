"""Job settings: every option of one mix job, in one frozen value.

The CLI, the Celery tasks and the API build a :class:`JobSettings` and hand it to
:func:`moodmix.pipeline.mix_file`. DSP defaults live in :class:`mixer` modules; this is the user-facing layer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

from core.env import env_setting
from core.errors import InvalidOptionError
from mixer.formats import OUTPUT_FORMATS
from mixer.presets import DEFAULT_PRESET, DEFAULT_TARGET_LUFS, LEVELLERS
from mixer.presets import PRESETS as MIX_PRESETS

if TYPE_CHECKING:  # pragma: no cover
    from models.emotion_pass import EmotionSettings

__all__ = ["CHOICES", "DEFAULT_PRESET", "DEFAULT_TARGET_LUFS", "JobSettings", "LEVELLERS", "OUTPUT_FORMATS",
           "Preset", "PRESETS", "ProgressFn", "RANGES", "check_option", "emotion_settings_from_env",
           "option_catalogue"]

Preset = Literal["podcast", "vlog", "clear"]

#: Music depth under speech, in dB below the voice's short-term loudness, per preset (from :mod:`mixer.presets`).
PRESETS: dict[str, float] = {name: p.depth_db for name, p in MIX_PRESETS.items()}

#: The numeric options every front end takes: name → (lowest, highest, unit, an example). The CLI's flags, the
#: API's form fields, batch and the bot are checked against these and nothing else.
RANGES: dict[str, tuple[float, float, str, str]] = {
    "target_lufs": (-40.0, -5.0, "LUFS", "-16 for a podcast, -14 for video"),
    "duck_db": (0.0, 60.0, "dB below the voice", "18"),
    "music_db": (-12.0, 12.0, "dB against the preset's level", "-3"),
    "intro_s": (0.0, 60.0, "seconds of music before the voice", "2"),
    "outro_s": (0.0, 60.0, "seconds of music after the voice", "2"),
    "keep_ambience_db": (0.0, 60.0, "dB under the voice", "20"),
}

#: The options with a fixed set of values: name → the values.
CHOICES: dict[str, tuple[str, ...]] = {
    "preset": tuple(MIX_PRESETS),
    "leveller": LEVELLERS,
    "output_format": OUTPUT_FORMATS,
}

#: progress(stage, fraction) with fraction in [0, 1]; stages: decode, vad, separate, emotion, select, mix, render.
ProgressFn = Callable[[str, float], None]


def check_option(name: str, value: Any, *, label: str | None = None) -> Any:
    """``value`` checked against :data:`RANGES` / :data:`CHOICES` (numbers as floats, choices lower-cased);
    other options pass through. ``label`` names the option in the message (``--target-lufs`` for the CLI, the
    form field for the API; default ``name``).

    Raises
    ------
    InvalidOptionError
        Not a number, out of range, or not one of the choices; the message says what is expected.
    """
    label = label or name
    if name in RANGES and value is not None:
        lo, hi, unit, example = RANGES[name]
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidOptionError(f"{label} must be a number of {unit} such as {example}, "
                                     f"got {str(value)[:20]!r}", name) from None
        if not math.isfinite(number) or not lo <= number <= hi:
            raise InvalidOptionError(f"{label} must be between {lo:g} and {hi:g} {unit} (e.g. {example}), "
                                     f"got {number:g}", name)
        return number
    if name in CHOICES and value is not None:
        text = str(value).strip().lower().lstrip(".") if name == "output_format" else str(value).strip().lower()
        if text not in CHOICES[name]:
            raise InvalidOptionError(f"{label} must be one of {', '.join(CHOICES[name])}, got {str(value)[:20]!r}",
                                     name)
        return text
    return value


def option_catalogue() -> dict[str, Any]:
    """The options, their defaults, ranges and choices as JSON (the API's ``GET /options``, read by its page)."""
    defaults = JobSettings(database=None)
    return {
        "presets": [{"name": p.name, "depth_db": p.depth_db, "leveller": p.leveller, "description": p.description}
                    for p in MIX_PRESETS.values()],
        "defaults": {"preset": defaults.preset, "target_lufs": defaults.target_lufs, "music_db": defaults.music_db,
                     "intro_s": defaults.intro_s, "outro_s": defaults.outro_s, "leveller": defaults.leveller},
        "ranges": {k: {"min": lo, "max": hi, "unit": unit} for k, (lo, hi, unit, _) in RANGES.items()},
        "choices": {k: list(v) for k, v in CHOICES.items()},
    }


@dataclass(frozen=True)
class JobSettings:
    """Options of one mix job (flags → environment → these defaults)."""

    music: Path | None = None  # force this track (``--music``); rule "forced"
    library: str | None = None  # catalog name/URL or a folder (``--library``); None: default catalog
    #: the default catalog's SQLAlchemy URL (``--database``, else ``MOODMIX_DATABASE_URL``, else the SQLite file
    #: under MOODMIX_HOME): the catalog every front end (mix, suggest, batch, worker, API) chooses from
    database: str | None = field(default_factory=lambda: env_setting("MOODMIX_DATABASE_URL"))
    mood: str | None = None  # override the detected mood (``--mood``)
    preset: Preset = DEFAULT_PRESET  # type: ignore[assignment]
    target_lufs: float = DEFAULT_TARGET_LUFS
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

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, labels: Mapping[str, str] | None = None,
                     emotion_from_env: bool = True) -> "JobSettings":
        """The one mapping from a front end's options to a job: the CLI's flags, an API job's manifest, a batch,
        the bot. Keys are :class:`JobSettings` field names (``format`` is taken for ``output_format``); ``None``
        means "not given" (the default). Every value is checked (:func:`check_option`) and the options are checked
        together (``keep_ambience_db`` needs ``separate``; ``music`` and ``library`` exclude each other). The
        emotion models come from ``MOODMIX_*_MODEL`` (:func:`emotion_settings_from_env`) when the pass will run.

        ``labels`` names options in messages (``{"target_lufs": "--target-lufs"}``); default the option's name.

        Raises
        ------
        InvalidOptionError
            A bad value or combination, or an option no job has.
        """
        labels = labels or {}
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in options.items():
            name = "output_format" if key == "format" else key
            if name not in known:
                raise InvalidOptionError(f"{labels.get(name, name)} is not a job option", name)
            if value is None:
                continue
            kwargs[name] = check_option(name, value, label=labels.get(name))
        for name in ("music", "stems_dir", "report_path"):
            if name in kwargs and not isinstance(kwargs[name], Path):
                kwargs[name] = Path(str(kwargs[name]))
        if "avoid_tracks" in kwargs:
            kwargs["avoid_tracks"] = tuple(kwargs["avoid_tracks"])

        def label(name: str) -> str:
            return labels.get(name, name)

        if kwargs.get("music") is not None and kwargs.get("library") is not None:
            raise InvalidOptionError(f"give either {label('music')} or {label('library')}, not both", "music")
        if kwargs.get("keep_ambience_db") is not None and not kwargs.get("separate"):
            raise InvalidOptionError(f"{label('keep_ambience_db')} needs {label('separate')} (it sets how far down "
                                     "the separated background stays)", "keep_ambience_db")
        settings = cls(**kwargs)
        if emotion_from_env and settings.emotion is None and settings.runs_emotion:
            settings = settings.with_(emotion=emotion_settings_from_env())
        return settings

    @property
    def runs_emotion(self) -> bool:
        """Whether the emotion pass runs: only when the output needs it to choose music (or it is asked for)."""
        return self.emotion_skip_reason is None

    @property
    def emotion_skip_reason(self) -> str | None:
        """Why the emotion pass does not run (for the report), or None when it runs."""
        if not self.analyse_emotion:
            return "emotion pass turned off (--no-emotion)"
        if self.music is not None and not self.follow_mood and not self.emotion_with_music:
            return ("the music was given (--music), so no mood was needed to choose it; --analyse-emotion runs it "
                    "anyway")
        return None


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
