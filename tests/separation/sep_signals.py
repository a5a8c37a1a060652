"""Real test signals for separation: emodb speech over the built-in music, and SI-SDR."""

from __future__ import annotations

from pathlib import Path

import numpy as np


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
