"""Every generated and real test signal in one place, grouped by what the tests build with them.

- generated voices and tones: :func:`sine`, :func:`speech_like`;
- generated music: :func:`music_like` (a steady bed with a beat), :func:`click_track` (clicks at a known tempo),
  :func:`chord_track` (a I–IV–V–I progression), written with :func:`write_wav`;
- real speech from ``$MOODMIX_SHARED_DATA/emodb``: :func:`emodb_program` (two groups of utterances with pauses),
  :func:`emodb_voice` (one speaker, about N seconds);
- real music from the built-in library: :func:`music_path`, :func:`load_music`; and :func:`mix_at_snr`,
  :func:`si_sdr` for the separation tests;
- media files built with the ffmpeg binary: :func:`write_audio` (any voice format), :func:`write_video` (a test
  pattern with a soundtrack, optionally subtitles), :func:`make_m4a`, :func:`make_mp4`; and what a file holds:
  :func:`sha256`, :func:`video_packets`, :func:`decoded_duration_s`, :func:`loudness_lufs`,
  :func:`integrated_lufs`, :func:`true_peak_dbtp`.

Tests import from here (``from tests.signals import ...``); ``tests/conftest.py`` hands some out as fixtures.
"""

from __future__ import annotations

import csv
import hashlib
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from mixer.ffmpeg import ffmpeg_exe

#: Sample rate of the generated music clips (the library's analysis rate).
MUSIC_SR = 22050

# ---------------------------------------------------------------------------------------------------------------
# generated voices and tones


def sine(sr: int, hz: float, seconds: float, channels: int = 1, amplitude: float = 0.5) -> np.ndarray:
    """A float32 sine of shape (channels, samples)."""
    t = np.arange(int(round(sr * seconds)), dtype=np.float64) / sr
    x = (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.repeat(x[None, :], channels, axis=0)


def speech_like(sr: int, seconds: float, *, bursts: list[tuple[float, float]], rng: np.random.Generator,
                level: float = 0.3) -> np.ndarray:
    """Speech-like bursts: a 120-220 Hz glottal pulse train with syllable-rate (4 Hz) amplitude modulation,
    filtered through two formant-ish resonances, only inside ``bursts`` [(start_s, end_s)...]. Shape (1, n)."""
    from scipy.signal import lfilter

    n = int(round(sr * seconds))
    t = np.arange(n) / sr
    f0 = 160 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = np.cumsum(f0 / sr)
    pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(np.float64)
    x = pulses + 0.02 * rng.standard_normal(n)
    for fc, bw in ((700.0, 130.0), (1200.0, 200.0)):
        r = np.exp(-np.pi * bw / sr)
        a = [1, -2 * r * np.cos(2 * np.pi * fc / sr), r * r]
        x = lfilter([1 - r], a, x)
    env = np.zeros(n)
    for s, e in bursts:
        i0, i1 = int(s * sr), min(n, int(e * sr))
        env[i0:i1] = 0.6 + 0.4 * np.abs(np.sin(2 * np.pi * 2.0 * t[i0:i1]))
    x = x * env
    peak = np.max(np.abs(x)) or 1.0
    return (level * x / peak).astype(np.float32)[None, :]

# ---------------------------------------------------------------------------------------------------------------
# generated music


def music_like(sr: int, seconds: float, *, bpm: float = 120.0, seed: int = 7, channels: int = 2,
               accent_phase: int = 0, level: float = 0.3) -> np.ndarray:
    """A steady music-like bed: a four-note chord with incommensurate partials (so a hard cut in it is a jump),
    light noise and a soft kick every beat, louder on beat ``accent_phase`` of each bar. Shape (channels, n)."""
    rng = np.random.default_rng(seed)
    n = int(round(sr * seconds))
    t = np.arange(n) / sr
    x = np.zeros(n)
    for f in (130.81, 164.81, 196.0, 246.94, 523.25 * 1.003):
        x += 0.2 * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    period = 60.0 / bpm
    beat_idx = np.floor(t / period).astype(int)
    phase_t = t - beat_idx * period
    accent = np.where(beat_idx % 4 == accent_phase, 1.0, 0.35)
    x += 0.8 * accent * np.exp(-phase_t * 25) * np.sin(2 * np.pi * 55 * phase_t)
    x += 0.02 * rng.standard_normal(n)
    out = np.stack([np.roll(x, 23 * c) for c in range(channels)])
    return (level * out / np.abs(out).max()).astype(np.float32)


def click_track(bpm: float, seconds: float, *, sr: int = MUSIC_SR, accent_every: int = 4) -> np.ndarray:
    """Decaying 1 kHz + noise clicks at ``bpm``, the first of every bar louder and with a kick, float32 (1, n)."""
    n = int(sr * seconds)
    out = np.zeros(n, dtype=np.float64)
    rng = np.random.default_rng(7)
    click_n = int(0.03 * sr)
    t = np.arange(click_n) / sr
    click = (np.sin(2 * np.pi * 1000 * t) + 0.3 * rng.standard_normal(click_n)) * np.exp(-t / 0.006)
    tk = np.arange(int(0.25 * sr)) / sr
    kick = 0.8 * np.sin(2 * np.pi * 60 * tk) * np.exp(-tk / 0.08)
    period = 60.0 / bpm
    k = 0
    while True:
        start = int(round((0.1 + k * period) * sr))
        if start + click_n >= n:
            break
        out[start:start + click_n] += click * (1.0 if k % accent_every == 0 else 0.6)
        if k % accent_every == 0:  # a kick drum (decaying 60 Hz) on the bar's first beat
            kn = min(kick.size, n - start)
            out[start:start + kn] += kick[:kn]
        k += 1
    return (0.5 * out / np.abs(out).max()).astype(np.float32)[None, :]


def chord_track(root_midi: int, minor: bool, seconds: float, *, sr: int = MUSIC_SR, bpm: float = 90.0) -> np.ndarray:
    """A I–IV–V–I progression (minor: i–iv–v–i) of harmonic tones with a bass note, float32 (1, n)."""
    third = 3 if minor else 4
    chords = [(0, third, 7), (5, 5 + third, 12), (7, 7 + third, 14), (0, third, 7)]  # natural minor: minor v
    bar_s = 4 * 60.0 / bpm
    n = int(sr * seconds)
    t = np.arange(n) / sr
    out = np.zeros(n)
    for i in range(int(np.ceil(seconds / bar_s))):
        a, b = int(i * bar_s * sr), min(n, int((i + 1) * bar_s * sr))
        ch = chords[i % 4]
        tt = t[a:b] - t[a]
        env = np.minimum(1.0, tt / 0.02) * np.exp(-tt / 1.5)
        for j, step in enumerate((ch[0] - 12, *ch)):  # bass note an octave down, then the triad
            f0 = 440.0 * 2 ** ((root_midi + step - 69) / 12)
            for h in range(1, 5):
                out[a:b] += env * np.sin(2 * np.pi * f0 * h * tt) / h ** 1.5 * (1.3 if j == 0 else 1.0)
    return (0.5 * out / np.abs(out).max()).astype(np.float32)[None, :]


def write_wav(path: Path, audio: np.ndarray, sr: int = MUSIC_SR) -> Path:
    """``audio`` (channels, n) as 16-bit WAV at ``path`` (parent folders made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio.T, sr, subtype="PCM_16")
    return path

# ---------------------------------------------------------------------------------------------------------------
# real speech (emodb)


def emodb_program(emodb_dir, sr: int, *, pause_s: float = 5.0) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Real speech: two groups of three emodb utterances (speaker 03, 0.3 s gaps inside a group) separated and
    followed by ``pause_s`` of silence, resampled to ``sr``. Returns (audio (1, n), the two groups' spans)."""
    import csv

    import soundfile as sf
    import soxr

    with open(emodb_dir / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["speaker"] == "03"][:6]
    parts, spans, t = [np.zeros(int(1.0 * sr), np.float32)], [], 1.0
    for g in range(2):
        start = t
        for k in range(3):
            y, file_sr = sf.read(emodb_dir / rows[3 * g + k]["path"], dtype="float32", always_2d=True)
            y = y.mean(axis=1)
            if file_sr != sr:
                y = soxr.resample(y, file_sr, sr).astype(np.float32)
            parts.append(y)
            t += y.size / sr
            if k < 2:
                parts.append(np.zeros(int(0.3 * sr), np.float32))
                t += int(0.3 * sr) / sr
        spans.append((start, t))
        parts.append(np.zeros(int(pause_s * sr), np.float32))
        t += int(pause_s * sr) / sr
    return np.concatenate(parts)[None, :], spans


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

# ---------------------------------------------------------------------------------------------------------------
# real music (the built-in library) and separation measures


def music_path() -> Path:
    """One built-in immich-memories-music track (acoustic, steady: a realistic vlog bed)."""
    from immich_memories_music import tracks_dir

    paths = sorted(tracks_dir().glob("*/*.opus"))
    preferred = [p for p in paths if p.name == "happy_acoustic_1.opus"]
    return (preferred or paths)[0]


def load_music(sr: int, seconds: float, *, offset_s: float = 20.0, channels: int = 1) -> np.ndarray:
    """``seconds`` of the music track from ``offset_s`` at ``sr``, float32 (channels, samples)."""
    import soundfile as sf
    import soxr

    with sf.SoundFile(str(music_path())) as f:
        f.seek(int(offset_s * f.samplerate))
        y = f.read(int((seconds + 0.1) * f.samplerate), dtype="float32", always_2d=True)
        native = f.samplerate
    y = y[:, :channels] if y.shape[1] >= channels else np.repeat(y[:, :1], channels, axis=1)
    if native != sr:
        y = soxr.resample(np.ascontiguousarray(y), native, sr, quality="HQ")
    n = round(seconds * sr)
    return np.ascontiguousarray(np.asarray(y, dtype=np.float32)[:n].T)


def mix_at_snr(speech: np.ndarray, music: np.ndarray, snr_db: float) -> np.ndarray:
    """speech + music scaled so the speech-to-music power ratio is ``snr_db`` (over the whole clip)."""
    p_s = float(np.mean(speech.astype(np.float64) ** 2))
    p_m = float(np.mean(music.astype(np.float64) ** 2))
    gain = np.sqrt(p_s / (p_m * 10 ** (snr_db / 10)))
    return (speech + gain * music).astype(np.float32)


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019) over all channels flattened."""
    est = estimate.astype(np.float64).ravel()
    ref = reference.astype(np.float64).ravel()
    alpha = np.dot(est, ref) / max(np.dot(ref, ref), 1e-20)
    target = alpha * ref
    noise = est - target
    return float(10 * np.log10(max(np.sum(target ** 2), 1e-20) / max(np.sum(noise ** 2), 1e-20)))

# ---------------------------------------------------------------------------------------------------------------
# media files


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
