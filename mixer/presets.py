"""The mix presets and the job defaults: the one place each is defined.

A preset says how far the music sits under speech and how firmly the voice is levelled. The DSP layer
(:mod:`mixer.mixdown`, :mod:`mixer.leveller`), the job settings (:mod:`moodmix.settings`), the CLI, the HTTP API, its
page (``GET /options``), batch and the bot all read these; none repeats a value. Light on purpose (no numpy), so the
API can validate a form without loading the DSP stack.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_PRESET", "DEFAULT_TARGET_LUFS", "LEVELLERS", "PRESETS", "MixPreset"]


@dataclass(frozen=True)
class MixPreset:
    """One preset: the music's depth under speech (dB below the voice's short-term loudness) and the leveller."""

    name: str
    depth_db: float
    leveller: str  # a mixer.leveller firmness: gentle, medium, firm (or off)
    description: str


#: podcast 18 dB; vlog 12 dB (a livelier bed, firm levelling for phone speakers and noisy rooms); clear 20 dB
#: (WCAG 2.x SC 1.4.7: background at least 20 dB below the foreground speech).
PRESETS: dict[str, MixPreset] = {
    "podcast": MixPreset("podcast", 18.0, "medium", "music 18 dB under the voice"),
    "vlog": MixPreset("vlog", 12.0, "firm", "livelier: music 12 dB under, firmer levelling"),
    "clear": MixPreset("clear", 20.0, "medium", "most intelligible: music 20 dB under"),
}

DEFAULT_PRESET = "podcast"

#: Integrated loudness of the mix (LUFS): −16 is the common podcast/streaming delivery level (AES TD1004 for
#: mobile listening; Apple Podcasts and Spotify normalise near −16/−14).
DEFAULT_TARGET_LUFS = -16.0

#: Voice leveller settings (:data:`mixer.leveller.LEVELLER_PRESETS` holds the firmness of each but ``auto``, which
#: takes the preset's).
LEVELLERS: tuple[str, ...] = ("auto", "off", "gentle", "medium", "firm")
