"""The typed report (moodmix/report.py) gives the JSON object DESIGN.md documents: the same keys, in order, with
levels rounded once and silence as null."""

from __future__ import annotations

import json

from moodmix.report import InputSection, MixReport, MixSection, OutputSection, SpeechSection, level_or_none


def _report(segments: tuple[tuple[float, float], ...]) -> dict:
    return MixReport(
        input=InputSection("in.wav", 12.34567, False, 48000, 2, "wav"),
        output=OutputSection("out.m4a", "m4a", 48000, 14.00049, False, None),
        speech=SpeechSection(segments, 0.512345, "silero"),
        emotion=None, emotion_skipped="emotion pass turned off (--no-emotion)",
        music={"track": "calm-1"},
        mix=MixSection(integrated_lufs=-16.004, true_peak_dbtp=float("-inf"), speech_to_music_db=18.456,
                       preset="podcast", duck_db=None, depth_db=18.0, music_db=0.0, target_lufs=-16.0,
                       separation=None, leveller="medium", leveller_range_db=(-3.333, 4.444),
                       limiter_gr_p99_db=0.1234, limiter_gr_max_db=1.5678, decoded_lufs=float("nan")),
        timings_s={"total": 1.5},
    ).to_dict()


def test_keys_order_rounding_and_silence() -> None:
    d = _report(((0.12345, 2.5), (3.0, 4.25)))
    assert list(d) == ["input", "output", "speech", "emotion", "emotion_skipped", "music", "mix", "timings_s"]
    assert list(d["mix"]) == ["integrated_lufs", "true_peak_dbtp", "speech_to_music_db", "preset", "duck_db",
                              "depth_db", "music_db", "target_lufs", "separation", "leveller", "leveller_range_db",
                              "limiter_gr_p99_db", "limiter_gr_max_db", "decoded_lufs"]
    assert d["input"]["duration_s"] == 12.346 and d["output"]["duration_s"] == 14.0
    assert d["speech"] == {"segments": [[0.123, 2.5], [3.0, 4.25]], "speech_ratio": 0.5123, "method": "silero",
                           "found": True}
    assert d["mix"]["integrated_lufs"] == -16.0 and d["mix"]["true_peak_dbtp"] is None
    assert d["mix"]["decoded_lufs"] is None and d["mix"]["leveller_range_db"] == [-3.33, 4.44]
    assert (d["mix"]["limiter_gr_p99_db"], d["mix"]["limiter_gr_max_db"]) == (0.12, 1.57)
    json.dumps(d, allow_nan=False)  # valid JSON: no NaN or Infinity anywhere


def test_no_speech_carries_the_note() -> None:
    speech = _report(())["speech"]
    assert speech["found"] is False and "no speech found" in speech["note"]
    assert level_or_none(None) is None and level_or_none(-1.005) == -1.0
