"""Generated music-like signals for the library tests (clicks at a known tempo, chord progressions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050


def click_track(bpm: float, seconds: float, *, sr: int = SR, accent_every: int = 4) -> np.ndarray:
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


def chord_track(root_midi: int, minor: bool, seconds: float, *, sr: int = SR, bpm: float = 90.0) -> np.ndarray:
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


def write_wav(path: Path, audio: np.ndarray, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio.T, sr, subtype="PCM_16")
    return path


