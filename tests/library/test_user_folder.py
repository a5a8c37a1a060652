"""A user's own folder of clearly calm and clearly aggressive tracks: the angry voice gets an aggressive one and the
sad voice a calm one (issue 11: closeness on the library's own spread, measured from the audio)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.library.conftest import estimate

pytestmark = [pytest.mark.model, pytest.mark.slow]

SR = 44100


def _calm(seconds: float, root_hz: float, seed: int) -> np.ndarray:
    """A soft, slow pad: three sine partials of a major chord, 4 s swells, at about -30 dBFS."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    chord = sum(np.sin(2 * np.pi * root_hz * r * t + rng.uniform(0, 6)) for r in (1.0, 1.26, 1.5))
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * t / 4.0) ** 2
    return (0.03 * chord * swell).astype(np.float32)


def _aggressive(seconds: float, bpm: float, seed: int) -> np.ndarray:
    """A loud, fast, distorted groove: kick on every beat, noise snare on 2 and 4, a clipped sawtooth bass, 16th
    hi-hats."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    y = np.zeros(n)
    beat = int(SR * 60 / bpm)
    tk = np.arange(int(0.12 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 + 120 * np.exp(-tk * 40)) * tk) * np.exp(-tk * 25)
    snare = rng.normal(0, 1, int(0.1 * SR)) * np.exp(-np.arange(int(0.1 * SR)) / SR * 30)
    hat = rng.normal(0, 1, int(0.02 * SR)) * np.exp(-np.arange(int(0.02 * SR)) / SR * 200)
    for i, start in enumerate(range(0, n - len(kick), beat)):
        y[start:start + len(kick)] += kick
        if i % 2 == 1:
            y[start:start + len(snare)] += 0.8 * snare
        for k in range(4):
            s = start + k * beat // 4
            if s + len(hat) < n:
                y[s:s + len(hat)] += 0.3 * hat
    t = np.arange(n) / SR
    saw = 2 * ((55 * t) % 1.0) - 1
    y += 0.6 * np.tanh(4 * saw) * (0.5 + 0.5 * (np.arange(n) % beat < beat // 2))
    return (0.9 * np.tanh(1.5 * y) / np.max(np.abs(np.tanh(1.5 * y)))).astype(np.float32)


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str], set[str]]:
    import soundfile as sf

    folder = tmp_path_factory.mktemp("my_music")
    calm, loud = set(), set()
    for i, root in enumerate((196.0, 220.0, 261.6)):
        p = folder / f"pad_{i}.wav"
        sf.write(p, _calm(20.0, root, i), SR)
        calm.add(p.stem)
    for i, bpm in enumerate((160.0, 170.0, 176.0)):
        p = folder / f"groove_{i}.wav"
        sf.write(p, _aggressive(20.0, bpm, i), SR)
        loud.add(p.stem)
    return folder, calm, loud


def test_angry_gets_aggressive_and_sad_gets_calm(user_folder, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from library.select import choose_tracks

    folder, calm, loud = user_folder
    monkeypatch.setenv("MOODMIX_HOME", str(tmp_path / "home"))
    angry = choose_tracks(estimate(-0.65, 0.75), library=str(folder), seed=0, n=6)
    sad = choose_tracks(estimate(-0.7, -0.45), library=str(folder), seed=0, n=6)
    energy = {c.track.title: c.track.features["energy"] for c in angry}
    # the measurement itself: every aggressive groove measures more energetic than every pad
    assert min(energy[t] for t in loud) > max(energy[t] for t in calm), energy
    assert angry[0].track.title in loud, [c.track.title for c in angry]
    assert sad[0].track.title in calm, [c.track.title for c in sad]
    # the added tracks got their emotion vector and cluster from the same measurement
    assert all(c.track.emotion is not None and c.track.emotion_cluster is not None for c in angry)
