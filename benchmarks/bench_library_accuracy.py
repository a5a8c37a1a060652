"""Accuracy of the music analysis on the built-in library, and its Spotify-scale distributions.

Ground truth: the licence file of the ``immich-memories-music`` package lists, for each of its 28 clips, the tempo
and key that were *prompted* to the generator (ACE-Step). The generator does not always obey, so this is a noisy
reference; nothing of it is used by the analysis (it is read here only).

Measured:
- tempo within 4 % of the prompted BPM, also at double or half (octave errors allowed), and strictly;
- mode right (major/minor), and key right (tonic and mode), for the default key profile and every other profile
  (same chroma, different profile);
- the Spotify-scale features of the 28 clips next to the reference corpus (spotify_songs.csv): a table of
  quantiles and a plot of the distributions; plus the mean acousticness of the clips whose name says "acoustic"
  vs "electronic" (a sanity check of the acousticness heuristic: not a target).

Run: ``.venv/bin/python benchmarks/bench_library_accuracy.py [--shipped]``
(``--shipped`` reads library/data/builtin_features.json instead of re-analysing: seconds instead of a minute.)
Writes ``benchmarks/out/library_accuracy.json`` and ``benchmarks/out/library_distributions.png``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from library.builtin import builtin_dir, builtin_files, load_builtin_features
from library.features import DEFAULT_KEY_PROFILE, KEY_PROFILES, MusicFeatures, analyse_file, estimate_key
from library.scan import content_hash

OUT = REPO / "benchmarks" / "out"
CSV = REPO.parent / "shared" / "data" / "spotify" / "spotify_songs.csv"
ENHARMONIC = {"Db": "C#", "D#": "Eb", "Gb": "F#", "G#": "Ab", "A#": "Bb", "Cb": "B", "Fb": "E", "E#": "F", "B#": "C"}
SCALE_FEATURES = ("energy", "danceability", "acousticness", "valence", "tempo")


def licence_truth() -> dict[str, tuple[float, str, str]]:
    """clip file name → (prompted BPM, tonic, "major"/"minor") from the package's LICENSE-MUSIC."""
    import importlib.metadata as md

    dist = md.distribution("immich-memories-music")
    lic = next(f for f in dist.files or [] if f.name == "LICENSE-MUSIC")
    text = Path(dist.locate_file(lic)).read_text()
    out = {}
    for m in re.finditer(r"^\s+(\S+\.opus)\s+(\d+) bpm\s+(\S+) (major|minor)", text, flags=re.MULTILINE):
        out[m.group(1)] = (float(m.group(2)), ENHARMONIC.get(m.group(3), m.group(3)), m.group(4))
    return out


def clip_chroma(path: Path) -> np.ndarray:
    """The summed CQT chroma the key estimate uses (every block: the clips are 30 s)."""
    import soxr

    from library.features import ANALYSIS_SR, _cqt_chroma, _iter_blocks

    total = np.zeros(12)
    for audio, sr in _iter_blocks(path):
        mono = audio.mean(axis=0).astype(np.float32)
        if sr != ANALYSIS_SR:
            mono = np.asarray(soxr.resample(mono, sr, ANALYSIS_SR), dtype=np.float32)
        total += _cqt_chroma(mono)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shipped", action="store_true", help="use the shipped analysis instead of re-analysing")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    truth = licence_truth()
    shipped = load_builtin_features() if args.shipped else {}
    rows = []
    for f in builtin_files():
        if f.name not in truth:
            continue
        feats = MusicFeatures.from_dict(shipped[content_hash(f)]) if args.shipped else analyse_file(f)
        bpm, tonic, mode = truth[f.name]
        tempo_ok = any(abs(feats.tempo_bpm * k - bpm) / bpm <= 0.04 for k in (1.0, 2.0, 0.5))
        strict_ok = abs(feats.tempo_bpm - bpm) / bpm <= 0.04
        mode_ok = (feats.mode == 1) == (mode == "major")
        chroma = clip_chroma(f)
        per_profile = {}
        for prof in KEY_PROFILES:
            k, m, _ = estimate_key(chroma, profile=prof)  # type: ignore[arg-type]
            per_profile[prof] = {"mode": (m == 1) == (mode == "major"), "key": k == tonic and (m == 1) == (mode == "major")}
        rows.append({
            "clip": str(f.relative_to(builtin_dir())), "prompted_bpm": bpm, "prompted_key": f"{tonic} {mode}",
            "tempo_bpm": feats.tempo_bpm, "tempo_ok": tempo_ok, "tempo_strict_ok": strict_ok,
            "key": f"{feats.key} {'major' if feats.mode else 'minor'}", "mode_ok": mode_ok,
            "key_ok": mode_ok and feats.key == tonic, "profiles": per_profile,
            **{k: getattr(feats, k) for k in ("energy", "danceability", "acousticness", "valence", "vocal",
                                               "loudness_lufs")},
        })
    n = len(rows)
    summary = {
        "clips": n,
        "tempo_within_4pct_octave_ok": sum(r["tempo_ok"] for r in rows),
        "tempo_within_4pct_strict": sum(r["tempo_strict_ok"] for r in rows),
        "mode_right": sum(r["mode_ok"] for r in rows),
        "key_right": sum(r["key_ok"] for r in rows),
        "default_key_profile": DEFAULT_KEY_PROFILE,
        "profiles": {p: {"mode_right": sum(r["profiles"][p]["mode"] for r in rows),
                         "key_right": sum(r["profiles"][p]["key"] for r in rows)} for p in KEY_PROFILES},
    }
    print(f"{'clip':42s} {'bpm':>5} {'ours':>7}  {'prompted key':12s} {'ours':12s}")
    for r in rows:
        print(f"{r['clip']:42s} {r['prompted_bpm']:5.0f} {r['tempo_bpm']:7.1f}{'' if r['tempo_ok'] else ' ✗'}"
              f"  {r['prompted_key']:12s} {r['key']:12s}{'' if r['mode_ok'] else ' ✗mode'}")
    print(f"\ntempo within 4 % (double/half allowed): {summary['tempo_within_4pct_octave_ok']}/{n}"
          f" (strict: {summary['tempo_within_4pct_strict']}/{n});  mode right: {summary['mode_right']}/{n};"
          f"  key right: {summary['key_right']}/{n}  [profile {DEFAULT_KEY_PROFILE}]")
    print("key profiles (same chroma): " + ", ".join(
        f"{p}: mode {v['mode_right']}, key {v['key_right']}" for p, v in summary["profiles"].items()))

    # distributions next to the reference corpus
    quant = (0.05, 0.25, 0.5, 0.75, 0.95)
    table = {}
    ref = None
    if CSV.exists():
        import pandas as pd

        ref = pd.read_csv(CSV).drop_duplicates("track_id")
    print(f"\n{'feature':14s} {'set':10s} " + " ".join(f"{int(q * 100):>5}%" for q in quant))
    for feat in SCALE_FEATURES:
        key = "tempo_bpm" if feat == "tempo" else feat
        lib = np.array([r[key] for r in rows], dtype=float)
        table[feat] = {"library": [round(float(v), 3) for v in np.quantile(lib, quant)]}
        if ref is not None:
            table[feat]["reference"] = [round(float(v), 3) for v in np.quantile(ref[feat], quant)]
        for name, vals in table[feat].items():
            print(f"{feat:14s} {name:10s} " + " ".join(f"{v:6.2f}" for v in vals))
    ac = {kind: round(float(np.mean([r["acousticness"] for r in rows if f"_{kind}" in r["clip"]])), 3)
          for kind in ("acoustic", "electronic")}
    print(f"\nmean acousticness: clips named acoustic {ac['acoustic']}, electronic {ac['electronic']}")
    summary["acousticness_by_name"] = ac
    summary["quantiles"] = {"q": list(quant), **table}

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SCALE_FEATURES), figsize=(4 * len(SCALE_FEATURES), 3.4), dpi=100)
    for ax, feat in zip(axes, SCALE_FEATURES):
        key = "tempo_bpm" if feat == "tempo" else feat
        lib = np.array([r[key] for r in rows], dtype=float)
        bins = np.linspace(40, 220, 37) if feat == "tempo" else np.linspace(0, 1, 21)
        if ref is not None:
            ax.hist(ref[feat], bins=bins, density=True, color="#bbbbbb", label="Spotify corpus (32,833)")
        ax.hist(lib, bins=bins, density=True, histtype="step", linewidth=2, color="C3", label=f"built-in ({n})")
        ax.set_title(feat)
        ax.set_yticks([])
    axes[0].legend(fontsize=7)
    fig.suptitle("moodmix estimates on the built-in library vs the Spotify reference corpus")
    fig.tight_layout()
    png = args.out / "library_distributions.png"
    fig.savefig(png)
    (args.out / "library_accuracy.json").write_text(json.dumps({"summary": summary, "clips": rows}, indent=1))
    print(f"\nwrote {args.out / 'library_accuracy.json'} and {png}")


if __name__ == "__main__":
    main()
