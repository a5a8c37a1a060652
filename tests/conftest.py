"""Shared test fixtures: seeded rng, generated signals, real speech from ../shared/data/emodb."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from tests.signals import sine, speech_like, write_audio  # noqa: F401  (fixtures below hand them out)

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


# media for the I/O, pipeline and CLI tests (tests/mixer, tests/moodmix)

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
