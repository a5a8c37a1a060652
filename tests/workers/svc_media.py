"""Real media files for the service tests: emodb speech as wav/m4a/mp4, built with the ffmpeg binary."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from mixer.ffmpeg import ffmpeg_exe


def emodb_voice(emodb_dir: Path, seconds: float, *, speaker: str = "03", offset: int = 0) -> tuple[np.ndarray, int]:
    """Real German speech of about ``seconds`` s: emodb utterances of one speaker joined with 0.4 s pauses,
    cut to exactly ``seconds``. Returns (audio (1, n) float32, sr)."""
    with open(emodb_dir / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["speaker"] == speaker]
    parts: list[np.ndarray] = []
    total = 0
    sr = 0
    i = offset
    while True:
        y, sr = sf.read(emodb_dir / rows[i % len(rows)]["path"], dtype="float32", always_2d=True)
        parts += [y.mean(axis=1), np.zeros(int(0.4 * sr), dtype=np.float32)]
        total += y.shape[0] + int(0.4 * sr)
        i += 1
        if total >= seconds * sr:
            break
    audio = np.concatenate(parts)[: round(seconds * sr)]
    return audio[None, :], sr


def write_wav(path: Path, audio: np.ndarray, sr: int) -> Path:
    sf.write(path, audio.T, sr, subtype="PCM_16")
    return path


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True)


def make_m4a(src_wav: Path, dst: Path) -> Path:
    ffmpeg("-i", str(src_wav), "-c:a", "aac", "-b:a", "96k", str(dst))
    return dst


def make_mp4(src_wav: Path, dst: Path, seconds: float) -> Path:
    """A small video (160x120 test pattern, mpeg4) with ``src_wav`` as its soundtrack."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=160x120:rate=15:duration={seconds}", "-i", str(src_wav),
           "-map", "0:v", "-map", "1:a", "-c:v", "mpeg4", "-q:v", "8", "-c:a", "aac", "-b:a", "96k",
           "-shortest", str(dst))
    return dst


def decoded_duration_s(path: Path) -> float:
    """Duration of the audio actually decoded from ``path`` (PyAV)."""
    import av

    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        n = 0
        sr = stream.codec_context.sample_rate
        for frame in c.decode(stream):
            n += frame.samples
    return n / sr


def loudness_lufs(path: Path) -> float:
    """Integrated loudness (ITU-R BS.1770 via pyloudnorm) of the file's decoded audio."""
    import pyloudnorm

    from mixer.decode import decode_audio

    sr = 48000
    audio, _ = decode_audio(path, sr=sr, channels=2)
    return float(pyloudnorm.Meter(sr).integrated_loudness(audio.T.astype(np.float64)))
