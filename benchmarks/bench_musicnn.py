"""Speed and memory of the musicnn taggers (:mod:`library.musicnn`, MSD + MTT together, one thread).

Each measurement runs in a fresh subprocess (imports and weight loading are outside the timing, inside the memory
baseline). The input is generated music-like audio at 44.1 kHz (chords, a 120 BPM pulse, noise), made 10 s at a
time so that the generator itself stays small:

1. speed: a 1-minute signal held in memory, tagged by :func:`library.musicnn.music_tags` ``--repeats`` times
   after a warm-up; CPU seconds (``time.process_time``, all threads) per audio minute, median. Both the default
   (every 3-s patch, as musicnn) and ``hop_s = 2·PATCH_S`` (every other patch) are timed;
2. memory: 1- and 10-minute signals fed block by block (10 s) to :class:`library.musicnn.TagStream`; peak
   resident memory (``ru_maxrss``) of the process, and its rise over the baseline after loading. Memory flat in
   the track's length means the 10-minute peak equals the 1-minute one.

Run: ``nice .venv/bin/python benchmarks/bench_musicnn.py [--repeats 5]`` (≈ 1 min). Writes
``benchmarks/out/musicnn.json``. Other work on the machine inflates CPU time (cache and memory-bandwidth
contention); the load average at the start and a one-thread 1024³ sgemm rate (the same BLAS the taggers'
products use) are recorded to show the machine's state.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"

_COMMON = r"""
import json, resource, sys, time
import numpy as np
sys.path.insert(0, {repo!r})
import torch
torch.set_num_threads(1)
from library import musicnn as M

SR = 44100

def blocks(minutes):
    # chords (changing every 2 s) + 120 BPM kick + hi-hat noise, 10 s per block, deterministic
    rng = np.random.default_rng(7)
    n_block = 10 * SR
    total = int(minutes * 60 * SR)
    for start in range(0, total, n_block):
        n = min(n_block, total - start)
        t = (start + np.arange(n)) / SR
        chord = (t // 2).astype(int) % 4
        roots = np.array([220.0, 174.6, 261.6, 196.0])[chord]
        x = sum(np.sin(2 * np.pi * roots * r * t) / (i + 1) for i, r in enumerate((1.0, 1.26, 1.5, 2.0)))
        beat = (t * 2) % 1.0
        x = 0.15 * x + 0.5 * np.sin(2 * np.pi * 55 * t) * np.exp(-beat * 12)
        x += 0.05 * rng.standard_normal(n) * np.exp(-((t * 4) % 1.0) * 20)
        yield (0.5 * x).astype(np.float32)

M.load_tagger("msd"); M.load_tagger("mtt"); M._mel_basis()
base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

_SPEED = _COMMON + r"""
x = np.concatenate(list(blocks(1.0)))
M.music_tags(x[: 10 * SR], SR)  # warm-up
out = {{}}
for label, hop in (("all_patches", None), ("every_other_patch", 2 * M.PATCH_S)):
    runs = []
    for _ in range({repeats}):
        t0 = time.process_time()
        r = M.music_tags(x, SR, hop_s=hop)
        runs.append(time.process_time() - t0)
    out[label] = {{"cpu_s_per_audio_min": runs, "patches": r.msd.patches}}
a = torch.randn(1024, 1024); a @ a
t0 = time.process_time()
for _ in range(5):
    a @ a
out["sgemm_gflops"] = 5 * 2 * 1024 ** 3 / (time.process_time() - t0) / 1e9
print(json.dumps(out))
"""

_MEMORY = r"""
stream = M.TagStream(SR)
cpu = 0.0
for b in blocks({minutes}):
    t0 = time.process_time()
    stream.feed(b)
    cpu += time.process_time() - t0
t0 = time.process_time()
r = stream.finish()
cpu += time.process_time() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"minutes": {minutes}, "patches": r.msd.patches, "cpu_s": cpu, "baseline_mb": base_mb,
                  "peak_rss_mb": peak, "rise_mb": peak - base_mb}}))
"""


def _child(code: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0], help="lengths for the memory runs")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    speed = _child(_SPEED.format(repo=str(REPO), repeats=args.repeats))
    memory = [_child((_COMMON + _MEMORY).format(repo=str(REPO), minutes=m)) for m in args.minutes]
    print(f"musicnn MSD + MTT, 1 thread, 44.1 kHz input; load average at start {load:.1f} on {os.cpu_count()} CPUs")
    print(f"  machine state: one-thread sgemm 1024³ at {speed.pop('sgemm_gflops'):.0f} GFLOPS")
    for label, v in speed.items():
        runs = v["cpu_s_per_audio_min"]
        print(f"  {label:18s} {statistics.median(runs):.2f} CPU s per audio minute (median of {len(runs)}: "
              f"{', '.join(f'{r:.2f}' for r in runs)}; {v['patches']} patches per minute)")
    for m in memory:
        print(f"  {m['minutes']:4g} min streamed: peak RSS {m['peak_rss_mb']:.0f} MB (baseline after loading "
              f"{m['baseline_mb']:.0f} MB, rise {m['rise_mb']:.0f} MB), {m['cpu_s'] / m['minutes']:.2f} CPU s/min")
    OUT.mkdir(exist_ok=True)
    (OUT / "musicnn.json").write_text(json.dumps({"load_average": load, "speed": speed, "memory": memory},
                                                 indent=1) + "\n")


if __name__ == "__main__":
    main()
