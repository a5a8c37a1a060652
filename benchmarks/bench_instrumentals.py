"""Instrumentals for the library: how much voice `library add --instrumental` removes, and how fast.

Songs: a voice over a generated chord progression (tests/signals.py) at 44.1 kHz, 14 s each, for three
chord roots, once with the speech-like test voice (tests/conftest.py) and once with real speech (emodb speaker 03,
../shared/data/emodb; skipped when absent). For each song, through the same path the CLI uses
(:func:`library.derived_instrumentals.add_instrumentals` → Spleeter 2 stems → FLAC → analysis):

- error of the song and of the instrumental against the voice-free music, dB (``10 log10(|x - music|² / |music|²)``);
- vocal presence (silero VAD share of frames) of the song and of its instrumental;
- separation + analysis seconds per audio minute (first song excluded: it loads the model).

Prints medians per voice kind. Run: ``.venv/bin/python benchmarks/bench_instrumentals.py``
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.signals import chord_track

from library.catalog import open_catalog
from library.derived_instrumentals import add_instrumentals

SR = 44_100
SECONDS = 14.0


def _conftest():  # the shared test signals, without importing pytest's conftest machinery by name
    spec = importlib.util.spec_from_file_location("_moodmix_test_signals", ROOT / "tests" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def _voices() -> dict[str, np.ndarray]:
    c = _conftest()
    out = {"speech_like": c.speech_like(SR, SECONDS, bursts=[(0.5, 6.5), (7.0, 13.5)],
                                        rng=np.random.default_rng(1234), level=0.5)}
    if (c.EMODB / "manifest.csv").exists():
        rows = [r for r in c.emodb_manifest() if r["speaker"] == "03"][:6]
        parts = []
        for r in rows:
            y, sr = sf.read(c.EMODB / r["path"], dtype="float32", always_2d=True)
            parts += [y.mean(axis=1), np.zeros(int(0.3 * sr), dtype=np.float32)]
        y = soxr.resample(np.concatenate(parts), sr, SR).astype(np.float32)[: int(SECONDS * SR)]
        out["emodb"] = (0.5 * y / np.abs(y).max())[None, :]
    return out


def _err_db(x: np.ndarray, ref: np.ndarray) -> float:
    return float(10 * np.log10(np.sum((x - ref) ** 2) / np.sum(ref ** 2)))


def main() -> None:
    rows: list[dict[str, float | str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        cat = open_catalog(f"sqlite:///{t / 'bench.sqlite'}")
        first = True
        for kind, voice in _voices().items():
            for root in (57, 60, 62):
                music = chord_track(root, False, SECONDS, sr=SR) * 0.6
                n = min(music.shape[1], voice.shape[1])
                music = music[:, :n]
                song = (music + voice[:, :n]).astype(np.float32)
                src = t / "songs" / f"{kind}_{root}.flac"
                src.parent.mkdir(exist_ok=True)
                sf.write(src, song.T, SR, subtype="PCM_16")
                orig = cat.get(cat.add_paths([src], jobs=1).added[0])
                t0 = time.perf_counter()
                res = add_instrumentals(cat, [orig.id], derived_dir=t / "derived")
                secs = time.perf_counter() - t0
                inst = cat.get(res.made[0][1])
                y, _ = sf.read(inst.path, dtype="float32", always_2d=True)
                rows.append({"kind": kind, "err_song_db": _err_db(song, music),
                             "err_inst_db": _err_db(y.T[:1, :n], music),
                             "vocal_song": float(orig.vocal or 0.0), "vocal_inst": float(inst.vocal or 0.0),
                             "s_per_min": float("nan") if first else secs / (n / SR / 60)})
                first = False
    for r in rows if "-v" in sys.argv else ():
        print(r)
    print(f"{'voice':12s} {'err song dB':>12s} {'err instr dB':>12s} {'vocal song':>10s} {'vocal instr':>11s} "
          f"{'s/audio-min':>11s}   (medians of 3 songs)")
    for kind in dict.fromkeys(r["kind"] for r in rows):
        sel = [r for r in rows if r["kind"] == kind]

        def med(key: str) -> float:
            return float(np.nanmedian([float(r[key]) for r in sel]))  # noqa: B023

        print(f"{kind:12s} {med('err_song_db'):12.1f} {med('err_inst_db'):12.1f} {med('vocal_song'):10.2f} "
              f"{med('vocal_inst'):11.2f} {med('s_per_min'):11.1f}")


if __name__ == "__main__":
    main()
