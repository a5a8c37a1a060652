"""Benchmark the voice leveller on wide-dynamics speech (issue 12 §1).

The voice: EmoDB utterances (all speakers, shuffled, seeded) whose level swings by ±10 dB from line to line —
each line whispered (10 dB down), spoken, or shouted (10 dB up), ±2 dB, applied on top of the acting's own dynamics
(anger is already loud, boredom quiet) — with 0.4-1.5 s pauses, 48 kHz mono WAV. It is mixed with
``--music`` (a built-in track, no emotion pass) into a WAV with stems, and measured from the written files:

- limiter gain reduction per 1 ms hop: ``20 log10(rms(voice + music) / rms(mix))`` over hops where the pre-limiter
  mix is not silent; its 99th percentile and maximum (goal ≤ 3 dB p99, ≤ 6 dB max);
- stems residual: ``10 log10(Σ(mix − voice − music)² / Σ mix²)`` (goal ≤ −25 dB: the stems sum to the output);
- speech over the bed: K-weighted loudness of the voice stem minus the music stem over the speech segments of the
  report (goal ≥ 18 dB in podcast);
- integrated loudness (pyloudnorm) and true peak (4x) of the output (goal target ± 0.5 LU, ≤ −1 dBTP).

Run::

    .venv/bin/python benchmarks/bench_leveller.py                       # podcast, leveller on (default)
    .venv/bin/python benchmarks/bench_leveller.py --leveller off        # today's behaviour
    .venv/bin/python benchmarks/bench_leveller.py --preset vlog --seconds 120 --seeds 0 1 2

Prints a Markdown table (median over ``--seeds``) and writes ``benchmarks/out/bench_leveller.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

EMODB = Path(os.environ.get("MOODMIX_SHARED_DATA", REPO.parent / "shared" / "data")) / "emodb"
SR = 48000


def make_wide_voice(path: Path, seconds: float, *, seed: int = 0, swing_db: float = 10.0) -> float:
    """EmoDB lines with a ±``swing_db`` level swing line to line (alternating quiet/loud, random within), pauses
    0.4-1.5 s; 48 kHz mono float WAV. Returns the duration in seconds."""
    import soxr

    rng = np.random.default_rng(seed)
    with open(EMODB / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    rng.shuffle(rows)
    parts = [np.zeros(int(0.5 * SR), np.float32)]
    total = parts[0].size
    i = 0
    while total < seconds * SR:
        y, sr = sf.read(EMODB / rows[i % len(rows)]["path"], dtype="float32", always_2d=True)
        y = soxr.resample(y.mean(axis=1), sr, SR).astype(np.float32)
        # each line at one of three levels: whispered (-swing), spoken (0) or shouted (+swing), ±2 dB
        gain_db = float(rng.choice([-swing_db, 0.0, swing_db])) + rng.uniform(-2.0, 2.0)
        y = y * np.float32(10 ** (gain_db / 20))
        gap = np.zeros(int(rng.uniform(0.4, 1.5) * SR), np.float32)
        parts += [y, gap]
        total += y.size + gap.size
        i += 1
    audio = np.concatenate(parts)[: int(seconds * SR)]
    peak = float(np.max(np.abs(audio)))
    if peak > 0.99:  # the file itself must not clip: the loudest line sits just under full scale
        audio *= np.float32(0.99 / peak)
    sf.write(path, audio, SR, subtype="FLOAT")
    return audio.size / SR


def _hop_rms(x: np.ndarray, hop: int) -> np.ndarray:
    n = x.shape[1] // hop * hop
    return np.sqrt((x[:, :n].astype(np.float64) ** 2).reshape(x.shape[0], -1, hop).mean(axis=(0, 2)))


def measure(out: Path, stems: Path, report: dict) -> dict:
    import pyloudnorm as pyln

    from mixer.ducking import speech_mask
    from mixer.loudness import kweighted_hop_power, true_peak_dbtp

    mix, sr = sf.read(out, dtype="float32", always_2d=True)
    v, _ = sf.read(stems / "voice.wav", dtype="float32", always_2d=True)
    m, _ = sf.read(stems / "music.wav", dtype="float32", always_2d=True)
    mix, v, m = mix.T, v.T, m.T
    pre = v + m
    hop = sr // 1000
    rp, rm = _hop_rms(pre, hop), _hop_rms(mix, hop)
    ok = rp > 10 ** (-60 / 20)
    gr = 20 * np.log10(np.maximum(rp[ok], 1e-12) / np.maximum(rm[ok], 1e-12))
    gr = np.maximum(gr, 0.0)
    resid = float(10 * np.log10(np.sum((mix.astype(np.float64) - pre) ** 2) / np.sum(mix.astype(np.float64) ** 2)))
    ctl = sr // 100
    pv, _ = kweighted_hop_power(v, sr, ctl)
    pm, _ = kweighted_hop_power(m, sr, ctl)
    mask = speech_mask([(s + report["music"]["fit"]["start_offset_s"], e + report["music"]["fit"]["start_offset_s"])
                        for s, e in report["speech"]["segments"]], pv.size, ctl / sr)
    s2m = float(10 * np.log10(pv[mask].sum() / pm[mask].sum()))
    lufs = float(pyln.Meter(sr).integrated_loudness(mix.T.astype(np.float64)))
    return {"limiter_gr_p99_db": float(np.percentile(gr, 99)), "limiter_gr_max_db": float(gr.max()),
            "stems_residual_db": resid, "speech_over_bed_db": s2m, "lufs": lufs,
            "true_peak_dbtp": float(true_peak_dbtp(mix, sr)),
            "voice_stem_peak_dbfs": float(20 * np.log10(np.max(np.abs(v)))),
            "report_mix": report["mix"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--preset", default="podcast")
    ap.add_argument("--leveller", default=None, help="leveller setting (default: the preset's; 'off')")
    ap.add_argument("--target-lufs", type=float, default=-16.0)
    ap.add_argument("--track", type=Path, default=None)
    args = ap.parse_args()

    import immich_memories_music

    from moodmix.pipeline import mix_file
    from moodmix.settings import JobSettings

    track = args.track or immich_memories_music.tracks_dir() / "calm" / "calm_acoustic_1.opus"
    rows = []
    with tempfile.TemporaryDirectory(prefix="moodmix-lev-") as d:
        tmp = Path(d)
        for seed in args.seeds:
            voice = tmp / f"voice{seed}.wav"
            make_wide_voice(voice, args.seconds, seed=seed)
            changes = {} if args.leveller is None else {"leveller": args.leveller}
            try:
                settings = JobSettings(music=track, analyse_emotion=False, preset=args.preset,
                                       target_lufs=args.target_lufs, stems_dir=tmp / f"stems{seed}", **changes)
            except TypeError:  # before the leveller existed
                settings = JobSettings(music=track, analyse_emotion=False, preset=args.preset,
                                       target_lufs=args.target_lufs, stems_dir=tmp / f"stems{seed}")
            rep = mix_file(voice, tmp / f"out{seed}.wav", settings=settings)
            r = measure(tmp / f"out{seed}.wav", tmp / f"stems{seed}", rep)
            r["seed"] = seed
            rows.append(r)
    med = statistics.median
    keys = ["limiter_gr_p99_db", "limiter_gr_max_db", "stems_residual_db", "speech_over_bed_db", "lufs",
            "true_peak_dbtp", "voice_stem_peak_dbfs"]
    goals = {"limiter_gr_p99_db": "≤ 3", "limiter_gr_max_db": "≤ 6", "stems_residual_db": "≤ −25",
             "speech_over_bed_db": "≥ 18 (podcast)", "lufs": f"{args.target_lufs} ± 0.5", "true_peak_dbtp": "≤ −1",
             "voice_stem_peak_dbfs": ""}
    print(f"wide-dynamics EmoDB voice (±10 dB line to line), {args.seconds:.0f} s, preset {args.preset}, "
          f"leveller {args.leveller or 'preset default'}; median of seeds {args.seeds}")
    print()
    print("| figure | median | min | max | goal |")
    print("|---|---|---|---|---|")
    for k in keys:
        vals = [r[k] for r in rows]
        print(f"| {k} | {med(vals):.2f} | {min(vals):.2f} | {max(vals):.2f} | {goals[k]} |")
    outdir = REPO / "benchmarks" / "out"
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "bench_leveller.json").write_text(json.dumps({"args": vars(args) | {"track": str(track)},
                                                           "runs": rows}, indent=2, default=str))


if __name__ == "__main__":
    main()
