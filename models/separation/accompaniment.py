"""Instrumental versions of songs: a vocals / accompaniment split, and a FLAC of the accompaniment.

The library's ``library add --instrumental`` calls :func:`make_instrumental_file` and stores the result as a
derived track (the original file is never touched).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import OutputPathError, UnsupportedFormatError

from ._validate import check_audio
from .isolate import get_separator

__all__ = ["InstrumentalSeparation", "instrumental_file", "make_instrumental", "make_instrumental_file"]


@dataclass(frozen=True)
class InstrumentalSeparation:
    """A song split in two.

    Attributes
    ----------
    vocals, accompaniment : np.ndarray [shape=(channels, samples), dtype=float32]
        Summing to the input (accompaniment is defined as ``input - vocals``).
    sr : int
    method : str
    """

    vocals: np.ndarray
    accompaniment: np.ndarray
    sr: int
    method: str


def make_instrumental(audio: np.ndarray, sr: int, *, separator: str = "spleeter",
                      model_path: str | Path | None = None) -> InstrumentalSeparation:
    """Split a song into vocals and accompaniment (Spleeter 2 stems by default; ``"demucs"`` works too).

    Parameters
    ----------
    audio : np.ndarray [shape=(channels, samples)]
        Mono or stereo float audio at any rate (Spleeter runs at 44.1 kHz; rates are converted both ways).
    sr : int

    Returns
    -------
    InstrumentalSeparation
        Same shape and rate as the input.

    Raises
    ------
    InvalidAudioError, ModelLoadError
    """
    x = check_audio(audio, sr)
    model = get_separator(separator, model_path)
    if not np.any(x) or not hasattr(model, "separate"):
        if np.any(x):  # deepfilternet enhances speech; it is no singing-voice separator
            from core.errors import ModelLoadError

            raise ModelLoadError(f"separator {separator!r} cannot split songs; use spleeter or demucs")
        return InstrumentalSeparation(vocals=x.copy(), accompaniment=np.zeros_like(x), sr=int(sr),
                                      method=model.name)
    vocals, accompaniment = model.separate(x, int(sr))
    return InstrumentalSeparation(vocals=vocals, accompaniment=accompaniment, sr=int(sr), method=model.name)


def instrumental_file(src_path: str | Path, dst_path: str | Path, *, separator: str = "spleeter",
                      model_path: str | Path | None = None) -> Path:
    """Write the accompaniment of the song ``src_path`` to ``dst_path`` as a 24-bit FLAC at 44.1 kHz.

    The file is decoded by ffmpeg (any format it reads), separated in chunks and written atomically
    (a temporary file in the destination folder, then renamed), so a failed run leaves no partial file.

    Raises
    ------
    DecodeError
        ``src_path`` is missing or has no decodable audio.
    UnsupportedFormatError
        ``dst_path`` does not end in ``.flac``.
    OutputPathError
        ``dst_path`` is the source file or its folder cannot be written.
    """
    import soundfile as sf

    from mixer.decode import decode_audio, probe

    src, dst = Path(src_path), Path(dst_path)
    if dst.suffix.lower() != ".flac":
        raise UnsupportedFormatError(f"instrumental output must be a .flac file, got {dst.name}; "
                                     "name it e.g. song.instrumental.flac")
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise OutputPathError(f"instrumental output {dst} would overwrite the original song; choose another name")
    info = probe(src)
    channels = 1 if info.audio is not None and info.audio.channels == 1 else 2
    sr = 44_100
    audio, _ = decode_audio(src, sr=sr, channels=channels, info=info)
    result = make_instrumental(audio, sr, separator=separator, model_path=model_path)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".flac", prefix=".tmp-", dir=dst.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputPathError(f"cannot write the instrumental to {dst.parent}: {exc.strerror}") from exc
    try:
        peak = float(np.max(np.abs(result.accompaniment))) if result.accompaniment.size else 0.0
        acc = result.accompaniment / peak if peak > 1.0 else result.accompaniment  # never clip the FLAC
        sf.write(tmp, acc.T, sr, format="FLAC", subtype="PCM_24")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a library file should be readable like its siblings
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dst


def make_instrumental_file(src: Path, dst: Path) -> Path:
    """Library entry point: the Spleeter accompaniment of ``src`` written to ``dst`` (FLAC); returns ``dst``."""
    return instrumental_file(src, dst)
