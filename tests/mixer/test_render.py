"""Render: every audio output format, video outputs with the video stream copied byte for byte, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from core.errors import OutputPathError, UnsupportedFormatError
from mixer.decode import decode_voice, probe
from mixer.render import (
    AUDIO_FORMATS,
    VIDEO_FORMATS,
    check_output_path,
    default_output_path,
    output_format,
    output_rate,
    render,
    write_wav_float,
)
from tests.signals import video_packets, write_audio, write_video

pytestmark = pytest.mark.ffmpeg

CODECS = {"wav": "pcm_s24le", "flac": "flac", "mp3": "mp3", "m4a": "aac", "aac": "aac", "ogg": "opus",
          "opus": "opus"}


@pytest.mark.parametrize("ext", sorted(AUDIO_FORMATS))
def test_audio_outputs(tmp_path, stereo_tone, ext):
    x, sr = stereo_tone
    out = render(x, sr, tmp_path / f"mix.{ext}")
    info = probe(out)
    assert info.audio is not None
    assert info.audio.codec.startswith(CODECS[ext])
    assert info.audio.sample_rate == 48000 and info.audio.channels == 2
    y = decode_voice(out).audio
    assert abs(y.shape[1] / 48000 - 2.0) < 0.06
    mid = slice(24000, 72000)
    corr = [np.corrcoef(*_aligned(x[c, mid], y[c]))[0, 1] for c in range(2)]
    assert min(corr) > 0.99, corr
    if ext in ("wav", "flac"):  # 24-bit PCM: exact to 2^-23
        np.testing.assert_allclose(y, x, atol=2e-6)
    assert [p.name for p in tmp_path.iterdir()] == [f"mix.{ext}"]  # no temporary left behind


def _aligned(ref: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``ref`` and the part of ``y`` that best lines up with it (lossy codecs add a small delay)."""
    best, lag = -1.0, 0
    for d in range(0, 2048, 8):
        seg = y[24000 + d:24000 + d + ref.size]
        c = float(np.dot(ref, seg))
        if c > best:
            best, lag = c, d
    return ref, y[24000 + lag:24000 + lag + ref.size]


def test_mono_is_written_as_two_equal_channels(tmp_path, sine_fn):
    x = sine_fn(44100, 300.0, 1.0, channels=1)
    out = render(x, 44100, tmp_path / "m.wav")
    y, sr = sf.read(out, dtype="float32", always_2d=True)
    assert sr == 44100 and y.shape == (44100, 2)
    np.testing.assert_allclose(y[:, 0], y[:, 1])


def test_output_rate_rule():
    assert output_rate(44100, AUDIO_FORMATS["wav"]) == 44100
    assert output_rate(48000, AUDIO_FORMATS["mp3"]) == 48000
    assert output_rate(22050, AUDIO_FORMATS["flac"]) == 48000  # low-rate voice: the music keeps its quality
    assert output_rate(44100, AUDIO_FORMATS["opus"]) == 48000  # Opus takes 48 kHz only
    assert output_rate(44100, VIDEO_FORMATS["webm"]) == 48000


@pytest.mark.parametrize("ext", ["mp4", "mov", "mkv", "webm"])
def test_video_stream_is_copied_byte_for_byte(tmp_path, sine_fn, ext):
    sr = 48000
    fps = 25
    src = write_video(tmp_path / f"in.{ext}", 3.0, sine_fn(sr, 440.0, 3.0), sr, fps=fps,
                      subtitles=ext in ("mp4", "mkv"))
    info = probe(src)
    assert info.video is not None
    n = int(round(info.video.duration_s * 48000))
    new = sine_fn(48000, 880.0, n / 48000, channels=2, amplitude=0.2)
    out = render(new, 48000, tmp_path / f"out.{ext}", video_source=info)
    before, after = video_packets(src), video_packets(out)
    assert len(after) == len(before)
    assert [b for _, _, b in after] == [b for _, _, b in before]
    o = probe(out)
    assert o.video is not None and o.audio is not None
    assert abs(o.video.duration_s - info.video.duration_s) <= 1.0 / fps
    assert abs(o.duration_s - info.duration_s) <= 1.0 / fps
    assert o.audio.codec == ("opus" if ext == "webm" else "aac") and o.audio.channels == 2
    if ext in ("mp4", "mkv"):
        assert any(s.startswith("subtitle:") for s in o.other_streams)
    # the new soundtrack replaced the old one: 880 Hz, not 440 Hz
    y = decode_voice(out).audio[0, 48000:96000]
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    assert abs(np.argmax(spec) * 48000 / y.size - 880.0) < 3.0


def test_failed_render_leaves_nothing_and_keeps_an_existing_output(tmp_path, stereo_tone):
    x, sr = stereo_tone
    out = tmp_path / "mix.mp3"
    out.write_bytes(b"previous result")

    def blocks():
        yield x[:, :48000]
        raise RuntimeError("mixdown failed halfway")

    with pytest.raises(RuntimeError, match="halfway"):
        render(blocks(), sr, out)
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix.mp3"]


def test_unsupported_output_extension(tmp_path, stereo_tone):
    x, sr = stereo_tone
    with pytest.raises(UnsupportedFormatError, match=r"cannot write '\.xyz' files .*use one of \.wav, \.flac"):
        render(x, sr, tmp_path / "mix.xyz")
    with pytest.raises(UnsupportedFormatError, match="has no extension"):
        output_format(tmp_path / "mix", has_video=False)
    with pytest.raises(UnsupportedFormatError, match="video container but the input has no video"):
        output_format(tmp_path / "mix.mp4", has_video=False)
    assert list(tmp_path.iterdir()) == []


def test_output_equal_to_input_is_refused(tmp_path, stereo_tone):
    x, sr = stereo_tone
    src = write_audio(tmp_path / "voice.flac", x, sr)
    with pytest.raises(OutputPathError, match="is the input file"):
        check_output_path(src, tmp_path / "." / "voice.flac")
    link = tmp_path / "alias.flac"
    link.hardlink_to(src)
    with pytest.raises(OutputPathError, match="is the input file"):
        check_output_path(src, link)
    with pytest.raises(OutputPathError, match="is a folder"):
        check_output_path(src, tmp_path)


def test_default_output_path(tmp_path, stereo_tone, sine_fn):
    x, sr = stereo_tone
    a = write_audio(tmp_path / "talk.m4a", x, sr)
    assert default_output_path(a, probe(a)) == tmp_path / "talk.moodmix.m4a"
    v = write_video(tmp_path / "clip.mkv", 1.0, sine_fn(sr, 300.0, 1.0), sr)
    assert default_output_path(v, probe(v)) == tmp_path / "clip.moodmix.mkv"


def test_float_wav_stems_are_exact(tmp_path, rng):
    x = (0.3 * rng.standard_normal((2, 100_000))).astype(np.float32)
    p = write_wav_float(tmp_path / "stems" / "voice.wav", x, 48000)
    y, sr = sf.read(p, dtype="float32", always_2d=True)
    assert sr == 48000
    np.testing.assert_array_equal(y.T, x)
