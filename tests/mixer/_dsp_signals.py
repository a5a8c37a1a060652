"""Generated signals for the DSP tests (mixer/vad, beats, fit, ducking, loudness, mixdown)."""

from __future__ import annotations

import numpy as np


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
