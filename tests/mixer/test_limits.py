"""Input limits (issue 13, "resource bombs"): sample rates outside 8-192 kHz, too many channels and too much
work are refused by name before any decode; any channel count up to the limit is folded, including a
multichannel WAV that names no speaker positions (was "corrupt or truncated")."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from core.errors import DecodeError, InputLimitError
from mixer.limits import InputLimits, check_input, work_samples
from tests.signals import ffmpeg


def sr1_wav(path: Path) -> Path:
    """The issue's 14 KB bomb: a stereo 16-bit WAV that declares a 1 Hz sample rate (3,599 s)."""
    n = 14396
    fmt = struct.pack("<HHIIHH", 1, 2, 1, 4, 4, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", n) + bytes(n)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def maskless_wav(path: Path, channels: int, sr: int = 48000, seconds: float = 1.0,
                 only_first: bool = False) -> Path:
    """A PCM WAV with ``channels`` channels and no channel mask (``wave`` writes WAVE_FORMAT_PCM): a 300 Hz
    sine at 0.3 in every channel (or in the first only)."""
    t = np.arange(int(sr * seconds)) / sr
    x = np.round(0.3 * np.sin(2 * np.pi * 300 * t) * 32767).astype("<i2")
    y = np.zeros((x.size, channels), dtype="<i2")
    y[:, 0] = x
    if not only_first:
        y[:] = x[:, None]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(y.tobytes())
    return path


def test_check_input_names_the_limit_and_the_value() -> None:
    with pytest.raises(InputLimitError, match=r"sample rate of 1 Hz; moodmix takes 8000 to 192000 Hz"):
        check_input(sample_rate=1, channels=2, duration_s=3599.0)
    with pytest.raises(InputLimitError, match=r"sample rate of 384000 Hz"):
        check_input(sample_rate=384000, channels=8, duration_s=3500.0)
    with pytest.raises(InputLimitError, match=r"has 40 audio channels; moodmix folds up to 32"):
        check_input(sample_rate=48000, channels=40, duration_s=1.0)
    lim = InputLimits(max_work_samples=3600 * 48000 * 8)
    with pytest.raises(InputLimitError, match=r"3500 s × 192000 Hz × 8 channels = 5.38 G samples .* 1.38 G"):
        check_input(sample_rate=192000, channels=8, duration_s=3500.0, limits=lim)
    with pytest.raises(InputLimitError, match=r"decodes to .* over the decoded-size limit"):
        check_input(sample_rate=48000, channels=1, duration_s=3600.0, limits=InputLimits(max_decoded_bytes=10**9))
    with pytest.raises(InputLimitError, match=r"7200 s long but the limit is 3600 s"):
        check_input(sample_rate=48000, channels=2, duration_s=7200.0, limits=InputLimits(max_duration_s=3600))
    check_input(sample_rate=48000, channels=2, duration_s=3600.0, limits=lim)  # an hour of stereo is fine
    assert work_samples(2.0, 48000, 2) == 192000
    assert issubclass(InputLimitError, DecodeError)


@pytest.mark.ffmpeg
def test_the_14kb_sample_rate_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    from mixer.decode import decode_voice

    src = sr1_wav(tmp_path / "sr1.wav")
    assert src.stat().st_size < 15000
    with pytest.raises(InputLimitError, match=r"sr1\.wav declares a sample rate of 1 Hz"):
        decode_voice(src)


@pytest.mark.ffmpeg
def test_a_384_khz_8_channel_flac_is_refused(tmp_path: Path) -> None:
    from mixer.decode import spool_voice

    src = tmp_path / "big.flac"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=384000:cl=7.1", "-t", "1", "-c:a", "flac", str(src))
    with pytest.raises(InputLimitError, match=r"big\.flac declares a sample rate of 384000 Hz"):
        spool_voice(src)


@pytest.mark.ffmpeg
@pytest.mark.parametrize("only_first", [False, True], ids=["all-channels", "first-channel"])
def test_nine_channels_without_positions_are_folded(tmp_path: Path, only_first: bool) -> None:
    """Regression (issue 13): a valid 9-channel 48 kHz WAV failed as "corrupt or truncated". Every channel is
    averaged into both output channels and into the analysis mono."""
    from mixer.decode import decode_voice, probe

    src = maskless_wav(tmp_path / "ch9.wav", 9, only_first=only_first)
    info = probe(src)
    assert info.audio is not None and info.audio.channels == 9 and not info.audio.layout_known
    voice = decode_voice(src)
    assert voice.audio.shape == (2, 48000) and voice.sr == 48000
    expected = 0.3 / (9 if only_first else 1)
    peak = np.abs(voice.audio[:, 2400:-2400]).max(axis=1)
    np.testing.assert_allclose(peak, [expected, expected], rtol=0.02)
    np.testing.assert_allclose(np.abs(voice.analysis[0, 800:-800]).max(), expected, rtol=0.03)


@pytest.mark.ffmpeg
def test_cli_refuses_a_bomb_in_one_line_and_mixes_nine_channels(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               music_track: Path) -> None:
    from moodmix.cli import main

    def run(*args: str) -> tuple[int, str]:
        with pytest.raises(SystemExit) as ex:
            main(["mix", *args])
        return int(ex.value.code or 0), capsys.readouterr().err

    code, err = run(str(sr1_wav(tmp_path / "sr1.wav")), "-o", str(tmp_path / "o.wav"), "--no-emotion")
    assert code == 1 and err.strip() == ("moodmix: error: sr1.wav declares a sample rate of 1 Hz; moodmix takes "
                                         "8000 to 192000 Hz; resample it (e.g. to 48000 Hz) first")
    assert not (tmp_path / "o.wav").exists()
    wide = maskless_wav(tmp_path / "ch40.wav", 40, seconds=0.2)
    code, err = run(str(wide), "-o", str(tmp_path / "o.wav"), "--no-emotion")
    assert code == 1 and "ch40.wav has 40 audio channels; moodmix folds up to 32" in err
    out = tmp_path / "ch9.moodmix.wav"
    code, err = run(str(maskless_wav(tmp_path / "ch9.wav", 9, seconds=3.0)), "-o", str(out), "--no-emotion",
                    "--music", str(music_track), "--intro", "0", "--outro", "0")
    assert code == 0, err
    import soundfile as sf

    y, sr = sf.read(out, always_2d=True)
    assert y.shape[1] == 2 and y.shape[0] == pytest.approx(3 * sr, abs=2)
