"""One source of each setting (issue 12 §4): presets, formats, defaults and ranges are defined once and every front
end maps its options to a job through ``JobSettings.from_options``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import InvalidOptionError, MoodmixError
from moodmix.settings import (
    CHOICES,
    DEFAULT_PRESET,
    DEFAULT_TARGET_LUFS,
    PRESETS,
    RANGES,
    JobSettings,
    check_option,
    option_catalogue,
)


def test_every_layer_reads_the_same_presets_formats_and_levellers() -> None:
    from mixer import formats, presets
    from mixer.leveller import LEVELLER_PRESETS, PRESET_LEVELLER
    from mixer.mixdown import DEPTH_PRESETS, MixSettings
    from workers.bot.prefs import FORMATS as BOT_FORMATS
    from workers.bot.prefs import PRESETS as BOT_PRESETS
    from workers.config import OUTPUT_FORMATS

    assert DEPTH_PRESETS == PRESETS == {n: p.depth_db for n, p in presets.PRESETS.items()}
    assert PRESET_LEVELLER == {n: p.leveller for n, p in presets.PRESETS.items()}
    assert BOT_PRESETS == tuple(PRESETS) == CHOICES["preset"]
    assert set(BOT_FORMATS) <= set(OUTPUT_FORMATS)
    assert OUTPUT_FORMATS == formats.OUTPUT_FORMATS == CHOICES["output_format"]
    assert set(CHOICES["leveller"]) == {"auto", *LEVELLER_PRESETS}
    defaults = JobSettings(database=None)
    assert (defaults.preset, defaults.target_lufs) == (DEFAULT_PRESET, DEFAULT_TARGET_LUFS)
    assert MixSettings().target_lufs == DEFAULT_TARGET_LUFS
    assert MixSettings().depth_db == PRESETS[DEFAULT_PRESET] == MixSettings.for_preset(DEFAULT_PRESET).depth_db


@pytest.mark.parametrize("name", sorted(RANGES))
def test_each_range_is_enforced_at_both_ends_with_the_label(name: str) -> None:
    lo, hi, unit, _ = RANGES[name]
    assert check_option(name, lo) == lo and check_option(name, str(hi)) == hi
    for bad in (lo - 0.5, hi + 0.5, float("nan"), float("inf")):
        with pytest.raises(InvalidOptionError, match=f"--{name} must be between") as info:
            check_option(name, bad, label=f"--{name}")
        assert info.value.option == name and unit in str(info.value)
    with pytest.raises(InvalidOptionError, match="must be a number"):
        check_option(name, "loud")


def test_choices_are_checked_and_normalised() -> None:
    assert check_option("preset", " Vlog ") == "vlog"
    assert check_option("output_format", ".MP3") == "mp3"
    with pytest.raises(InvalidOptionError, match="preset must be one of podcast, vlog, clear, got 'loud'"):
        check_option("preset", "loud")
    with pytest.raises(InvalidOptionError, match="format must be one of wav, flac"):
        check_option("output_format", "exe", label="format")
    assert check_option("mood", "whatever") == "whatever"  # options without a rule pass through


def test_from_options_builds_the_job_the_cli_and_the_api_would() -> None:
    s = JobSettings.from_options({"preset": "vlog", "target_lufs": "-14", "format": "m4a", "intro_s": 1,
                                  "avoid_tracks": ["a", "b"], "stems_dir": "/tmp/stems", "mood": None})
    assert (s.preset, s.target_lufs, s.output_format, s.intro_s) == ("vlog", -14.0, "m4a", 1.0)
    assert s.avoid_tracks == ("a", "b") and s.stems_dir == Path("/tmp/stems") and s.mood is None
    assert s.runs_emotion and s.emotion is not None  # the pass runs, so its models come from the environment
    given = JobSettings.from_options({"music": "song.wav"})
    assert not given.runs_emotion and given.emotion is None and "--music" in (given.emotion_skip_reason or "")
    asked = JobSettings.from_options({"music": "song.wav", "emotion_with_music": True})
    assert asked.runs_emotion and asked.emotion is not None
    off = JobSettings.from_options({"analyse_emotion": False})
    assert not off.runs_emotion and off.emotion is None


def test_from_options_refuses_bad_combinations_naming_the_flags() -> None:
    flags = {"music": "--music", "library": "--library", "keep_ambience_db": "--keep-ambience",
             "separate": "--separate"}
    with pytest.raises(InvalidOptionError, match="give either --music or --library, not both"):
        JobSettings.from_options({"music": "a.wav", "library": "/music"}, labels=flags)
    with pytest.raises(InvalidOptionError, match="--keep-ambience needs --separate"):
        JobSettings.from_options({"keep_ambience_db": 12}, labels=flags)
    with pytest.raises(MoodmixError, match="loudness is not a job option"):
        JobSettings.from_options({"loudness": -14})
    assert JobSettings.from_options({"keep_ambience_db": 12, "separate": True}).keep_ambience_db == 12.0


def test_the_option_catalogue_is_json_and_matches_the_definitions() -> None:
    cat = json.loads(json.dumps(option_catalogue()))
    assert [p["name"] for p in cat["presets"]] == list(PRESETS)
    assert [p["depth_db"] for p in cat["presets"]] == list(PRESETS.values())
    assert cat["defaults"]["preset"] == DEFAULT_PRESET and cat["defaults"]["target_lufs"] == DEFAULT_TARGET_LUFS
    assert cat["ranges"]["target_lufs"] == {"min": RANGES["target_lufs"][0], "max": RANGES["target_lufs"][1],
                                            "unit": RANGES["target_lufs"][2]}
    assert cat["choices"]["output_format"] == list(CHOICES["output_format"])
