"""Source separation: clean voice out of a vlog (DeepFilterNet3, Demucs) and instrumentals out of songs (Spleeter).

Modules, the demucs way: :mod:`.api` (one call, :func:`isolate_voice`), :mod:`.instrumental` (songs),
one wrapper per model (:mod:`.deepfilter`, :mod:`.spleeter`, :mod:`.demucs_sep`), weight finding and
checking in :mod:`.weights`, chunked application in :mod:`.apply`.
"""

from .api import SEPARATORS, Separation, get_separator, isolate_voice, keep_ambience
from .instrumental import InstrumentalSeparation, instrumental_file, make_instrumental, make_instrumental_file

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
