"""Memory of the ``--follow-mood`` bed on a long input: streamed block reader vs the whole array.

A 60-minute, 48 kHz stereo bed that changes track every 10 minutes (six built-in tracks, one per mood folder and
one more) is built by the pipeline's own :func:`moodmix.pipeline._follow_mood_bed` and read block by block, as
the mix reads it (65,536-sample blocks, twice: plan_mix's analysis pass and the render pass). ``--whole`` reads it
in one call instead, which is what the in-memory bed of earlier versions held. Each mode runs in a fresh child
process; peak memory is that process's ``VmHWM``.

    .venv/bin/python benchmarks/bench_follow_bed.py [--minutes 60]

Prints one line per mode and writes ``benchmarks/out/bench_follow_bed.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SR = 48_000

CHILD = r"""
import json, sys, time
import numpy as np
from immich_memories_music import tracks_dir
from library.types import Track
from moodmix.pipeline import _follow_mood_bed

minutes, whole = float(sys.argv[1]), sys.argv[2] == "whole"
sr = 48000
n = int(minutes * 60 * sr)
folders = sorted(d for d in tracks_dir().iterdir() if d.is_dir())
paths = [sorted(d.glob("*.opus"))[0] for d in folders] + [sorted(folders[0].glob("*.opus"))[1]]
k = len(paths)
edges = np.linspace(0, n / sr, k + 1)

class Choice:
    def __init__(self, p):
        self.track = Track(id=p.stem, path=str(p), title=p.stem, duration_s=0.0, features={}, tags=())

plan = [(float(a), float(b), Choice(p)) for a, b, p in zip(edges[:-1], edges[1:], paths)]
t0 = time.perf_counter()
bed = _follow_mood_bed(plan, sr, n)
energy = 0.0
if whole:  # the old way: the whole bed in one array, read block by block
    arr = bed(0, n)
    bed = lambda i0, i1: arr[:, i0:i1]
for _ in range(2):  # plan_mix's pass, then the render pass
    for i0 in range(0, n, 65536):
        energy += float(np.sum(bed(i0, min(n, i0 + 65536)).astype(np.float64) ** 2))
dt = time.perf_counter() - t0
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024
print(json.dumps({"seconds": dt, "vmhwm_mb": hwm, "energy": energy, "tracks": k}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    args = ap.parse_args()
    results = {"minutes": args.minutes, "sr": SR}
    for mode in ("streamed", "whole"):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, str(args.minutes), mode], cwd=REPO, capture_output=True,
                             text=True, check=True)
        info = json.loads(out.stdout.strip().splitlines()[-1])
        info["wall_s"] = time.perf_counter() - t
        results[mode] = info
        print(f"{mode:8s} {args.minutes:.0f} min bed, {info['tracks']} tracks: peak RSS {info['vmhwm_mb']:.0f} MB, "
              f"{info['seconds']:.1f} s for two passes")
    same = abs(results["streamed"]["energy"] - results["whole"]["energy"]) <= 1e-6 * results["whole"]["energy"]
    print(f"same samples both ways (energy): {same}")
    results["same_energy"] = same
    out_path = REPO / "benchmarks" / "out" / "bench_follow_bed.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
