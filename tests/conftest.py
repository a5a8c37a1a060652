"""Shared test fixtures: seeded rng, generated signals, real speech from ../shared/data/emodb."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MOODMIX_SHARED_DATA", REPO.parent / "shared" / "data"))
EMODB = SHARED_DATA / "emodb"


@pytest.fixture(scope="session", autouse=True)
def _private_moodmix_home(tmp_path_factory: pytest.TempPathFactory):
    """Tests never read or write the user's ``~/.moodmix`` or a database named in the environment: one fresh
    ``MOODMIX_HOME`` per test session (tests that need their own still set it with monkeypatch)."""
    saved = {k: os.environ.get(k) for k in ("MOODMIX_HOME", "MOODMIX_DATABASE_URL")}
    os.environ["MOODMIX_HOME"] = str(tmp_path_factory.mktemp("moodmix-home"))
    os.environ.pop("MOODMIX_DATABASE_URL", None)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


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


@pytest.fixture
def sine_fn():
    return sine


@pytest.fixture
def speech_fn():
    return speech_like


def emodb_manifest() -> list[dict[str, str]]:
    with open(EMODB / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def emodb_dir() -> Path:
    if not (EMODB / "manifest.csv").exists():
        pytest.skip(f"emodb not found at {EMODB}; set MOODMIX_SHARED_DATA to the folder that holds emodb/")
    return EMODB


@pytest.fixture(scope="session")
def emodb_speech(emodb_dir: Path) -> tuple[np.ndarray, int]:
    """Six real emodb utterances of one speaker concatenated with 1.5 s pauses: (audio (1, n) float32, sr)."""
    import soundfile as sf

    rows = [r for r in emodb_manifest() if r["speaker"] == "03"][:6]
    parts = []
    sr = 0
    for r in rows:
        y, sr = sf.read(emodb_dir / r["path"], dtype="float32", always_2d=True)
        parts.append(y.mean(axis=1))
        parts.append(np.zeros(int(1.5 * sr), dtype=np.float32))
    return np.concatenate(parts)[None, :], sr
