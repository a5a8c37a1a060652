"""Speech activity on real emodb speech, silence and noise; the Silero ONNX paths and the energy fallback."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from core.errors import InvalidAudioError
from mixer import vad
from mixer.vad import SpeechActivity, detect_speech


def _energy_labels(audio: np.ndarray, sr: int) -> list[tuple[float, float]]:
    """Per utterance (2 s clips, 1.5 s pauses), the first/last 10 ms frame within 35 dB of the loudest frame."""
    x = audio[0].astype(np.float64)
    hop = sr // 100
    frames = x[: x.size // hop * hop].reshape(-1, hop)
    level = 10 * np.log10((frames**2).mean(axis=1) + 1e-12)
    active = level > level.max() - 35
    labels = []
    for k in range(6):
        a, b = int(round(k * 3.5 * 100)), int(round((k * 3.5 + 2.0) * 100))
        idx = np.flatnonzero(active[a:b])
        labels.append(((a + idx[0]) / 100, (a + idx[-1] + 1) / 100))
    return labels


@pytest.fixture(scope="module")
def emodb_at(emodb_speech):
    audio, sr = emodb_speech

    def at(target_sr: int) -> np.ndarray:
        if target_sr == sr:
            return audio
        return soxr.resample(audio[0], sr, target_sr).astype(np.float32)[None]

    return at


@pytest.mark.model
@pytest.mark.parametrize("sr", [16000, 44100, 48000])
def test_silero_finds_emodb_utterances(emodb_speech, emodb_at, sr):
    audio, native_sr = emodb_speech
    labels = _energy_labels(audio, native_sr)
    act = detect_speech(emodb_at(sr), sr, pad_ms=0)
    assert act.method == "silero"
    assert len(act.segments) == 6
    for (s, e), (ls, le) in zip(act.segments, labels):
        assert abs(s - ls) <= 0.2 and abs(e - le) <= 0.2, (act.segments, labels)
    assert act.duration_s == pytest.approx(audio.shape[1] / native_sr, abs=1e-3)


@pytest.mark.model
def test_padding_widens_and_ratio_counts(emodb_speech):
    audio, sr = emodb_speech
    tight = detect_speech(audio, sr, pad_ms=0)
    padded = detect_speech(audio, sr, pad_ms=150)
    assert padded.speech_ratio > tight.speech_ratio
    for (s0, e0), (s1, e1) in zip(tight.segments, padded.segments):
        assert s1 <= s0 and e1 >= e0
    assert 0.4 < tight.speech_ratio < 0.7  # 6 x ~1.8 s of speech in 21 s


@pytest.mark.model
@pytest.mark.parametrize("kind", ["silence", "white", "brown"])
def test_no_speech_in_silence_or_noise(kind, rng):
    sr = 16000
    n = sr * 8
    if kind == "silence":
        x = np.zeros(n)
    elif kind == "white":
        x = 0.1 * rng.standard_normal(n)
    else:
        x = np.cumsum(rng.standard_normal(n))
        x = 0.2 * (x - x.mean()) / np.abs(x - x.mean()).max()
    act = detect_speech(x.astype(np.float32)[None], sr)
    assert act.method == "silero"
    assert act.segments == ()
    assert act.speech_ratio == 0.0


@pytest.mark.model
def test_streaming_export_agrees_with_sequence_export(emodb_speech):
    audio, sr = emodb_speech
    paths = vad._model_candidates()
    streaming = [p for p in paths if p.name == "silero_vad.onnx"]
    if not streaming:
        pytest.skip("streaming Silero export not installed")
    a = detect_speech(audio, sr)
    b = detect_speech(audio, sr, model_path=streaming[0])
    assert b.method == "silero"
    assert len(a.segments) == len(b.segments)
    np.testing.assert_allclose(np.asarray(a.segments), np.asarray(b.segments), atol=0.07)


def test_energy_fallback_when_model_missing(emodb_speech, tmp_path, monkeypatch):
    audio, sr = emodb_speech
    labels = _energy_labels(audio, sr)
    monkeypatch.setattr(vad, "_model_candidates", lambda: [tmp_path / "missing.onnx"])
    act = detect_speech(audio, sr, pad_ms=0)
    assert act.method == "energy"
    assert len(act.segments) == 6
    for (s, e), (ls, le) in zip(act.segments, labels):
        assert abs(s - ls) <= 0.25 and abs(e - le) <= 0.25


def test_energy_fallback_on_a_broken_model_file_and_noise(tmp_path, rng):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    noise = (0.1 * rng.standard_normal((1, 16000 * 5))).astype(np.float32)
    act = detect_speech(noise, 16000, model_path=broken)
    assert act.method == "energy"
    assert act.segments == ()


def test_does_not_mutate_input(emodb_speech):
    audio, sr = emodb_speech
    before = audio.copy()
    detect_speech(audio, sr)
    np.testing.assert_array_equal(audio, before)


def test_speech_ratio_property():
    act = SpeechActivity(segments=((0.0, 1.0), (2.0, 4.0)), method="silero", duration_s=10.0)
    assert act.speech_ratio == pytest.approx(0.3)
    assert SpeechActivity((), "energy", 0.0).speech_ratio == 0.0


@pytest.mark.parametrize(
    "audio, sr, match",
    [
        (np.zeros(1000, np.float32), 16000, "2-D"),
        (np.zeros((1, 1000), np.int16), 16000, "float32"),
        (np.zeros((1, 0), np.float32), 16000, "empty"),
        (np.full((1, 100), np.nan, np.float32), 16000, "non-finite"),
        (np.zeros((1, 1000), np.float32), -1, "sample rate"),
        (np.zeros((1000, 2), np.float32), 16000, "transpose"),
    ],
)
def test_bad_input_raises(audio, sr, match):
    with pytest.raises(InvalidAudioError, match=match):
        detect_speech(audio, sr)
