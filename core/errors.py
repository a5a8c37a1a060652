"""The one tree of domain exceptions.

Every error a user can cause derives from :class:`MoodmixError`; the CLI prints its message on one line and
exits with status 1, the API turns it into a 4xx with the message as the reason. Messages say what was
expected, what arrived and what to try.
"""

from __future__ import annotations

__all__ = [
    "MoodmixError",
    "InvalidAudioError",
    "DecodeError",
    "InputLimitError",
    "UnsupportedFormatError",
    "OutputPathError",
    "ModelLoadError",
    "NoTrackFoundError",
    "CatalogError",
    "UnsupportedLanguageError",
    "InvalidOptionError",
]


class MoodmixError(Exception):
    """Root of every error moodmix raises on purpose (bad input, missing model, empty library)."""


class InvalidAudioError(MoodmixError, ValueError):
    """An array is not valid audio: wrong dtype/shape, non-finite values, empty, or a bad sample rate."""


class DecodeError(MoodmixError):
    """A file could not be read as media: missing, corrupt, truncated, no audio stream, zero length."""


class InputLimitError(DecodeError, ValueError):
    """Readable media outside what moodmix takes: a sample rate, channel count or amount of work over a limit.
    The message names the limit and the value."""


class UnsupportedFormatError(MoodmixError, ValueError):
    """An output extension or container that moodmix does not write."""


class OutputPathError(MoodmixError, ValueError):
    """An output path that would overwrite the input or cannot be written."""


class ModelLoadError(MoodmixError):
    """A model setting (name, path, hub id) that could not be loaded; the message names the setting."""


class NoTrackFoundError(MoodmixError):
    """The music library has no usable track for the request."""


class CatalogError(MoodmixError):
    """The music catalog could not be opened or a track id does not exist."""


class UnsupportedLanguageError(MoodmixError, ValueError):
    """Text in a language the configured model cannot read (e.g. Russian for the English text model)."""


class InvalidOptionError(MoodmixError, ValueError):
    """A job option out of its range or not one of its choices (``moodmix.settings.check_option``); the CLI prints
    it with the flag's name, the API answers 422 with it."""

    def __init__(self, message: str, option: str = "") -> None:
        super().__init__(message)
        self.option = option
