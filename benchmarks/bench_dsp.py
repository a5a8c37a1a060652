"""Speed and memory of the DSP half of moodmix (VAD, beats, fit, mixdown) on generated signals.

Run: ``.venv/bin/python benchmarks/bench_dsp.py [--minutes 10] [--repeats 3] [--sr 48000]``

Signals: a speech-like voice (glottal pulse train through two formants, 4 Hz syllables, 2-6 s phrases with 0.3-2 s
pauses) and a 3-minute music-like bed (chords + noise + a 120 BPM pulse), both generated, so anyone can re-run it.
Prints medians of ``--repeats`` runs; realtime factor = audio duration / wall time. Peak memory of the mixdown is
measured in a fresh child process (VmHWM) for the whole-array API and for the block-wise plan + render.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_voice(sr: int, seconds: float, seed: int = 0) -> tuple[np.ndarray, list[tuple[float, float]]]:
    from tests.signals import speech_like

    rng = np.random.default_rng(seed)
    bursts, t = [], 0.5
    while t < seconds - 1:
        d = float(rng.uniform(2, 6))
        bursts.append((t, min(t + d, seconds - 0.5)))
        t += d + float(rng.uniform(0.3, 2.0))
    chunk = 60.0  # generate per minute to keep the generator's float64 temporaries small
    parts = []
    for c0 in np.arange(0, seconds, chunk):
        c1 = min(seconds, c0 + chunk)
        local = [(max(s, c0) - c0, min(e, c1) - c0) for s, e in bursts if e > c0 and s < c1]
        parts.append(speech_like(sr, c1 - c0, bursts=local, rng=rng)[0])
    return np.concatenate(parts)[None, :], bursts


def make_music(sr: int, seconds: float = 180.0, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    x = np.zeros(n)
    for f in (110.0, 164.8, 220.0, 277.2):
        x += 0.15 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6))
    beat = (np.mod(t, 0.5) < 0.06) * np.exp(-np.mod(t, 0.5) * 40)
    x += 0.5 * beat * np.sin(2 * np.pi * 60 * t) + 0.03 * rng.standard_normal(n)
    y = np.stack([x, np.roll(x, 37)]).astype(np.float32)
    return 0.5 * y / np.abs(y).max()


CPU: dict[str, float] = {}


def timed(fn, repeats: int, name: str = "") -> float:
    """Median wall time of ``repeats`` calls; the median CPU time (all threads) goes to ``CPU[name]``.

    On a shared machine the CPU time is the steadier figure: wall time includes waiting for other processes.
    """
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    if name:
        CPU[name] = statistics.median(cpu)
    return statistics.median(times)


def write_voice_file(path: Path, sr: int, minutes: float) -> list[tuple[float, float]]:
    """A long voice as raw float32 on disk (one generated minute repeated) and its speech segments."""
    one, segs = make_voice(sr, 60.0)
    out = []
    with open(path, "wb") as f:
        for k in range(int(np.ceil(minutes))):
            one.tofile(f)
            out += [(s + 60.0 * k, e + 60.0 * k) for s, e in segs]
    return out


def child_memory(minutes: float, sr: int, mode: str, voice_path: Path, segs_path: Path,
                 music_path: Path) -> tuple[float, float]:
    """Peak RSS (MB) of a fresh process mixing ``minutes`` of voice; also its RSS before mixing.

    ``array``: voice decoded into memory, the whole-array API (mix and stems returned as arrays).
    ``blocks``: the voice read from disk block by block (as a streaming decoder would hand it over), the bed
    rendered from its fit plan on demand, the mix rendered block by block and dropped (as an encoder would take it).
    """
    code = f"""
import json, sys, numpy as np
def hwm_mb():  # VmHWM: this process's own peak RSS (ru_maxrss would carry the parent's over fork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
sys.path.insert(0, {str(REPO)!r}); sys.path.insert(0, {str(REPO / 'benchmarks')!r})
from mixer.fit import plan_fit
from mixer.mixdown import MixSettings, mix_voice_and_bed, plan_mix
sr = {sr}
segs = [tuple(s) for s in json.load(open({str(segs_path)!r}))]
n = int(round({minutes} * 60 * sr))
music = np.load({str(music_path)!r})
fplan = plan_fit(music, sr, n, beats=[], downbeats=list(np.arange(0.5, 180, 2.0)))
if {mode!r} == "array":
    voice = np.fromfile({str(voice_path)!r}, dtype=np.float32, count=n)[None, :]
    base = hwm_mb()
    bed = fplan.render(music)
    r = mix_voice_and_bed(voice, bed, sr, segs, settings=MixSettings())
else:
    def read_voice(i0, i1):
        return np.fromfile({str(voice_path)!r}, dtype=np.float32, count=i1 - i0, offset=4 * i0)[None, :]
    def read_bed(i0, i1):
        return fplan.render(music, i0, i1)
    read_voice.n_samples = read_bed.n_samples = n
    base = hwm_mb()
    plan = plan_mix(read_voice, read_bed, sr, segs, settings=MixSettings())
    for i0 in range(0, n, sr):
        i1 = min(n, i0 + sr)
        plan.render_block(read_voice(i0, i1), read_bed(i0, i1), i0)
peak = hwm_mb()
print(base, peak)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(out[-1]), float(out[-2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sr", type=int, default=48000)
    ap.add_argument("--memory-minutes", type=float, default=60.0)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--steps", default="vad,beats,fit,mixdown",
                    help="comma-separated subset to time (e.g. fit,mixdown where onnxruntime/librosa are missing)")
    args = ap.parse_args()

    steps = set(args.steps.split(","))
    from mixer.fit import fit_to_length
    from mixer.mixdown import MixSettings, mix_voice_and_bed

    sr = args.sr
    seconds = args.minutes * 60
    voice, segs = make_voice(sr, seconds)
    music = make_music(sr)
    n = voice.shape[1]
    res: dict[str, float] = {"audio_s": seconds, "sr": sr}
    beats, downbeats = [], list(np.arange(0.5, 180, 2.0))  # the generated bed's bars (120 BPM, 4/4)

    if "vad" in steps:
        from mixer.vad import detect_speech

        detect_speech(voice[:, : sr * 5], sr)  # load the model once (cached per process)
        res["vad_s"] = timed(lambda: detect_speech(voice, sr), args.repeats, "vad")
    if "beats" in steps:
        from mixer.beats import track_beats

        track_beats(music[:, : sr * 10], sr)  # numba JIT warm-up
        res["beats_3min_track_s"] = timed(lambda: track_beats(music, sr), args.repeats, "beats")
        grid = track_beats(music, sr)
        beats, downbeats = list(grid.beats_s), list(grid.downbeats_s)
    if "fit" in steps or "mixdown" in steps:
        res["fit_s"] = timed(lambda: fit_to_length(music, sr, n, beats=beats, downbeats=downbeats),
                             args.repeats, "fit")
    if "mixdown" in steps:
        bed = fit_to_length(music, sr, n, beats=beats, downbeats=downbeats).audio
        res["mixdown_s"] = timed(lambda: mix_voice_and_bed(voice, bed, sr, segs, settings=MixSettings()),
                                 args.repeats, "mixdown")
        del bed
    for k in ("vad_s", "fit_s", "mixdown_s"):
        if k in res:
            res[k.replace("_s", "_x_realtime")] = seconds / res[k]
    timed_steps = [k for k in ("vad", "fit", "mixdown") if k in CPU]
    res["timed_total_x_realtime"] = seconds / sum(res[f"{k}_s"] for k in timed_steps)
    for k, v in CPU.items():
        res[f"{k}_cpu_s"] = v
    res["timed_total_x_realtime_cpu"] = seconds / sum(CPU[k] for k in timed_steps)
    res["load_avg_1min"] = os.getloadavg()[0]
    if not args.skip_memory:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            voice_path, segs_path = Path(tmp) / "voice.f32", Path(tmp) / "segs.json"
            segs_long = write_voice_file(voice_path, sr, max(args.memory_minutes, args.minutes))
            segs_path.write_text(json.dumps(segs_long))
            music_path = Path(tmp) / "music.npy"
            np.save(music_path, music)
            for mode, minutes in (("array", args.minutes), ("blocks", args.memory_minutes)):
                peak, base = child_memory(minutes, sr, mode, voice_path, segs_path, music_path)
                res[f"peak_rss_mb_{mode}_{minutes:g}min"] = peak
                res[f"rss_before_mix_mb_{mode}_{minutes:g}min"] = base
    res["cores"] = os.cpu_count() or 0
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in res.items()}, indent=1))


if __name__ == "__main__":
    main()
