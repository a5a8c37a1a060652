"""Speed and memory of the music analysis: CPU seconds per audio minute, peak memory on a long file.

Two measurements, each in a fresh subprocess (so imports and model loading are outside the timing but inside the
memory baseline):

1. the 28 built-in clips (≈ 15 min of 48 kHz stereo Opus), analysed one after another: CPU seconds (all threads,
   ``time.process_time``) per minute of audio, after one warm-up clip;
2. generated long files (``--minutes``/3 and ``--minutes``, default 10 and 30 min; chords, a 120 BPM pulse and
   noise, 44.1 kHz stereo FLAC in a temporary folder) against a 10 s file of the same kind, each process warmed
   up on that 10 s file first (models loaded outside the timing): CPU per audio minute
   and peak resident memory (``ru_maxrss``) of each process. Bounded memory means the peak does not grow with
   the length: the 10- and 30-min files should need about the same.

Run: ``.venv/bin/python benchmarks/bench_library_speed.py [--minutes 30] [--repeats 3]``
Medians of ``--repeats`` runs of (1). Writes ``benchmarks/out/library_speed.json``. Other work on the machine
inflates CPU time a little (cache contention); the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"

_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from library.features import analyse_file
paths = {paths!r}
warm = {warm!r}
if warm:
    analyse_file(warm)
t0 = time.process_time(); w0 = time.perf_counter()
dur = 0.0
for p in paths:
    dur += analyse_file(p).duration_s
cpu = time.process_time() - t0
print(json.dumps({{"cpu_s": cpu, "wall_s": time.perf_counter() - w0, "audio_s": dur,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def _child(paths: list[str], warm: str | None) -> dict:
    code = _CHILD.format(repo=str(REPO), paths=paths, warm=warm)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _write_music(path: Path, minutes: float, sr: int = 44100) -> None:
    """Chords + 120 BPM pulse + noise, written 30 s at a time (the generator itself stays small)."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    block = 30 * sr
    t = np.arange(block) / sr
    with sf.SoundFile(path, "w", samplerate=sr, channels=2, subtype="PCM_16") as f:
        for i in range(int(np.ceil(minutes * 2))):
            root = 110.0 * 2 ** (((i * 5) % 12) / 12)
            x = sum(np.sin(2 * np.pi * root * r * t) / (j + 1) for j, r in enumerate((1, 1.26, 1.5, 2)))
            pulse = np.exp(-((t % 0.5) / 0.02)) * rng.standard_normal(block) * 0.8
            y = 0.15 * x + 0.3 * pulse + 0.02 * rng.standard_normal(block)
            f.write(np.stack([y, 0.9 * y], axis=1).astype(np.float32) * 0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from library.builtin import builtin_files

    clips = [str(p) for p in builtin_files()]
    runs = [_child(clips[1:], clips[0]) for _ in range(args.repeats)]
    per_min = [r["cpu_s"] / (r["audio_s"] / 60) for r in runs]
    res: dict = {
        "builtin": {"clips": len(clips) - 1, "audio_min": round(runs[0]["audio_s"] / 60, 2),
                    "cpu_s_per_audio_min_median": round(statistics.median(per_min), 3),
                    "cpu_s_per_audio_min_runs": [round(v, 3) for v in per_min],
                    "wall_s_median": round(statistics.median(r["wall_s"] for r in runs), 2)},
        "loadavg_1min": os.getloadavg()[0],
    }
    print(f"built-in clips: {res['builtin']['cpu_s_per_audio_min_median']:.3f} CPU s per audio minute "
          f"(median of {args.repeats}: {res['builtin']['cpu_s_per_audio_min_runs']})")
    with tempfile.TemporaryDirectory() as tmp:
        short = Path(tmp) / "short.flac"
        _write_music(short, 10 / 60)
        a = _child([str(short)], str(short))  # models loaded before the timing, as for the clips
        res["long_files"] = []
        for minutes in (args.minutes / 3, args.minutes):
            long_ = Path(tmp) / f"long_{minutes:.0f}.flac"
            _write_music(long_, minutes)
            b = _child([str(long_)], str(short))
            long_.unlink()
            lf = {
                "minutes": round(minutes, 1),
                "cpu_s_per_audio_min": round(b["cpu_s"] / (b["audio_s"] / 60), 3),
                "peak_rss_mb": round(b["peak_rss_mb"], 1),
                "extra_mb_vs_10s_file": round(b["peak_rss_mb"] - a["peak_rss_mb"], 1),
                "decoded_signal_mb": round(minutes * 60 * 44100 * 2 * 4 / 2 ** 20, 1),
            }
            res["long_files"].append(lf)
            print(f"{minutes:.0f}-min file: {lf['cpu_s_per_audio_min']:.3f} CPU s per audio minute; peak RSS "
                  f"{lf['peak_rss_mb']} MB, +{lf['extra_mb_vs_10s_file']} MB over a 10 s file "
                  f"({a['peak_rss_mb']:.0f} MB); the decoded float32 stereo signal alone would be "
                  f"{lf['decoded_signal_mb']} MB")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "library_speed.json").write_text(json.dumps(res, indent=1))
    print(f"wrote {OUT / 'library_speed.json'}")


if __name__ == "__main__":
    main()
