"""Media fixtures for the I/O, pipeline and CLI tests: files generated in tmp_path with the ffmpeg binary."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixer.ffmpeg import ffmpeg_exe

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Voice inputs moodmix decodes: extension → ffmpeg encoder arguments.
AUDIO_ENCODERS: dict[str, list[str]] = {
    "wav": ["-c:a", "pcm_s16le"],
    "flac": ["-c:a", "flac"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "192k"],
    "m4a": ["-c:a", "aac", "-b:a", "192k"],
    "aac": ["-c:a", "aac", "-b:a", "192k"],
    "ogg": ["-c:a", "libopus", "-b:a", "128k"],
    "opus": ["-c:a", "libopus", "-b:a", "128k"],
}

#: Video containers: extension → (video encoder args, audio encoder args).
VIDEO_ENCODERS: dict[str, tuple[list[str], list[str]]] = {
    "mp4": (["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"], ["-c:a", "aac"]),
    "mov": (["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"], ["-c:a", "aac"]),
    "mkv": (["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"], ["-c:a", "aac"]),
    "webm": (["-c:v", "libvpx", "-deadline", "realtime", "-b:v", "200k"], ["-c:a", "libopus"]),
}


def ffmpeg(*args: str) -> None:
    """Run the project's ffmpeg binary; fail the test with its stderr if it fails."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *args],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def write_audio(path: Path, audio: np.ndarray, sr: int) -> Path:
    """Encode float32 (channels, samples) to ``path`` (format from its extension)."""
    wav = path.with_name(path.stem + ".src.wav")
    sf.write(wav, audio.T, sr, subtype="FLOAT")
    ext = path.suffix.lstrip(".")
    rate = ["-ar", "48000"] if ext in ("ogg", "opus") else []
    ffmpeg("-i", str(wav), *AUDIO_ENCODERS[ext], *rate, str(path))
    wav.unlink()
    return path


def write_video(path: Path, seconds: float, audio: np.ndarray | None, sr: int, *, fps: int = 25,
                subtitles: bool = False) -> Path:
    """A test-pattern video (160x120) with ``audio`` as its soundtrack (None: video only), optionally with a
    subtitle stream."""
    ext = path.suffix.lstrip(".")
    vargs, aargs = VIDEO_ENCODERS[ext]
    args = ["-f", "lavfi", "-i", f"testsrc=d={seconds}:s=160x120:r={fps}"]
    maps = ["-map", "0:v"]
    k = 1
    if audio is not None:
        wav = path.with_name(path.stem + ".src.wav")
        sf.write(wav, audio.T, sr, subtype="FLOAT")
        args += ["-i", str(wav)]
        maps += ["-map", f"{k}:a"]
        k += 1
    if subtitles:
        srt = path.with_name(path.stem + ".srt")
        srt.write_text("1\n00:00:00,500 --> 00:00:01,500\nhello there\n\n")
        args += ["-i", str(srt)]
        maps += ["-map", f"{k}:s"]
        scodec = {"mp4": "mov_text", "mov": "mov_text", "mkv": "srt", "webm": "webvtt"}[ext]
        maps += ["-c:s", scodec]
    ffmpeg(*args, *maps, *vargs, *(aargs if audio is not None else []), "-t", str(seconds), str(path))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def video_packets(path: Path) -> list[tuple[int, int | None, bytes]]:
    """(pts, duration, bytes) of every packet of the first video stream, read with PyAV."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return [(int(p.pts or 0), p.duration, bytes(p)) for p in c.demux(v) if p.size]


def true_peak_dbtp(audio: np.ndarray) -> float:
    """True peak of (channels, samples) in dBTP by 4x oversampling (ITU-R BS.1770-4 Annex 2)."""
    from scipy.signal import resample_poly

    up = resample_poly(np.asarray(audio, dtype=np.float64), 4, 1, axis=-1)
    return float(20 * np.log10(max(np.max(np.abs(up)), 1e-12)))


def integrated_lufs(audio: np.ndarray, sr: int) -> float:
    import pyloudnorm as pyln

    return float(pyln.Meter(sr).integrated_loudness(np.asarray(audio, dtype=np.float64).T))


@pytest.fixture
def stereo_tone():
    """A 2 s stereo test signal at 48 kHz: 440 Hz left, 660 Hz right, -9 dBFS."""
    sr = 48000
    t = np.arange(2 * sr) / sr
    x = np.stack([0.35 * np.sin(2 * np.pi * 440 * t), 0.35 * np.sin(2 * np.pi * 660 * t)]).astype(np.float32)
    return x, sr


@pytest.fixture(scope="session")
def music_track(tmp_path_factory) -> Path:
    """A 6 s stereo music-like loop at 48 kHz (chords + a 120 BPM kick), written as FLAC."""
    sr = 48000
    n = 6 * sr
    t = np.arange(n) / sr
    rng = np.random.default_rng(7)
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    kick = np.zeros(n)
    for b in np.arange(0, 6, 0.5):
        i = int(b * sr)
        k = np.exp(-np.arange(int(0.12 * sr)) / (0.03 * sr)) * np.sin(2 * np.pi * 60 * np.arange(int(0.12 * sr)) / sr)
        kick[i:i + len(k)] += k[: n - i]
    x = 0.25 * chord + 0.3 * kick + 0.01 * rng.standard_normal(n)
    st = np.stack([x, np.roll(x, 240)]).astype(np.float32)
    path = tmp_path_factory.mktemp("music") / "loop.flac"
    return write_audio(path, st, sr)


@pytest.fixture(scope="session")
def builtin_track() -> Path:
    """A built-in library track (immich-memories-music, MIT): the catalog has its beats, so no beat tracking."""
    import immich_memories_music

    return sorted((immich_memories_music.tracks_dir() / "calm").glob("*.opus"))[0]
