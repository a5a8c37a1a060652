"""The emotion pass as one call: real speech, no speech, model settings, models loaded once, offline defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import InvalidAudioError, ModelLoadError
from models.emotion_pass import EmotionSettings, analyse_speech, analyse_text, load_models
from models.types import LABELS

REPO = Path(__file__).resolve().parents[2]
VOICE_ONLY = EmotionSettings(use_text=False)


def _segments_of(audio: np.ndarray, sr: int) -> list[tuple[float, float]]:
    """The emodb_speech fixture's utterances: non-silent stretches (it has 1.5 s of digital silence between)."""
    from mixer.vad import detect_speech

    return list(detect_speech(audio, sr).segments)


def test_voice_only_pass_on_real_speech(emodb_speech) -> None:
    audio, sr = emodb_speech
    segs = _segments_of(audio, sr)
    seen: list[float] = []
    res = analyse_speech(audio, sr, segs, settings=VOICE_ONLY, progress=seen.append)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    assert len(res.timeline) == len(segs) >= 5
    assert not res.overall.neutral and sum(res.overall.labels.values()) == pytest.approx(1.0)
    assert res.sources["voice"] is not None and res.sources["text"] is None
    d = res.to_dict()
    assert set(d["labels"]) == set(LABELS)
    assert {"valence", "arousal", "confidence", "sources", "transcript", "timeline"} <= set(d)
    assert d["language"] == "" and d["language_probability"] is None and d["translation"] == ""  # no words heard
    t0 = d["timeline"][0]
    assert {"start", "end", "labels", "valence", "arousal"} <= set(t0)
    json.dumps(d)  # serialisable as is


def test_timeline_follows_the_emotions_of_the_utterances(emodb_dir) -> None:
    """An angry then a sad stretch of one speaker: the timeline's arousal falls from the first to the second."""
    import soundfile as sf

    from tests.conftest import emodb_manifest

    rows = emodb_manifest()
    ang = [r for r in rows if r["speaker"] == "16" and r["emotion"] == "anger"][:2]
    sad = [r for r in rows if r["speaker"] == "16" and r["emotion"] == "sadness"][:2]
    parts, segs, t = [], [], 0.0
    for r in ang + sad:
        y, sr = sf.read(emodb_dir / r["path"], dtype="float32")
        parts += [y, np.zeros(sr // 2, np.float32)]
        segs.append((t, t + len(y) / sr))
        t += len(y) / sr + 0.5
    res = analyse_speech(np.concatenate(parts)[None], sr, segs, settings=VOICE_ONLY)
    aro = [x.estimate.arousal for x in res.timeline]
    assert min(aro[:2]) > max(aro[2:])
    assert res.timeline[0].estimate.top() == "anger"


@pytest.mark.parametrize("segments", [[], [(0.5, 2.0)]])
def test_no_speech_gives_a_flagged_neutral(segments) -> None:
    silence = np.zeros((1, 3 * 16000), np.float32)
    res = analyse_speech(silence, 16000, segments, settings=VOICE_ONLY)
    assert res.overall.neutral and res.overall.confidence == 0.0
    assert res.to_dict()["neutral"] is True


def test_empty_text_is_neutral_and_flagged() -> None:
    out = analyse_text(["", "   "], settings=EmotionSettings(text_model="none"))
    assert all(e.neutral for e in out)


def test_bad_model_setting_names_it(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="nowhere.npz"):
        load_models(EmotionSettings(voice_model=str(tmp_path / "nowhere.npz"), use_text=False))


def test_bad_audio_is_refused() -> None:
    with pytest.raises(InvalidAudioError):
        analyse_speech(np.full((1, 100), np.inf, np.float32), 16000, [(0.0, 0.005)], settings=VOICE_ONLY)


@pytest.mark.model
def test_models_are_loaded_once_per_process() -> None:
    a = load_models(EmotionSettings())
    b = load_models(EmotionSettings())
    assert a.keys() == {"voice", "text", "asr", "language"}  # language: base, which detects and translates
    assert all(a[k] is b[k] for k in a)


@pytest.mark.model
@pytest.mark.slow
def test_full_pass_offline_in_a_fresh_process(emodb_dir: Path, tmp_path: Path) -> None:
    """Defaults load with the hub switched off: voice + Whisper + text on real speech, and typed text."""
    script = r"""
import json, sys
from tests.conftest import EMODB, emodb_manifest
import numpy as np, soundfile as sf
from models.emotion_pass import analyse_speech, analyse_text
rows = [r for r in emodb_manifest() if r["speaker"] == "03"][:3]
parts, segs, t = [], [], 0.0
for r in rows:
    y, sr = sf.read(EMODB / r["path"], dtype="float32")
    parts += [y, np.zeros(sr, np.float32)]; segs.append((t, t + len(y) / sr)); t += len(y) / sr + 1.0
res = analyse_speech(np.concatenate(parts)[None], sr, segs)
txt = analyse_text(["I love you so much", "This is terrifying", ""])
print(json.dumps({"analysis": res.to_dict(), "text": [e.to_dict() for e in txt]}))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO),
           "HF_HOME": str(tmp_path / "empty-hf-home")}  # no cache to fall back on either
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    d = json.loads(out.stdout.strip().splitlines()[-1])
    a = d["analysis"]
    assert a["models"] == {"voice": "default", "text": "default", "asr": "default", "language": "base"}
    assert a["language"] == "de" and a["translation"].strip()  # EmoDB speaks German: translated for the text model
    assert len(a["timeline"]) == 3 and a["transcript"].strip()
    assert a["sources"]["voice"] and a["sources"]["text"]
    love, fear, empty = d["text"]
    assert max(love["labels"], key=love["labels"].get) == "love"
    assert max(fear["labels"], key=fear["labels"].get) == "fear"
    assert empty["neutral"] is True


def test_dashboard_draws_speech_text_and_no_speech(emodb_speech, tmp_path: Path) -> None:
    from models.dashboard import plot_dashboard

    audio, sr = emodb_speech
    res = analyse_speech(audio, sr, _segments_of(audio, sr), settings=VOICE_ONLY)
    silent = analyse_speech(np.zeros((1, 16000), np.float32), 16000, [], settings=VOICE_ONLY)
    for name, result in (("speech", res), ("silent", silent), ("text", res.overall)):
        out = plot_dashboard(result, tmp_path / f"{name}.png", title=name)
        assert out.stat().st_size > 10_000
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_words_go_back_to_their_speech_piece_across_asr_blocks(monkeypatch) -> None:
    """Only speech is transcribed (pieces laid end to end); each word returns to the piece it was spoken in."""
    from models import words
    from models.asr import Transcript, TranscriptSegment, Word

    monkeypatch.setattr(words, "_ASR_BLOCK_S", 7.0)  # force several blocks
    sr = 16000
    pieces = [(1.0, 3.0), (10.0, 12.0), (20.0, 23.0), (30.0, 31.0)]
    x = np.zeros(40 * sr, np.float32)
    for k, (a, b) in enumerate(pieces):  # mark each piece with its own amplitude so the fake ASR can read it
        x[int(a * sr):int(b * sr)] = 0.1 * (k + 1)
    calls: list[float] = []

    class FakeAsr:  # English-only, as tiny.en: no language detection without a language model
        name, multilingual, workers = "fake", False, 1

        def transcribe(self, audio: np.ndarray, sr: int, **_: object) -> Transcript:
            calls.append(audio.size / sr)
            words = []
            level = np.round(np.abs(audio) * 10).astype(int)
            edges = np.flatnonzero(np.diff(np.r_[0, level, 0]) != 0)
            for s, e in zip(edges[:-1], edges[1:]):
                if level[s]:
                    words.append(Word(s / sr, e / sr, f"w{level[s]}", 0.9))
            seg = TranscriptSegment(0.0, audio.size / sr, " ".join(w.word for w in words), tuple(words))
            return Transcript(seg.text, (seg,), "en")

    heard = words.hear_words(x, pieces, asr=FakeAsr())  # type: ignore[arg-type]
    assert heard.texts == ("w1", "w2", "w3", "w4")
    assert len(calls) >= 2 and max(calls) <= 7.0 + 0.3 * 2  # blocks of compacted speech, not the whole input
    assert sum(calls) < 12.0  # 8 s of speech + gaps, never the 40 s input
    assert heard.transcript.split() == ["w1", "w2", "w3", "w4"]
    assert heard.language == "en" and heard.language_probability is None  # assumed, not detected
    assert heard.translation == "" and heard.note == ""


@pytest.mark.model
def test_voice_model_reads_the_transcripts_encoder_pass(monkeypatch, tmp_path: Path) -> None:
    """English speech: Whisper tiny.en encodes each window once, for the words and the voice model together."""
    import shutil

    import soundfile as sf

    from models import voice_emotion
    from models.voice_emotion import load_voice_model

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (scripts/services.sh installs it)")
    wav = tmp_path / "s.wav"
    script = ("Hello everyone, thank you for watching. Today we are going to cook a simple dinner together, "
              "and I am so happy to see all of you here tonight.")
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), script], check=True, capture_output=True)
    y, sr = sf.read(wav, dtype="float32")
    audio = np.concatenate([y, np.zeros(sr, np.float32), y])[None]
    n = len(y) / sr
    segs = [(0.0, n), (n + 1.0, 2 * n + 1.0)]
    own_calls: list[int] = []
    real = voice_emotion.WhisperEncoder.encode
    monkeypatch.setattr(voice_emotion.WhisperEncoder, "encode",
                        lambda self, a: own_calls.append(1) or real(self, a))
    settings = EmotionSettings(language_model="none")  # tiny.en for the words: the voice model's own encoder
    res = analyse_speech(audio, sr, segs, settings=settings)
    assert res.transcript.lower().count("dinner") == 2
    assert own_calls == []  # every window's frames came from the transcript's pass
    separate = load_voice_model("default").predict_many([audio[0, int(a * sr):int(b * sr)] for a, b in segs], sr)
    assert len(own_calls) >= 1  # the voice model alone encodes for itself
    from models.fusion import overall

    alone = overall([(b - a, e) for (a, b), e in zip(segs, separate)])
    voice = res.sources["voice"]
    assert voice is not None and voice.top() == alone.top()
    assert voice.arousal == pytest.approx(alone.arousal, abs=0.05)
    assert voice.confidence == pytest.approx(alone.confidence, abs=0.05)
