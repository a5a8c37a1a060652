"""Time `moodmix library add-pack` end to end (apt-get download, extract, hash check, analysis), its repeat, and
the share-alike extra; report sizes and each pack track's measured vocal presence.

    .venv/bin/python benchmarks/bench_packs.py [--pack free] [--share-alike] [--repeats 3] [--home DIR]

Needs apt-get and the network to the Debian mirror (or --from files passed through --from). Runs in a fresh
MOODMIX_HOME (a temporary folder unless --home). Prints one JSON object; the figures quoted in docs/benchmarks.md and the
issue notes come from it. The first add is timed once (it downloads hundreds of MB); the repeat is the median of
--repeats runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], home: Path) -> tuple[float, dict]:
    env = {**os.environ, "MOODMIX_HOME": str(home)}
    env.pop("MOODMIX_DATABASE_URL", None)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "moodmix", "library", *args], env=env, capture_output=True,
                          text=True, cwd=ROOT)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"moodmix library {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    out = proc.stdout.strip().splitlines()
    return dt, (json.loads(out[-1]) if out and out[-1].startswith("{") else {})


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pack", default="free")
    ap.add_argument("--share-alike", action="store_true", help="Then add the share-alike tracks (timed too).")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--from", dest="from_", action="append", default=[], help="Passed to add-pack --from.")
    a = ap.parse_args()
    home = a.home or Path(tempfile.mkdtemp(prefix="moodmix-packs-"))
    extra = [x for f in a.from_ for x in ("--from", f)]
    res: dict = {"pack": a.pack, "home": str(home), "cpus": os.cpu_count()}

    t, s = _run(["add-pack", a.pack, "--json", *extra], home)
    res["first_add_s"] = round(t, 1)
    res["first_add"] = {"catalog_s": s.get("catalog", {}).get("seconds"), "fetched": s.get("fetched"),
                        "added": len(s.get("catalog", {}).get("added", [])), "problems": s.get("problems")}
    res["fetch_extract_s"] = round(t - (s.get("catalog", {}).get("seconds") or 0.0), 1)
    res["installed_mb"] = round(_du(home / "packs") / 1e6, 1)
    reps = [_run(["add-pack", a.pack, "--json", *extra], home)[0] for _ in range(a.repeats)]
    res["repeat_s_median"] = round(statistics.median(reps), 2)
    if a.share_alike:
        t, s = _run(["add-pack", a.pack, "--share-alike", "--json", *extra], home)
        res["share_alike_add_s"] = round(t, 1)
        res["share_alike_added"] = len(s.get("catalog", {}).get("added", []))
        res["installed_mb_with_share_alike"] = round(_du(home / "packs") / 1e6, 1)

    env = {**os.environ, "MOODMIX_HOME": str(home)}
    listing = subprocess.run([sys.executable, "-m", "moodmix", "library", "list", "--json"], env=env,
                             capture_output=True, text=True, cwd=ROOT, check=True).stdout
    tracks = [json.loads(ln) for ln in listing.splitlines() if ln.startswith("{")]
    pack_tracks = [t for t in tracks if any(tag.startswith("pack:") for tag in t["tags"])]
    res["pack_tracks"] = len(pack_tracks)
    res["pack_minutes"] = round(sum(t["duration_s"] for t in pack_tracks) / 60, 1)
    res["energy_range"] = [min(t["features"]["energy"] for t in pack_tracks),
                           max(t["features"]["energy"] for t in pack_tracks)] if pack_tracks else None
    res["vocal"] = sorted(([t["features"]["vocal"], t["title"], t["licence"]] for t in pack_tracks),
                          reverse=True)[:10]
    print(json.dumps(res, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
