"""Probe + decode: round trips for every input format, the mono analysis copy, and every bad input's message."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from core.errors import DecodeError
from mixer.decode import ANALYSIS_SR, decode_audio, decode_voice, probe
from tests.signals import AUDIO_ENCODERS, VIDEO_ENCODERS, ffmpeg, write_audio, write_video

pytestmark = pytest.mark.ffmpeg


def _dominant_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * sr / len(x))


def _rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12))


@pytest.mark.parametrize("ext", sorted(AUDIO_ENCODERS))
def test_audio_round_trip(tmp_path, stereo_tone, ext):
    x, sr = stereo_tone
    path = write_audio(tmp_path / f"tone.{ext}", x, sr)
    d = decode_voice(path)
    assert d.audio.dtype == np.float32 and d.audio.ndim == 2 and d.audio.shape[0] == 2
    assert d.sr == 48000
    assert abs(d.duration_s - 2.0) < 0.06  # codec priming/padding only
    assert d.info.audio is not None and not d.info.has_video
    mid = slice(int(0.5 * sr), int(1.5 * sr))  # away from codec edge effects
    for ch, hz in ((0, 440.0), (1, 660.0)):
        assert abs(_dominant_hz(d.audio[ch, mid], sr) - hz) < 2.0
        assert abs(_rms_db(d.audio[ch, mid]) - _rms_db(x[ch, mid])) < 0.5
    if ext in ("wav", "flac"):  # lossless: sample-exact up to 16-bit quantisation
        np.testing.assert_allclose(d.audio, x, atol=1e-4)
    # the analysis copy: mono, 16 kHz, same length in seconds
    assert d.analysis.shape[0] == 1 and d.analysis.dtype == np.float32
    assert abs(d.analysis.shape[1] / ANALYSIS_SR - d.duration_s) < 0.01


@pytest.mark.parametrize("ext", sorted(VIDEO_ENCODERS))
def test_video_soundtrack_round_trip(tmp_path, sine_fn, ext):
    sr = 48000
    x = sine_fn(sr, 500.0, 2.0, channels=1, amplitude=0.3)
    path = write_video(tmp_path / f"clip.{ext}", 2.0, x, sr)
    info = probe(path)
    assert info.has_video and info.video is not None and info.audio is not None
    assert abs(info.video.fps - 25.0) < 1e-6
    assert abs(info.video.duration_s - 2.0) < 0.05
    d = decode_voice(path, info=info)
    assert d.audio.shape[0] == 1
    mid = slice(int(0.5 * sr), int(1.5 * sr))
    assert abs(_dominant_hz(d.audio[0, mid], sr) - 500.0) < 2.0
    assert abs(_rms_db(d.audio[0, mid]) - _rms_db(x[0, mid])) < 0.5


def test_mono_fold_is_the_mean_of_the_channels(tmp_path):
    """Not ffmpeg's downmix matrix (louder by up to 3 dB): left-only content folds to half its level."""
    sr = 44100
    t = np.arange(2 * sr) / sr
    left = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    x = np.stack([left, np.zeros_like(left)])
    path = tmp_path / "left.wav"
    sf.write(path, x.T, sr, subtype="FLOAT")
    d = decode_voice(path)
    assert d.audio.shape == (2, 2 * sr)
    assert abs(_rms_db(d.analysis[0, 8000:24000]) - (_rms_db(left) - 20 * np.log10(2))) < 0.1


def test_decode_resamples_and_folds_to_requested_layout(tmp_path, sine_fn):
    x = sine_fn(22050, 1000.0, 1.5, channels=1)
    path = tmp_path / "low.flac"
    sf.write(path, x.T, 22050)
    y, info = decode_audio(path, sr=48000, channels=2)
    assert info.audio is not None and info.audio.sample_rate == 22050
    assert y.shape[0] == 2 and abs(y.shape[1] - 72000) <= 2
    np.testing.assert_allclose(y[0], y[1])
    assert abs(_dominant_hz(y[0], 48000) - 1000.0) < 2.0


def test_cover_art_is_not_video(tmp_path, sine_fn):
    """An mp3 with an embedded picture is still audio-only (the picture stream is 'attached_pic')."""
    sr = 44100
    wav = tmp_path / "v.wav"
    sf.write(wav, sine_fn(sr, 300.0, 1.0).T, sr)
    png = tmp_path / "cover.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x64:d=1", "-frames:v", "1", str(png))
    mp3 = tmp_path / "with_cover.mp3"
    ffmpeg("-i", str(wav), "-i", str(png), "-map", "0:a", "-map", "1:v", "-c:a", "libmp3lame", "-c:v", "png",
           "-disposition:v", "attached_pic", str(mp3))
    info = probe(mp3)
    assert not info.has_video and info.audio is not None


# ---------------------------------------------------------------- bad inputs: one clear message each


def test_missing_file(tmp_path):
    with pytest.raises(DecodeError, match=r"input file not found: .*nope\.wav"):
        probe(tmp_path / "nope.wav")


def test_folder_is_not_media(tmp_path):
    with pytest.raises(DecodeError, match="is a folder"):
        probe(tmp_path)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.mp3"
    p.write_bytes(b"")
    with pytest.raises(DecodeError, match=r"empty \(0 bytes\)"):
        probe(p)


def test_corrupt_file(tmp_path, rng):
    p = tmp_path / "noise.m4a"
    p.write_bytes(rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(DecodeError, match="corrupt, truncated or not a media file"):
        decode_voice(p)


def test_text_file_is_not_media(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("this is not audio\n" * 100)
    with pytest.raises(DecodeError, match="cannot read notes.wav as audio or video"):
        decode_voice(p)


def test_truncated_mp3(tmp_path, stereo_tone):
    x, sr = stereo_tone
    full = write_audio(tmp_path / "full.mp3", np.tile(x, (1, 3)), sr)  # 6 s
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    with pytest.raises(DecodeError, match=r"cut\.mp3 is truncated: the header says 6\.00 s, the file holds [12]\.\d+ s"):
        decode_voice(cut)


def test_truncated_mp4(tmp_path, sine_fn):
    full = write_video(tmp_path / "full.mp4", 2.0, sine_fn(48000, 400.0, 2.0), 48000)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[:4000])
    with pytest.raises(DecodeError, match="cut.mp4.*corrupt, truncated"):
        decode_voice(cut)


def test_truncated_wav_is_refused_at_probe(tmp_path, sine_fn):
    """Regression (issue 12): the first 3,000 bytes of a 60 s WAV were mixed into a 1.3 s "mix" (PyAV takes a WAV's
    length from the file size). The header's data chunk says 60 s: refused before any decoding."""
    full = tmp_path / "full.wav"
    sf.write(full, sine_fn(48000, 220.0, 60.0).T, 48000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[:3000])
    with pytest.raises(DecodeError, match=r"^cut\.wav is truncated: the header says 60\.0 s, the file holds 0\.03 s"):
        probe(cut)
    assert probe(full).duration_s == pytest.approx(60.0)


def test_streamed_wav_without_a_data_size_is_not_refused(tmp_path, sine_fn):
    """A WAV written to a pipe has 0xFFFFFFFF as its data size: it promises nothing and decodes as it is."""
    import struct

    src = tmp_path / "src.wav"
    sf.write(src, sine_fn(16000, 220.0, 2.0).T, 16000, subtype="PCM_16")
    raw = bytearray(src.read_bytes())
    i = raw.index(b"data")
    raw[i + 4 : i + 8] = struct.pack("<I", 0xFFFFFFFF)
    piped = tmp_path / "piped.wav"
    piped.write_bytes(bytes(raw[: i + 8 + 16000]))  # and cut: no promise, no refusal
    assert probe(piped).audio is not None


@pytest.mark.parametrize("ext", ["flac", "m4a", "mp4"])
def test_truncated_exact_length_containers(tmp_path, sine_fn, ext):
    """FLAC (STREAMINFO) and MP4/M4A with the moov first (faststart) state their length: a demuxer that stops at
    2/3 of it is a truncated file, even when most of the audio is there."""
    x = sine_fn(48000, 220.0, 6.0)
    if ext == "mp4":
        full = write_video(tmp_path / "full.mp4", 6.0, x, 48000)
        from tests.signals import ffmpeg

        fs = tmp_path / "fs.mp4"
        ffmpeg("-i", str(full), "-c", "copy", "-movflags", "+faststart", str(fs))
        full = fs
    elif ext == "m4a":
        from tests.signals import ffmpeg

        src = write_audio(tmp_path / "src.flac", x, 48000)
        full = tmp_path / "full.m4a"
        ffmpeg("-i", str(src), "-c:a", "aac", "-movflags", "+faststart", str(full))
    else:
        full = write_audio(tmp_path / "full.flac", x, 48000)
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size * 2 // 3])
    with pytest.raises(DecodeError, match=rf"cut\.{ext} is truncated: the header says 6\.0\d s, the file holds [2-5]\.\d+ s"):
        decode_voice(cut)
    assert decode_voice(full).duration_s == pytest.approx(6.0, abs=0.05)


def test_video_without_audio(tmp_path):
    p = write_video(tmp_path / "silent_film.mp4", 1.0, None, 48000)
    with pytest.raises(DecodeError, match=r"silent_film\.mp4 has no audio stream \(found: video:h264\)"):
        decode_voice(p)


def test_zero_length_audio(tmp_path):
    p = tmp_path / "zero.wav"
    sf.write(p, np.zeros((0, 1), dtype=np.float32), 16000)
    with pytest.raises(DecodeError, match="no samples"):
        decode_voice(p)


def test_padding_places_the_voice_in_a_longer_timeline(tmp_path, sine_fn):
    sr = 48000
    x = sine_fn(sr, 700.0, 1.0, channels=1)
    path = tmp_path / "v.wav"
    sf.write(path, x.T, sr, subtype="FLOAT")
    d = decode_voice(path, pad_before=2 * sr, pad_after=sr)
    assert d.audio.shape == (1, 4 * sr) and d.start == 2 * sr and d.frames == sr
    assert not d.audio[:, : 2 * sr].any() and not d.audio[:, 3 * sr:].any()
    np.testing.assert_array_equal(d.voice, x)
    assert d.analysis.shape == (1, ANALYSIS_SR)  # the analysis copy is the voice alone
    cut = decode_voice(path, pad_before=sr // 2, length=sr)  # a video shorter than its soundtrack
    assert cut.audio.shape == (1, sr) and cut.frames == sr // 2
    np.testing.assert_array_equal(cut.voice, x[:, : sr // 2])
    longer, _ = decode_audio(path, sr=sr, channels=1, length=3 * sr)
    assert longer.shape == (1, 3 * sr) and not longer[:, sr:].any()
