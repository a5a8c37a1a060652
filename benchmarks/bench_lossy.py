"""Do lossy outputs land on the loudness target as a player decodes them? (issue 12 §3: MP3 was 0.3 LU under)

A 60 s EmoDB voice (the bench_mix voice builder) is mixed with a built-in track (``--music``, no emotion pass) into
every lossy format; each file is decoded with ffmpeg and measured with pyloudnorm (BS.1770-4) and a 4x true-peak
meter. Goal: within ±0.2 LU of the target, ≤ −1 dBTP.

Run (from any checkout: the script imports moodmix from the folder above it)::

    .venv/bin/python benchmarks/bench_lossy.py [--target-lufs -16]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target-lufs", type=float, default=-16.0)
    ap.add_argument("--formats", nargs="+", default=["mp3", "m4a", "aac", "ogg", "opus"])
    args = ap.parse_args()

    import immich_memories_music
    import pyloudnorm as pyln

    from bench_mix import make_voice
    from mixer.decode import decode_audio
    from mixer.loudness import true_peak_dbtp
    from moodmix.pipeline import mix_file
    from moodmix.settings import JobSettings

    track = immich_memories_music.tracks_dir() / "calm" / "calm_acoustic_1.opus"
    print(f"checkout: {REPO}; target {args.target_lufs} LUFS")
    print("| format | decoded LUFS | error LU | decoded true peak dBTP |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="moodmix-lossy-") as d:
        voice = Path(d) / "voice.flac"
        make_voice(voice, 1.0)
        for ext in args.formats:
            out = Path(d) / f"out.{ext}"
            mix_file(voice, out, settings=JobSettings(music=track, analyse_emotion=False,
                                                      target_lufs=args.target_lufs))
            y, sr = decode_audio(out, sr=48000, channels=2)[0], 48000
            lufs = pyln.Meter(sr).integrated_loudness(y.T.astype("float64"))
            print(f"| {ext} | {lufs:.2f} | {lufs - args.target_lufs:+.2f} | {true_peak_dbtp(y, sr):.2f} |", flush=True)


if __name__ == "__main__":
    main()
