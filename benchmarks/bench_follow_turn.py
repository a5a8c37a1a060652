"""Where does ``--follow-mood`` change the track on a voice that turns from happy to sad? (issue 12 §3)

The voice: one EmoDB speaker's happy utterances (looped to ``--stretch-s``), then the same speaker's sad ones, with
0.4-1.2 s pauses, 48 kHz mono. It is mixed with ``--follow-mood`` from the built-in library with the real emotion
pass; the figure is the distance between the turn (end of the last happy line, in output time) and the first track
change in the report's ``music.segments`` (goal: within 3 s).

Run::

    .venv/bin/python benchmarks/bench_follow_turn.py                    # speaker 08, 60 s + 60 s
    .venv/bin/python benchmarks/bench_follow_turn.py --speakers 08 16 14
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
EMODB = Path(os.environ.get("MOODMIX_SHARED_DATA", REPO.parent / "shared" / "data")) / "emodb"
SR = 48000


def happy_then_sad(path: Path, speaker: str, stretch_s: float, seed: int = 0) -> float:
    """Write the voice; return the turn (seconds into the file: the end of the last happy line)."""
    import soxr

    rng = np.random.default_rng(seed)
    with open(EMODB / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["speaker"] == speaker]
    parts: list[np.ndarray] = [np.zeros(int(0.5 * SR), np.float32)]
    t = 0.5
    turn = 0.0
    for emotion in ("happiness", "sadness"):
        lines = [r for r in rows if r["emotion"] == emotion]
        start = t
        i = 0
        while t - start < stretch_s:
            y, sr = sf.read(EMODB / lines[i % len(lines)]["path"], dtype="float32", always_2d=True)
            y = soxr.resample(y.mean(axis=1), sr, SR).astype(np.float32)
            parts.append(y)
            t += y.size / SR
            if emotion == "happiness":
                turn = t
            gap = np.zeros(int(rng.uniform(0.4, 1.2) * SR), np.float32)
            parts.append(gap)
            t += gap.size / SR
            i += 1
    sf.write(path, np.concatenate(parts), SR, subtype="PCM_16")
    return turn


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speakers", nargs="+", default=["08"])
    ap.add_argument("--stretch-s", type=float, default=60.0)
    args = ap.parse_args()

    from moodmix.pipeline import mix_file
    from moodmix.settings import JobSettings, emotion_settings_from_env

    rows = []
    with tempfile.TemporaryDirectory(prefix="moodmix-turn-") as d:
        for sp in args.speakers:
            voice = Path(d) / f"turn{sp}.wav"
            turn = happy_then_sad(voice, sp, args.stretch_s)
            rep = mix_file(voice, Path(d) / f"out{sp}.wav", settings=JobSettings(
                follow_mood=True, seed=0, emotion=emotion_settings_from_env()))
            off = rep["music"]["fit"]["start_offset_s"]
            segs = rep["music"]["segments"]
            switches = [s["start"] for s in segs[1:]]
            first = switches[0] if switches else None
            err = abs(first - (turn + off)) if first is not None else None
            rows.append({"speaker": sp, "turn_s": round(turn + off, 2), "switches_s": switches,
                         "error_s": None if err is None else round(err, 2),
                         "tracks": [s.get("title") for s in segs]})
            print(rows[-1], flush=True)
    ok = [r["error_s"] for r in rows if r["error_s"] is not None]
    print(f"\nmedian |switch - turn| = {np.median(ok):.2f} s over {len(ok)} voices (goal ≤ 3 s); "
          f"{len(rows) - len(ok)} without a switch")
    out = REPO / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_follow_turn.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
