"""Benchmark `moodmix mix` against the ffmpeg one-liner a user would write instead.

What it measures (each run in a fresh child process; peak memory is that process's own high-water mark, ``VmHWM``):

Peak RSS is the Python process's own; its ffmpeg children (decode, encode) are small streaming processes.

1. a 10-minute voice (emodb utterances of several speakers concatenated with 0.3-2.5 s pauses, 48 kHz mono FLAC,
   written to a temporary folder) mixed with a built-in track (``immich_memories_music``) into a 48 kHz WAV:
   realtime factor = audio seconds / wall seconds, median of ``--repeats`` runs, for
   - moodmix: :func:`moodmix.pipeline.mix_file` with the emotion pass off (``--no-emotion``; the emotion models are
     benchmarked with their own issue) — both the call itself and the whole process (interpreter start, imports);
   - the one-liner: ``sidechaincompress`` + ``amix`` + ``loudnorm`` in one ffmpeg graph;
   - whole ``moodmix mix`` CLI processes, as a user runs them (issue 12 goals): ``mix VOICE --music TRACK``
     (≤ 0.5x the one-liner's wall time, ≥ 100x realtime) and the default path ``mix VOICE`` (emotion pass +
     library choice; ≤ 1.0x the one-liner, ≥ 30x realtime);
2. moodmix's peak memory on a 60-minute input (the 10-minute voice six times): ``mix --music`` (goal ≤ 500 MB) and,
   with ``--long-emotion``, the default path with the emotion pass (goal ≤ 1.5 GB);
3. with ``--separate-minutes N``: peak memory and speed of ``mix --separate`` (DeepFilterNet, window by window)
   on an N-minute input.

``--repo DIR`` runs the CLI processes from another checkout of moodmix (e.g. ``git archive <commit>`` unpacked) with
this one's virtual environment, for before/after figures on the same machine and files.

Run::

    .venv/bin/python benchmarks/bench_mix.py                 # 10 min x 3 + 60 min x 1
    .venv/bin/python benchmarks/bench_mix.py --long-minutes 0  # skip the 60-minute run
    .venv/bin/python benchmarks/bench_mix.py --repeats 1 --long-minutes 0 --separate-minutes 60
    .venv/bin/python benchmarks/bench_mix.py --repeats 3 --long-minutes 60 --long-emotion --repo /tmp/base

Prints a Markdown table and writes ``benchmarks/out/bench_mix.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

EMODB = Path(os.environ.get("MOODMIX_SHARED_DATA", REPO.parent / "shared" / "data")) / "emodb"
SR = 48000

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from moodmix.pipeline import mix_file
from moodmix.settings import JobSettings
t1 = time.perf_counter()
separate = len(sys.argv) > 4 and sys.argv[4] == "separate"
rep = mix_file(sys.argv[1], sys.argv[2], settings=JobSettings(music=Path(sys.argv[3]), analyse_emotion=False,
                                                              separate=separate))
t2 = time.perf_counter()
ch = resource.getrusage(resource.RUSAGE_CHILDREN)
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({"vmhwm_mb": int(status["VmHWM"].split()[0]) / 1024, "import_s": t1 - t0, "mix_s": t2 - t1, "timings_s": rep["timings_s"],
                  "lufs": rep["mix"]["integrated_lufs"], "tp": rep["mix"]["true_peak_dbtp"],
                  "ffmpeg_maxrss_mb": ch.ru_maxrss / 1024, "ffmpeg_cpu_s": ch.ru_utime + ch.ru_stime}))
"""


def one_liner(voice: Path, track: Path, out: Path) -> list[str]:
    """The ffmpeg command a user would write: duck the looped track under the voice with a sidechain
    compressor, sum, normalise loudness to -16 LUFS / -1 dBTP."""
    from mixer.ffmpeg import ffmpeg_exe

    graph = (
        "[1:a]aformat=sample_rates=48000:channel_layouts=stereo,volume=0.5[m];"
        "[0:a]aformat=sample_rates=48000:channel_layouts=stereo,asplit=2[v][sc];"
        "[m][sc]sidechaincompress=threshold=0.03:ratio=8:attack=100:release=500[d];"
        "[v][d]amix=inputs=2:duration=first:normalize=0,loudnorm=I=-16:TP=-1:LRA=11,aresample=48000"
    )
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(voice), "-stream_loop", "-1",
            "-i", str(track), "-filter_complex", graph, "-c:a", "pcm_s24le", str(out)]


def _vmhwm_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_child(cmd: list[str], cwd: Path = REPO) -> tuple[float, float, str, float]:
    """Run ``cmd``; return (wall seconds, peak RSS in MB of that process, stdout, its CPU seconds).

    The peak is the process's own high-water mark (``VmHWM``, polled every 20 ms until it exits):
    ``ru_maxrss`` from ``wait4`` is not used because Linux carries the *parent's* high-water mark into it at exec.
    """
    import threading

    t = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(cwd))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env)
    peak = [0.0]
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            v = _vmhwm_mb(proc.pid)
            if v:
                peak[0] = max(peak[0], v)
            done.wait(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    _, status, ru = os.wait4(proc.pid, 0)
    done.set()
    poller.join()
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd[:6])}...\n{err.decode()[-2000:]}")
    return wall, peak[0], out.decode(), ru.ru_utime + ru.ru_stime


def make_voice(path: Path, minutes: float, seed: int = 0) -> float:
    """emodb utterances (all speakers, shuffled) with 0.3-2.5 s pauses up to ``minutes``, 48 kHz mono FLAC,
    written block by block. Returns the duration in seconds."""
    import soxr

    rng = np.random.default_rng(seed)
    with open(EMODB / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    rng.shuffle(rows)
    target = int(minutes * 60 * SR)
    written = 0
    with sf.SoundFile(str(path), "w", samplerate=SR, channels=1, format="FLAC", subtype="PCM_16") as out:
        i = 0
        while written < target:
            y, sr = sf.read(EMODB / rows[i % len(rows)]["path"], dtype="float32", always_2d=True)
            i += 1
            y = soxr.resample(y.mean(axis=1), sr, SR)
            gap = np.zeros(int(rng.uniform(0.3, 2.5) * SR), dtype=np.float32)
            block = np.concatenate([y, gap])[: target - written]
            out.write(block)
            written += block.size
    return written / SR


_CLI_REPO = REPO


def cli_runs(voice: Path, tmp: Path, extra: list[str], repeats: int) -> dict:
    """``moodmix mix VOICE -o OUT.wav EXTRA --report R`` as whole processes from ``_CLI_REPO``: wall, CPU (with
    ffmpeg children), peak RSS, the report's loudness and stage timings."""
    out = {"wall_s": [], "cpu_s": [], "maxrss_mb": [], "timings_s": [], "cmd": ["moodmix", "mix", "VOICE", *extra]}
    for _ in range(repeats):
        report = tmp / "cli_report.json"
        cmd = [sys.executable, "-m", "moodmix", "mix", str(voice), "-o", str(tmp / "cli.wav"), *extra,
               "--report", str(report)]
        wall, rss, _, cpu = run_child(cmd, cwd=_CLI_REPO)
        rep = json.loads(report.read_text())
        out["wall_s"].append(wall)
        out["cpu_s"].append(cpu)
        out["maxrss_mb"].append(rss)
        out["timings_s"].append(rep["timings_s"])
        out["lufs"] = rep["mix"]["integrated_lufs"]
        out["emotion_ran"] = rep.get("emotion") is not None
    return out


def repeat_file(src: Path, dst: Path, times: int) -> float:
    y, sr = sf.read(src, dtype="float32")
    with sf.SoundFile(str(dst), "w", samplerate=sr, channels=1, format="FLAC", subtype="PCM_16") as out:
        for _ in range(times):
            out.write(y)
    return times * y.size / sr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--long-minutes", type=int, default=60, help="0: skip the long-input memory run")
    ap.add_argument("--track", type=Path, default=None)
    ap.add_argument("--separate-minutes", type=int, default=0, help="N > 0: also mix --separate an N-min input")
    ap.add_argument("--repo", type=Path, default=REPO, help="checkout whose `moodmix mix` CLI is timed")
    ap.add_argument("--long-emotion", action="store_true", help="also the 60-minute default path (emotion)")
    ap.add_argument("--no-default-path", action="store_true", help="skip the default path (emotion) runs")
    ap.add_argument("--library-only", action="store_true", help="skip the mix_file-call runs (CLI runs only)")
    args = ap.parse_args()
    global _CLI_REPO
    _CLI_REPO = args.repo.resolve()

    import immich_memories_music

    track = args.track or immich_memories_music.tracks_dir() / "calm" / "calm_acoustic_1.opus"
    results: dict = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                 "python": platform.python_version()}, "track": str(track)}
    with tempfile.TemporaryDirectory(prefix="moodmix-bench-") as d:
        tmp = Path(d)
        voice = tmp / "voice10.flac"
        dur = make_voice(voice, args.minutes)
        results["voice_s"] = dur

        mm = {"wall_s": [], "mix_s": [], "maxrss_mb": [], "ffmpeg_maxrss_mb": [], "timings_s": [], "cpu_s": []}
        for _ in range(0 if args.library_only else args.repeats):
            wall, rss, out, cpu = run_child([sys.executable, "-c", CHILD, str(voice), str(tmp / "mm.wav"),
                                             str(track)])
            info = json.loads(out.strip().splitlines()[-1])
            mm["cpu_s"].append(cpu + info["ffmpeg_cpu_s"])
            mm["wall_s"].append(wall)
            mm["mix_s"].append(info["mix_s"])
            mm["maxrss_mb"].append(info["vmhwm_mb"])  # exact, from the process itself
            mm["ffmpeg_maxrss_mb"].append(info["ffmpeg_maxrss_mb"])
            mm["timings_s"].append(info["timings_s"])
            mm["lufs"], mm["tp"] = info["lufs"], info["tp"]
        ff = {"wall_s": [], "maxrss_mb": [], "cpu_s": []}
        for _ in range(args.repeats):
            wall, rss, _, cpu = run_child(one_liner(voice, track, tmp / "ff.wav"))
            ff["cpu_s"].append(cpu)
            ff["wall_s"].append(wall)
            ff["maxrss_mb"].append(rss)
        y, sr = sf.read(tmp / "ff.wav", dtype="float64")
        import pyloudnorm as pyln

        ff["lufs"] = float(pyln.Meter(sr).integrated_loudness(y))
        results["moodmix"], results["ffmpeg_one_liner"] = mm, ff

        # whole CLI processes, as a user runs them
        results["cli_music"] = cli_runs(voice, tmp, ["--music", str(track)], args.repeats)
        if not args.no_default_path:
            results["cli_default"] = cli_runs(voice, tmp, [], args.repeats)

        if args.long_minutes:
            long_voice = tmp / "voice_long.flac"
            times = max(1, int(round(args.long_minutes / args.minutes)))
            long_s = repeat_file(voice, long_voice, times)
            (tmp / "voice10.flac").unlink()
            wall, rss, out, cpu = run_child([sys.executable, "-c", CHILD, str(long_voice),
                                             str(tmp / "mm_long.wav"), str(track)])
            info = json.loads(out.strip().splitlines()[-1])
            results["long"] = {"voice_s": long_s, "wall_s": wall, "mix_s": info["mix_s"],
                               "maxrss_mb": info["vmhwm_mb"],
                               "cpu_s": cpu + info["ffmpeg_cpu_s"],
                               "ffmpeg_maxrss_mb": info["ffmpeg_maxrss_mb"], "timings_s": info["timings_s"]}
            results["long_cli_music"] = cli_runs(long_voice, tmp, ["--music", str(track)], 1)
            results["long_cli_music"]["voice_s"] = long_s
            if args.long_emotion:
                results["long_cli_default"] = cli_runs(long_voice, tmp, [], 1)
                results["long_cli_default"]["voice_s"] = long_s

        if args.separate_minutes:
            sep_voice = tmp / "voice_sep.flac"
            times = max(1, int(round(args.separate_minutes / args.minutes)))
            sep_s = repeat_file(voice, sep_voice, times)
            wall, rss, out, cpu = run_child([sys.executable, "-c", CHILD, str(sep_voice), str(tmp / "mm_sep.wav"),
                                             str(track), "separate"])
            info = json.loads(out.strip().splitlines()[-1])
            results["separate"] = {"voice_s": sep_s, "mix_s": info["mix_s"], "maxrss_mb": info["vmhwm_mb"],
                                   "cpu_s": cpu + info["ffmpeg_cpu_s"], "timings_s": info["timings_s"]}
            sep_voice.unlink()

    med = statistics.median
    mm, ff = results["moodmix"], results["ffmpeg_one_liner"]
    if not mm["mix_s"]:  # --library-only
        mm = {"mix_s": [float("nan")], "cpu_s": [float("nan")], "maxrss_mb": [float("nan")],
              "wall_s": [float("nan")], "lufs": float("nan"), "timings_s": []}
    print(f"voice: {dur / 60:.1f} min of emodb speech with pauses, 48 kHz mono FLAC; track: {Path(track).name}; "
          f"{os.cpu_count()} CPUs; median of {args.repeats}")
    print()
    print("| | wall s | realtime x (wall) | CPU s (all processes) | realtime x per CPU-second | peak RSS MB "
          "| output LUFS |")
    print("|---|---|---|---|---|---|---|")
    print(f"| moodmix mix --no-emotion (mix_file call) | {med(mm['mix_s']):.2f} | {dur / med(mm['mix_s']):.0f} | "
          f"{med(mm['cpu_s']):.2f} (whole process) | {dur / med(mm['cpu_s']):.0f} | "
          f"{med(mm['maxrss_mb']):.0f} | {mm['lufs']:.1f} |")
    print(f"| moodmix, whole process (start + imports) | {med(mm['wall_s']):.2f} | {dur / med(mm['wall_s']):.0f} "
          "| | | | |")
    print(f"| ffmpeg one-liner (sidechaincompress + amix + loudnorm) | {med(ff['wall_s']):.2f} | "
          f"{dur / med(ff['wall_s']):.0f} | {med(ff['cpu_s']):.2f} | {dur / med(ff['cpu_s']):.0f} | "
          f"{med(ff['maxrss_mb']):.0f} | {ff['lufs']:.1f} |")
    if "long" in results:
        lg = results["long"]
        print(f"| moodmix, {lg['voice_s'] / 60:.0f}-min input (one run) | {lg['mix_s']:.2f} | "
              f"{lg['voice_s'] / lg['mix_s']:.0f} | {lg['cpu_s']:.2f} | {lg['voice_s'] / lg['cpu_s']:.0f} | "
              f"{lg['maxrss_mb']:.0f} | |")
    if "separate" in results:
        sp = results["separate"]
        print(f"| moodmix --separate, {sp['voice_s'] / 60:.0f}-min input (one run) | {sp['mix_s']:.2f} | "
              f"{sp['voice_s'] / sp['mix_s']:.0f} | {sp['cpu_s']:.2f} | {sp['voice_s'] / sp['cpu_s']:.0f} | "
              f"{sp['maxrss_mb']:.0f} | |")
    ff_wall = med(ff["wall_s"])
    for key, label in (("cli_music", "`moodmix mix VOICE --music TRACK` (whole process)"),
                       ("cli_default", "`moodmix mix VOICE` default path: emotion + library (whole process)"),
                       ("long_cli_music", "`mix --music`, long input (whole process, one run)"),
                       ("long_cli_default", "`mix` default path, long input (whole process, one run)")):
        if key in results:
            r = results[key]
            secs = r.get("voice_s", dur)
            print(f"| {label} | {med(r['wall_s']):.2f} | {secs / med(r['wall_s']):.0f} | {med(r['cpu_s']):.2f} | "
                  f"{secs / med(r['cpu_s']):.0f} | {med(r['maxrss_mb']):.0f} | {r['lufs']} |")
    for key in ("cli_music", "cli_default"):
        if key in results:
            print(f"{key}: {med(results[key]['wall_s']) / ff_wall:.2f}x the one-liner's wall time; stages "
                  f"{results[key]['timings_s'][len(results[key]['timings_s']) // 2]}")
    load = os.getloadavg()
    print(f"\nload average during the run (1/5/15 min): {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    print()
    if mm["timings_s"]:
        stages = {k: round(med([t[k] for t in mm["timings_s"]]), 2) for k in mm["timings_s"][0]}
        print(f"moodmix stage timings (median, s): {stages}")
        print(f"moodmix / one-liner: wall {med(mm['mix_s']) / med(ff['wall_s']):.2f}x, "
              f"CPU {med(mm['cpu_s']) / med(ff['cpu_s']):.2f}x")
    results["repo"] = str(_CLI_REPO)
    results["load_average"] = load
    outdir = REPO / "benchmarks" / "out"
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "bench_mix.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
