"""Fit the tables that put moodmix's feature heuristics on Spotify's scales; writes library/data/feature_calibration.json.

Reference corpus: ../shared/data/spotify/spotify_songs.csv (32,833 rows; TidyTuesday 2020-01-21, values from the
Spotify Web API). Three tables come out, all used by :mod:`library.features`:

- ``quantiles``: 101 percentiles (0 %, 1 %, … 100 %) of each Spotify-scale feature. A heuristic raw score in
  [0, 1] is read through this quantile function, so a raw 0.5 lands on the corpus median and the values spread
  like the corpus'.
- ``energy_by_loudness``: the corpus' mean energy as a non-decreasing function of loudness (isotonic regression on
  1 dB bins), with one anchor added: at -60 dB (silence) energy is 0. Spotify's ``loudness`` is an average level in
  dB; we read it as integrated LUFS (both near -7 for modern masters).
- ``valence_model``: least-squares linear model of valence on danceability, energy, mode, acousticness, tempo and
  loudness, with the mean/std of its predictions and of valence, so predictions can be stretched to the corpus
  spread (the model explains little variance, R² is stored too).

Run: ``.venv/bin/python library/training/fit_feature_calibration.py [--csv PATH]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CSV = REPO.parent / "shared" / "data" / "spotify" / "spotify_songs.csv"
OUT = REPO / "library" / "data" / "feature_calibration.json"
SIX = ("danceability", "energy", "mode", "acousticness", "valence", "tempo")


def fit(csv: Path) -> dict:
    import pandas as pd
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LinearRegression

    d = pd.read_csv(csv)
    quantiles = {k: [round(float(v), 5) for v in np.quantile(d[k], np.linspace(0, 1, 101))]
                 for k in (*SIX, "loudness")}
    bins = np.arange(-46.0, 2.0, 1.0)
    centres, means = [], []
    for lo in bins:
        sel = d[(d.loudness >= lo) & (d.loudness < lo + 1)]
        if len(sel) >= 20:
            centres.append(lo + 0.5)
            means.append(float(sel.energy.mean()))
    iso = IsotonicRegression(increasing=True).fit(centres, means)
    energy = iso.predict(centres)
    loud_grid = [-60.0, *centres]
    energy_grid = [0.0, *[round(float(e), 4) for e in energy]]
    X = ["danceability", "energy", "mode", "acousticness", "tempo", "loudness"]
    lr = LinearRegression().fit(d[X], d.valence)
    pred = lr.predict(d[X])
    return {
        "source": f"spotify_songs.csv (TidyTuesday 2020-01-21), {len(d)} rows",
        "quantiles": quantiles,
        "energy_by_loudness": {"loudness": loud_grid, "energy": energy_grid},
        "valence_model": {
            "coef": {k: round(float(c), 6) for k, c in zip(X, lr.coef_)},
            "intercept": round(float(lr.intercept_), 6),
            "r2": round(float(lr.score(d[X], d.valence)), 4),
            "pred_mean": round(float(pred.mean()), 6), "pred_std": round(float(pred.std()), 6),
            "mean": round(float(d.valence.mean()), 6), "std": round(float(d.valence.std()), 6),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    cal = fit(args.csv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(cal, indent=1) + "\n")
    print(f"wrote {args.out}; valence model R² = {cal['valence_model']['r2']}")


if __name__ == "__main__":
    main()
