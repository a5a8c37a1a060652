"""ASR speed and word error on 2 CPU cores: seconds of compute per minute of audio, for the shipped models.

The audio is 40 s of English read by espeak-ng (installed at /usr/bin/espeak-ng), so the reference
transcript is known; word error rate is the word-level Levenshtein distance over the reference length after
lower-casing and dropping punctuation. Each model is loaded once (load time reported apart) and then transcribes the
same audio ``--repeats`` times; the median is reported.

    .venv/bin/python benchmarks/bench_asr.py                   # default (tiny.en) and base
    .venv/bin/python benchmarks/bench_asr.py --models default --threads 2

Writes ``benchmarks/out/bench_asr.json``. Other work on the machine slows it down: the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from models.asr import load_asr

TEXT = (
    "Welcome back to the channel. Today I want to tell you about our trip to the mountains last summer. "
    "We left early in the morning, when the sky was still dark and the roads were empty. "
    "By noon we had reached the lake, and the water was so clear that we could see the stones at the bottom. "
    "My sister wanted to swim, but the water was far too cold for me. "
    "In the afternoon we climbed to the top of the hill and watched the clouds move across the valley. "
    "It was one of the most peaceful days I can remember, and I hope you enjoy these pictures as much as we did. "
    "Next week I will show you how we cooked dinner over an open fire. Thanks for watching, and see you soon."
)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = _words(reference), _words(hypothesis)
    d = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        prev, d[0] = d.copy(), i
        for j, h in enumerate(hyp, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r != h))
    return float(d[len(hyp)] / max(1, len(ref)))


def speech() -> tuple[np.ndarray, int]:
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(wav), TEXT], check=True,
                       capture_output=True)
        audio, sr = sf.read(wav, dtype="float32")
    return audio[None, :], int(sr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="default,base")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "bench_asr.json")
    args = ap.parse_args(argv)

    import soxr

    audio, sr = speech()
    audio16k = soxr.resample(audio[0], sr, 16000).astype(np.float32)
    minutes = audio16k.shape[0] / 16000 / 60
    results = {"audio_minutes": round(minutes, 3), "threads": args.threads,
               "loadavg_1min_at_start": round(os.getloadavg()[0], 2), "models": {}}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        t0 = time.perf_counter()
        model = load_asr(name, cpu_threads=args.threads)
        load_s = time.perf_counter() - t0
        runs, text = [], ""
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            text = model.transcribe(audio16k, 16000, language="en").text
            runs.append(time.perf_counter() - t0)
        med = statistics.median(runs)
        results["models"][name] = {
            "load_s": round(load_s, 2),
            "seconds_per_audio_minute_median": round(med / minutes, 2),
            "realtime_factor_median": round(minutes * 60 / med, 1),
            "runs_s": [round(r, 2) for r in runs],
            "wer": round(wer(TEXT, text), 4),
            "transcript": text,
        }
        print(f"{name}: {med / minutes:.2f} s per audio-minute (median of {len(runs)}), "
              f"WER {results['models'][name]['wer']:.3f}, load {load_s:.1f} s", flush=True)
    results["loadavg_1min_at_end"] = round(os.getloadavg()[0], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
