"""ASR speed and word error on 2 CPU cores: seconds of compute per minute of audio, for the shipped models.

The audio is 40 s of English read by espeak-ng (installed at /usr/bin/espeak-ng), so the reference
transcript is known; word error rate is the word-level Levenshtein distance over the reference length after
lower-casing and dropping punctuation. Each model is loaded once (load time reported apart) and then transcribes the
same audio ``--repeats`` times; the median is reported.

Languages (``--language-minutes``, 0 to skip): the English path against the translated path on the same length of
speech. English: the text above read by espeak-ng, repeated; translated: German EmoDB clips (MOODMIX_SHARED_DATA)
laid end to end with 0.4-0.8 s pauses. For each, the median of ``--repeats`` runs of
- the language detection alone (Whisper base, first 30 s of compacted speech),
- the words step (``models.words.hear_words``: detection + tiny.en, or detection + base transcribe + translate),
- the whole emotion pass (``models.emotion_pass.analyse_speech``: VAD + words + voice model + text model + fusion),
as wall seconds and realtime factor, plus CPU seconds: ``audio_s / (cpu_s / threads)`` is the realtime factor the
pass would reach with its cores to itself (the shared build machine rarely gives them).

    .venv/bin/python benchmarks/bench_asr.py                   # default (tiny.en) and base, then languages
    .venv/bin/python benchmarks/bench_asr.py --models default --threads 2 --language-minutes 2

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


SR = 16000
EMODB = Path(os.environ.get("MOODMIX_SHARED_DATA", REPO.parent / "shared" / "data")) / "emodb"


def _with_pauses(clips: list[np.ndarray], seconds: float, seed: int = 0) -> np.ndarray:
    """Clips in turn with 0.4-0.8 s pauses, cut to ``seconds``: (1, samples) float32 at 16 kHz."""
    rng = np.random.default_rng(seed)
    parts, total, i = [], 0, 0
    while total < seconds * SR:
        gap = np.zeros(int(rng.uniform(0.4, 0.8) * SR), np.float32)
        parts += [clips[i % len(clips)], gap]
        total += clips[i % len(clips)].size + gap.size
        i += 1
    return np.concatenate(parts)[: int(seconds * SR)][None, :]


def german_speech(seconds: float) -> np.ndarray:
    import csv

    import soundfile as sf
    import soxr

    with open(EMODB / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    clips = []
    for r in rows[::4]:
        y, sr = sf.read(EMODB / r["path"], dtype="float32")
        clips.append(soxr.resample(y, sr, SR).astype(np.float32))
    return _with_pauses(clips, seconds)


def english_speech(seconds: float) -> np.ndarray:
    import soxr

    audio, sr = speech()  # TEXT read once (about 40 s), repeated with pauses
    return _with_pauses([soxr.resample(audio[0], sr, SR).astype(np.float32)], seconds)


def _timed(fn, repeats: int) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    """Median wall seconds, median CPU seconds (this process, all threads) and the last result."""
    import resource

    walls, cpus, out = [], [], None
    for _ in range(repeats):
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpus.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    return statistics.median(walls), statistics.median(cpus), out


def languages(minutes: float, threads: int, repeats: int) -> dict[str, object]:
    """English path vs translated path on ``minutes`` of speech each: detection, words step, whole emotion pass."""
    from mixer.vad import detect_speech
    from models.emotion_pass import EmotionSettings, analyse_speech, load_models
    from models.fusion import timeline_pieces
    from models.words import _DETECT_S, compact_speech, hear_words

    settings = EmotionSettings()
    t0 = time.perf_counter()
    models = load_models(settings)
    load_s = time.perf_counter() - t0
    tiny, base = models["asr"], models["language"]
    out: dict[str, object] = {"minutes": minutes, "load_models_s": round(load_s, 2),
                              "loadavg_1min_at_start": round(os.getloadavg()[0], 2)}
    for name, audio in (("english", english_speech(minutes * 60)), ("german_translated", german_speech(minutes * 60))):
        x = audio[0]
        audio_s = x.size / SR
        segments = detect_speech(audio, SR).segments
        pieces = timeline_pieces(segments, audio_s, max_piece_s=settings.max_piece_s)
        head, acc = [], 0.0
        for a, b in pieces:
            head.append((a, b))
            acc += b - a + 0.3
            if acc >= _DETECT_S:
                break
        first30 = compact_speech(x, head)[0]
        det_s, _, guess = _timed(lambda a=first30: base.detect_language(a, SR), repeats)
        words_s, words_cpu, heard = _timed(
            lambda a=x, p=pieces: hear_words(a, p, asr=tiny, language_model=base), repeats)

        def whole(audio: np.ndarray = audio) -> object:
            segs = detect_speech(audio, SR).segments
            return analyse_speech(audio, SR, segs, settings=settings)

        pass_s, pass_cpu, result = _timed(whole, repeats)
        speech_s = sum(b - a for a, b in pieces)
        row = {
            "audio_s": round(audio_s, 1), "speech_s": round(speech_s, 1), "pieces": len(pieces),
            "language": getattr(guess, "language", ""), "language_probability": round(getattr(guess, "probability", 0.0), 3),
            "detect_s": round(det_s, 3),
            "words_s": round(words_s, 2), "words_realtime_factor": round(audio_s / words_s, 1),
            "words_cpu_bound_realtime_factor": round(audio_s / (words_cpu / threads), 1),
            "pass_s": round(pass_s, 2), "pass_realtime_factor": round(audio_s / pass_s, 1),
            "pass_cpu_s": round(pass_cpu, 2),
            "pass_cpu_bound_realtime_factor": round(audio_s / (pass_cpu / threads), 1),
            "words_note": getattr(heard, "note", ""),
            "transcript_start": getattr(heard, "transcript", "")[:160],
            "translation_start": getattr(heard, "translation", "")[:160],
            "timeline_entries": len(getattr(result, "timeline", ())),
        }
        out[name] = row
        print(f"{name}: {audio_s:.0f} s of audio ({speech_s:.0f} s speech), language {row['language']} "
              f"({row['language_probability']}); detection {det_s:.2f} s; words {words_s:.2f} s "
              f"({row['words_realtime_factor']}x); whole emotion pass {pass_s:.2f} s ({row['pass_realtime_factor']}x "
              f"realtime, {row['pass_cpu_bound_realtime_factor']}x with {threads} cores to itself)", flush=True)
    out["loadavg_1min_at_end"] = round(os.getloadavg()[0], 2)
    out["goal"] = ">= 15x realtime for the whole emotion pass on translated speech, 2 cores"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="default,base")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--language-minutes", type=float, default=2.0,
                    help="minutes of English and of German speech for the language comparison (0: skip)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "bench_asr.json")
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    os.cpu_count = lambda: args.threads  # type: ignore[assignment]  # thread pools sized from it (ASR, VAD)

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
    if args.language_minutes > 0:
        import torch

        torch.set_num_threads(args.threads)
        results["languages"] = languages(args.language_minutes, args.threads, args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
