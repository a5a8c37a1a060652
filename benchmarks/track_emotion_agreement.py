"""Which track emotion agrees with the built-in library's mood folders: music features or the voice model?

Run: ``nice .venv/bin/python benchmarks/track_emotion_agreement.py`` (the catalog's built-in tracks), or with
``--features-json <(git show REV:library/data/builtin_features.json)`` to score an older analysis (before/after).

For each of the 28 built-in tracks (catalog: measured features; audio decoded at 16 kHz mono for the voice model):

- ``features``: :func:`models.track_emotion.emotion_from_features` (valence/energy/tempo/mode on the circumplex);
- ``voice``: the shipped voice-sound model run over the whole track (the seed's approach with songs);
- ``features_energy_only``: the same as ``features`` with arousal = energy alone and valence = Spotify valence
  alone (no tempo, no mode), to show what tempo and mode add.

Scores against the folder each track sits in (calm, tender, nostalgic, happy, energetic), whose circumplex
positions are :data:`models.track_emotion.MOOD_VA`:
- nearest-folder accuracy: the folder whose position is nearest the track's (valence, arousal);
- Spearman ρ of the track's arousal with its folder's arousal, and of valence with its folder's valence.
Voice-model outputs are cached under ``.moodmix/cache/``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CACHE = REPO / ".moodmix" / "cache"
MOODS = ("calm", "tender", "nostalgic", "happy", "energetic")


def _folder(track) -> str:  # type: ignore[no-untyped-def]
    return next((t for t in track.tags if t in MOODS), Path(track.path).parent.name)


def voice_model_va(tracks: list) -> dict[str, tuple[float, float]]:
    from mixer.decode import decode_audio
    from models.track_emotion import track_emotion
    from models.voice_emotion import DEFAULT_WEIGHTS

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / "track_emotion_voice.json"
    key = str(DEFAULT_WEIGHTS.stat().st_mtime_ns)
    cached = json.loads(path.read_text()) if path.is_file() else {}
    if cached.get("key") != key:
        cached = {"key": key, "va": {}}
    for t in tracks:
        if t.path in cached["va"]:
            continue
        audio, _ = decode_audio(t.path, sr=16000, channels=1)
        e = track_emotion(audio=audio, sr=16000, method="voice")
        cached["va"][t.path] = (e.valence, e.arousal)
    path.write_text(json.dumps(cached))
    return {p: tuple(v) for p, v in cached["va"].items()}


def score(va: list[tuple[float, float]], folders: list[str]) -> dict[str, float]:
    from scipy.stats import spearmanr

    from models.track_emotion import MOOD_VA

    nearest = [min(MOODS, key=lambda m: (MOOD_VA[m][0] - v) ** 2 + (MOOD_VA[m][1] - a) ** 2) for v, a in va]
    acc = float(np.mean([n == f for n, f in zip(nearest, folders)]))
    v = np.array([x[0] for x in va])
    a = np.array([x[1] for x in va])
    fv = np.array([MOOD_VA[f][0] for f in folders])
    fa = np.array([MOOD_VA[f][1] for f in folders])
    return {"nearest_folder_accuracy": round(acc, 3),
            "rho_arousal": round(float(spearmanr(a, fa).statistic), 3),
            "rho_valence": round(float(spearmanr(v, fv).statistic), 3)}


def goals(tracks: list, folders: list[str]) -> dict[str, object]:
    """Issue 11's goals on the built-in clips: energy span ≥ 0.40, every energetic clip above every calm one."""
    e = {f: [float(t.features["energy"]) for t, g in zip(tracks, folders) if g == f] for f in MOODS}
    span = max(max(v) for v in e.values() if v) - min(min(v) for v in e.values() if v)
    return {"energy_span": round(span, 3), "energy_span_ge_0.40": span >= 0.40,
            "min_energetic_energy": round(min(e["energetic"]), 3), "max_calm_energy": round(max(e["calm"]), 3),
            "every_energetic_above_every_calm": min(e["energetic"]) > max(e["calm"])}


class _Shipped:
    """A track from a shipped analysis JSON (``library/data/builtin_features.json`` of any commit)."""

    def __init__(self, key: str, entry: dict) -> None:
        a = entry["analysis"]
        self.path = key
        self.tags = (entry["mood"],)
        self.features = {"danceability": a["danceability"], "energy": a["energy"], "mode": float(a["mode"]),
                         "acousticness": a["acousticness"], "valence": a["valence"], "tempo": a["tempo_bpm"]}


def main(argv: list[str] | None = None) -> int:
    import argparse

    from models.track_emotion import va_from_features

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features-json", type=Path, default=None,
                    help="score a shipped analysis file instead of the catalog (e.g. an older commit's "
                         "library/data/builtin_features.json, for a before/after); skips the voice model")
    args = ap.parse_args(argv)
    if args.features_json is not None:
        doc = json.loads(args.features_json.read_text())
        tracks = [_Shipped(k, v) for k, v in sorted(doc["tracks"].items())]
    else:
        from library.catalog import default_catalog

        tracks = [t for t in default_catalog().tracks(include_derived=False) if t.features and "builtin" in t.tags]
    folders = [_folder(t) for t in tracks]
    results: dict[str, object] = {}
    results["features"] = score([va_from_features(t.features) for t in tracks], folders)
    plain = [(2 * float(t.features["valence"]) - 1, 2 * float(t.features["energy"]) - 1) for t in tracks]
    results["features_energy_only"] = score(plain, folders)
    if args.features_json is None:
        from library.select import library_spread

        spread = library_spread(tracks)  # what selection sees: each track's place on the library's own plane
        index = {tid: i for i, tid in enumerate(spread.ids)}
        results["library_plane"] = score([(float(spread.valence[index[t.id]]), float(spread.arousal[index[t.id]]))
                                          for t in tracks], folders)
        vm = voice_model_va(tracks)
        results["voice"] = score([vm[t.path] for t in tracks], folders)
    results["goals"] = goals(tracks, folders)
    print(f"{len(tracks)} built-in tracks")
    for k, r in results.items():
        print(f"{k:<22} {r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
