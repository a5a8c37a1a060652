"""Issue 12 §2: with --music (and no --follow-mood) the emotion pass does not run unless asked; the report says
why it was skipped."""

from __future__ import annotations

import pytest
import soundfile as sf

from moodmix import pipeline
from moodmix.settings import JobSettings

pytestmark = pytest.mark.ffmpeg


@pytest.fixture
def voice(tmp_path, emodb_speech):
    audio, sr = emodb_speech
    path = tmp_path / "talk.wav"
    sf.write(path, audio.T, sr)
    return path


def _count_emotion_calls(monkeypatch):
    import models.emotion_pass

    calls = []

    def fake(audio, sr, segments, **kw):
        calls.append(len(segments))
        raise AssertionError("the emotion pass ran")

    monkeypatch.setattr(models.emotion_pass, "analyse_speech", fake)
    return calls


def test_given_music_runs_no_emotion_pass(tmp_path, voice, builtin_track, monkeypatch):
    calls = _count_emotion_calls(monkeypatch)
    rep = pipeline.mix_file(voice, tmp_path / "out.wav", settings=JobSettings(music=builtin_track))
    assert calls == []
    assert rep["emotion"] is None
    assert "--music" in rep["emotion_skipped"] and "--analyse-emotion" in rep["emotion_skipped"]
    assert "emotion" not in rep["timings_s"]


def test_analyse_emotion_runs_it_with_music(tmp_path, voice, builtin_track, monkeypatch):
    calls = _count_emotion_calls(monkeypatch)
    with pytest.raises(AssertionError, match="the emotion pass ran"):
        pipeline.mix_file(voice, tmp_path / "out.wav",
                          settings=JobSettings(music=builtin_track, emotion_with_music=True))
    assert calls and calls[0] > 0


def test_no_emotion_is_reported_as_skipped(tmp_path, voice, builtin_track):
    rep = pipeline.mix_file(voice, tmp_path / "out.wav",
                            settings=JobSettings(music=builtin_track, analyse_emotion=False))
    assert rep["emotion_skipped"] == "emotion pass turned off (--no-emotion)"
