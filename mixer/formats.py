"""The output formats moodmix writes: one table, read by the renderer, the CLI, the API, batch and the bot.

Light on purpose (no numpy): the HTTP API validates a requested format with it without loading the DSP stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import UnsupportedFormatError

__all__ = ["AUDIO_FORMATS", "OUTPUT_FORMATS", "VIDEO_FORMATS", "OutputFormat", "output_format"]


@dataclass(frozen=True)
class OutputFormat:
    """How one output extension is written."""

    ext: str
    muxer: str
    codec: str
    options: tuple[tuple[str, str], ...] = ()
    video: bool = False
    fixed_sr: int | None = None  # codecs that only take one rate (Opus: 48 kHz)
    lossy: bool = False  # perceptual codecs: decoded peaks rise a few tenths of a dB above the PCM's

    @property
    def true_peak_ceiling_dbtp(self) -> float:
        """Limiter ceiling for this format: -1 dBTP (EBU R128), -1.5 dBTP before a lossy encoder.

        AAC and Opus at these bitrates were measured to raise the decoded true peak by ~0.2 dB over the limited
        PCM (-0.88 / -0.81 dBTP from a -1.0 dBTP ceiling); AES TD1004 advises extra headroom for lossy delivery.
        """
        return -1.5 if self.lossy else -1.0


AUDIO_FORMATS: dict[str, OutputFormat] = {
    "wav": OutputFormat("wav", "wav", "pcm_s24le"),
    "flac": OutputFormat("flac", "flac", "flac", (("sample_fmt", "s32"), ("bits_per_raw_sample", "24"))),
    "mp3": OutputFormat("mp3", "mp3", "libmp3lame", (("b:a", "192k"),), lossy=True),
    "m4a": OutputFormat("m4a", "ipod", "aac", (("b:a", "192k"),), lossy=True),
    "aac": OutputFormat("aac", "adts", "aac", (("b:a", "192k"),), lossy=True),
    "ogg": OutputFormat("ogg", "ogg", "libopus", (("b:a", "128k"),), fixed_sr=48000, lossy=True),
    "opus": OutputFormat("opus", "opus", "libopus", (("b:a", "128k"),), fixed_sr=48000, lossy=True),
}

VIDEO_FORMATS: dict[str, OutputFormat] = {
    "mp4": OutputFormat("mp4", "mp4", "aac", (("b:a", "192k"), ("movflags", "+faststart")), video=True, lossy=True),
    "m4v": OutputFormat("m4v", "mp4", "aac", (("b:a", "192k"), ("movflags", "+faststart")), video=True, lossy=True),
    "mov": OutputFormat("mov", "mov", "aac", (("b:a", "192k"),), video=True, lossy=True),
    "mkv": OutputFormat("mkv", "matroska", "aac", (("b:a", "192k"),), video=True, lossy=True),
    "webm": OutputFormat("webm", "webm", "libopus", (("b:a", "128k"),), video=True, fixed_sr=48000, lossy=True),
}

#: Every extension moodmix writes, audio first.
OUTPUT_FORMATS: tuple[str, ...] = (*AUDIO_FORMATS, *VIDEO_FORMATS)


def output_format(path: str | Path, *, has_video: bool) -> OutputFormat:
    """The :class:`OutputFormat` for an output path's extension.

    Raises
    ------
    UnsupportedFormatError
        Unknown extension, or a video container asked for an audio-only input.
    """
    ext = Path(path).suffix.lower().lstrip(".")
    if ext in AUDIO_FORMATS:
        return AUDIO_FORMATS[ext]
    if ext in VIDEO_FORMATS:
        if not has_video:
            raise UnsupportedFormatError(
                f"output {Path(path).name} is a video container but the input has no video; "
                f"use one of .{', .'.join(AUDIO_FORMATS)}"
            )
        return VIDEO_FORMATS[ext]
    allowed = list(AUDIO_FORMATS) + (list(VIDEO_FORMATS) if has_video else [])
    raise UnsupportedFormatError(
        f"cannot write '.{ext}' files (output {Path(path).name}); use one of .{', .'.join(allowed)}"
        if ext else f"output {Path(path).name} has no extension; use one of .{', .'.join(allowed)}"
    )
