"""The whole emotion pass on a 10-minute input: realtime factor and peak memory.

The input is built, not stored: English sentences read by espeak-ng (so Whisper has real English words to decode,
as with a creator's voice; skipped when espeak-ng is missing) interleaved with EmoDB clips (real emotional voices),
with 0.4-1.2 s pauses, to ``--minutes`` long at 16 kHz. One pass = VAD (mixer.vad) + ASR (faster-whisper, over
the speech segments) + the voice model + the text model + fusion (models.emotion_pass.analyse_speech). Models are loaded
once before timing (load time reported apart), then the pass runs ``--repeats`` times; the median is reported.

    nice .venv/bin/python benchmarks/bench_emotions.py [--minutes 10] [--repeats 3] [--threads 2]

``--threads N`` caps every library's thread pool at N (torch, onnxruntime/VAD, CTranslate2/ASR). For a figure
"on 2 cores" on a bigger machine, also pin the process: ``taskset -c 0,1 python benchmarks/bench_emotions.py``.
Other work on a shared machine slows it down: the load average is recorded. Writes
``benchmarks/out/bench_emotions.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
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
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SR = 16000
EMODB = Path(os.environ.get("MOODMIX_SHARED_DATA", REPO.parent / "shared" / "data")) / "emodb"
SENTENCES = [
    "Welcome back to the channel, today I want to tell you about our trip to the mountains.",
    "I was so angry when the car broke down in the middle of nowhere.",
    "Honestly, I love these people so much, they made the whole week wonderful.",
    "I was really scared when the storm came in and the lights went out.",
    "It is sad to say goodbye to a place like this.",
    "And then, out of nowhere, a deer walked right up to our tent. I could not believe it.",
]


def _espeak(text: str) -> np.ndarray | None:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    import soundfile as sf
    import soxr

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run([exe, "-v", "en-us", "-s", "160", "-w", str(wav), text], check=True, capture_output=True)
        y, sr = sf.read(wav, dtype="float32")
    return soxr.resample(y, sr, SR).astype(np.float32)


def build_input(minutes: float, seed: int = 0) -> np.ndarray:
    """Speech-like 16 kHz mono input of the given length: (1, samples) float32."""
    import soundfile as sf
    import soxr

    rng = np.random.default_rng(seed)
    english = [s for s in (_espeak(t) for t in SENTENCES) if s is not None]
    with open(EMODB / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    clips = []
    for r in rows[::4]:
        y, sr = sf.read(EMODB / r["path"], dtype="float32")
        clips.append(soxr.resample(y, sr, SR).astype(np.float32) * np.float32(0.5 / max(1e-6, np.abs(y).max())))
    n = int(minutes * 60 * SR)
    parts, total, i = [], 0, 0
    while total < n:
        pool = english if (english and i % 2 == 0) else clips
        x = pool[int(rng.integers(len(pool)))]
        gap = np.zeros(int(rng.uniform(0.4, 1.2) * SR), np.float32)
        parts += [x, gap]
        total += x.size + gap.size
        i += 1
    return np.concatenate(parts)[:n][None, :]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--voice-model", default="default", help="voice model setting (e.g. 'stats' to compare)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "bench_emotions.json")
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    os.cpu_count = lambda: args.threads  # type: ignore[assignment]  # thread pools sized from it (ASR, VAD)

    from mixer.vad import detect_speech
    from models.emotion_pass import EmotionSettings, analyse_speech, load_models

    audio = build_input(args.minutes)
    duration_s = audio.shape[1] / SR
    settings = EmotionSettings(voice_model=args.voice_model)
    t0 = time.perf_counter()
    load_models(settings)
    load_s = time.perf_counter() - t0
    load_avg0 = os.getloadavg()[0]
    runs, vad_runs, stages, cpu_runs = [], [], [], []
    result = None
    for _ in range(args.repeats):
        marks: list[tuple[float, float]] = []
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        segments = detect_speech(audio, SR).segments
        t1 = time.perf_counter()
        result = analyse_speech(audio, SR, segments, settings=settings,
                                progress=lambda f, marks=marks: marks.append((f, time.perf_counter())))
        t2 = time.perf_counter()
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu_runs.append((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime))
        runs.append(t2 - t0)
        vad_runs.append(t1 - t0)
        at = dict(marks)
        stages.append({"vad": t1 - t0, "asr": at[0.6] - at[0.0], "voice": at[0.85] - at[0.6],
                       "text_and_fusion": t2 - at[0.85]})
    assert result is not None
    med = statistics.median(runs)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {
        "input_s": round(duration_s, 1),
        "speech_segments": len(result.timeline),
        "threads": args.threads,
        "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_models_s": round(load_s, 2),
        "pass_s_runs": [round(r, 2) for r in runs],
        "pass_s_median": round(med, 2),
        "realtime_factor_median": round(duration_s / med, 1),
        # CPU seconds of this process (all threads) per pass: less sensitive to other load on a shared machine;
        # input_s / (cpu_s / threads) is the realtime factor if the pass kept all its cores busy and had them alone
        "cpu_s_runs": [round(c, 2) for c in cpu_runs],
        "cpu_s_median": round(statistics.median(cpu_runs), 2),
        "cpu_bound_realtime_factor_median": round(duration_s / (statistics.median(cpu_runs) / args.threads), 1),
        "stage_s_median": {k: round(statistics.median(s[k] for s in stages), 2) for k in stages[0]},
        "peak_rss_mb": round(peak_mb, 1),
        "loadavg_1min_before": round(load_avg0, 2),
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
        "goal": ">= 15x realtime on 2 cores",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
