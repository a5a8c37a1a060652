"""Source separation: clean voice out of a vlog (DeepFilterNet3, Demucs) and instrumentals out of songs (Spleeter).

Modules, the demucs way: :mod:`.isolate` (one call, :func:`isolate_voice`), :mod:`.accompaniment` (songs),
one wrapper per model (:mod:`.deepfilter`, :mod:`.spleeter`, :mod:`.demucs_sep`), weight finding and
checking in :mod:`.weights`, chunked application in :mod:`.apply`.
"""

from .accompaniment import (
    InstrumentalSeparation,
    instrumental_file,
    make_instrumental,
    make_instrumental_file,
)
from .isolate import SEPARATORS, Separation, get_separator, isolate_voice, keep_ambience

__all__ = [
    "SEPARATORS",
    "InstrumentalSeparation",
    "Separation",
    "get_separator",
    "instrumental_file",
    "isolate_voice",
    "keep_ambience",
    "make_instrumental",
    "make_instrumental_file",
]
