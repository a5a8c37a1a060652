"""Write library/data/packs.json from the Debian packages themselves (for maintainers).

    apt-get download naev-data ufoai-music blobwars-data      # into a scratch folder, no root needed
    .venv/bin/python scripts/make_packs_json.py naev-data_*.deb ufoai-music_*.deb blobwars-data_*.deb \
        [--also-verified blobwars-data=2.00-6]

The licence of every track below was read by hand from the package (``usr/share/doc/PKG/copyright``, the per-track
``.tags`` files of blobwars, naev's ``dat/snd/SOUND_LICENSE.yaml`` and the files' Vorbis comments); the ``evidence``
of each group says which. This script only measures what it can (SHA-256, size, duration, embedded titles) from the
.deb files given, so packs.json describes exactly the files that were read. Tracks whose sources disagree, GPL-only
music and test snippets are listed under ``excluded`` with the reason.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from library.packs import PACKS_JSON, _deb_version, deb_members  # noqa: E402

NAEV_ROOT = "usr/share/naev/dat/snd/music/"
UFO_PK3 = "usr/share/games/ufoai/base/0music.pk3"
BLOB_ROOT = "usr/share/games/blobwars/music/"
NAEV_COPY = "usr/share/doc/naev-data/copyright"

PACKS: dict[str, dict[str, Any]] = {
    "naev": {
        "package": "naev-data", "homepage": "https://naev.org",
        "description": "Naev (space trading game) soundtrack: ambient and orchestral-electronic pieces",
        "origin": "Naev",
        "groups": [
            {"files": ["ambient1", "ambient2", "ambient2_5", "ambient3", "automat", "battlesomething1",
                       "battlesomething2", "collective1", "collective2", "empire1", "empire2", "flf_battle1",
                       "intrigue", "intro", "landing_sinister", "nebu_battle1", "nebu_battle2", "sirius1", "tension",
                       "upbeat", "zalek1", "zalek2"],
             "artist": "Nikola Whallon", "licence": "CC-BY-3.0",
             "evidence": "debian copyright: Nikola Whallon, 'GPL-3 or CC-BY-3.0' (used under CC-BY-3.0); "
                         "dat/snd/SOUND_LICENSE.yaml: 'GPLv3 / CC-by 3'"},
            {"files": ["ambiphonic", "void_sensor"], "artist": "Zeropage", "licence": "CC-BY-3.0",
             "source_tag": "WOAF",
             "evidence": "debian copyright: Zeropage, CC-BY-3.0; SOUND_LICENSE.yaml: 'CC-by 3'; Vorbis LICENSE "
                         "tag http://creativecommons.org/licenses/by/3.0/ (Jamendo album 2843)"},
            {"files": ["ambient4", "combat1", "combat2", "combat3", "dvaered1", "dvaered2", "eureka", "sirius2",
                       "terminal"],
             "artist": "Askyel", "licence": "CC-BY-SA-3.0", "share_alike": True,
             "evidence": "debian copyright: Askyel, CC-BY-SA-3.0; SOUND_LICENSE.yaml: 'CC-by-sa 3.0'"},
        ],
        "excluded": [
            {"files": "agriculture cosmostation galacticbattle launch2 launch3chatstart liftoff machina mission "
                      "ocean peace1 peace2 peace4 peace6 snow", "licence": "GPL-2+",
             "reason": "GPL-only music (Vega Strike soundtrack): a mix would have to carry the GPL"},
            {"files": "blackmoor_tides imminent_threat heartofmachine dark_city pirate1_theme1 pirates_orchestra "
                      "motherload", "licence": "disputed",
             "reason": "SOUND_LICENSE.yaml says CC-BY-3.0 / CC0 / CC-BY-SA-4.0 but debian copyright does not list "
                       "them, so its catch-all (GPL-3+) applies: sources disagree, left out until they agree"},
        ],
    },
    "ufoai": {
        "package": "ufoai-music", "homepage": "https://ufoai.org",
        "description": "UFO: Alien Invasion soundtrack: orchestral and electronic themes",
        "origin": "UFO: Alien Invasion",
        "groups": [
            {"files": ["David01", "David02", "David03", "David04", "David05"],
             "artist": "David Reeves (Destructavator)", "licence": "CC-BY-3.0",
             "evidence": "debian copyright: CC-BY-3.0 stanza naming David Reeves (Destructavator) among its five "
                         "authors; the files are named David*"},
            {"files": ["azrael1"], "artist": "azrael1322", "licence": "CC-BY-3.0",
             "evidence": "debian copyright: CC-BY-3.0 stanza naming azrael1322"},
            {"files": ["karlmacklin_geoscape"], "artist": "Karl Macklin", "licence": "CC-BY-3.0",
             "evidence": "debian copyright: CC-BY-3.0 stanza naming Karl Macklin; Vorbis ARTIST Karl Macklin"},
            {"files": ["van_geoscape", "van_mission", "van_mission2", "van_mission3", "van_mission4", "van_theme"],
             "artist": "Manuel \"Vanethian\" Marino", "licence": "CC-BY-3.0",
             "evidence": "debian copyright: CC-BY-3.0 stanza naming Manuel \"Vanethian\" Marino "
                         "(www.manuelmarino.com); Vorbis ARTIST on four of six"},
            {"files": ["alBasrahM", "greecei", "turinItalyM"], "artist": "Golgotha (Independent.nu)",
             "licence": "public-domain",
             "evidence": "debian copyright: Independent.nu, Golgotha, 'These files were granted to the public "
                         "domain'"},
            {"files": ["Crystan-Battlescape01", "Crystan-Battlescape02", "Crystan-Battlescape03",
                       "Crystan-Battlescape04", "Crystan-Battlescape05", "Crystan-Battlescape06", "Crystan-Credits",
                       "Crystan-Geosphere02", "Crystan-Geosphere03", "Crystan-Geosphere04", "Crystan-IntroSad",
                       "Crystan-LooseGame", "Crystan-Tutorial", "Crystan-WinGame"],
             "artist": "Christian \"Crystan\" Hoffmann", "licence": "CC-BY-SA-3.0", "share_alike": True,
             "evidence": "debian copyright: CC-BY-SA-3.0 stanza naming Christian Hoffmann; Vorbis ARTIST"},
            {"files": ["Marine01", "Marine02", "MarineAlienRaid", "MarineBacktheAttack", "MarineFireFight",
                       "MarineIndustrial", "MarineStrikingIntoTheUnknown", "MarineUrbanWarfare"],
             "artist": "\"Marine\" Baklund", "licence": "CC-BY-SA-3.0", "share_alike": True,
             "evidence": "debian copyright: CC-BY-SA-3.0 stanza naming \"Marine\" Baklund; files named Marine*"},
            {"files": ["TheThings-Slippycurb"], "artist": "Slippycurb", "licence": "CC-BY-SA-3.0",
             "share_alike": True, "evidence": "debian copyright: CC-BY-SA-3.0 stanza naming Slippycurb"},
        ],
        "excluded": [
            {"files": "AlexFightmare Psymong* dawn dbsea space ufo1 ufo2", "licence": "GPL-2",
             "reason": "GPL-only music"},
            {"files": "returnjourney", "licence": "CC-BY-SA-3.0",
             "reason": "its stanza names several authors and nothing in the package says which one made it"},
            {"files": "dynamictest-battle-41-74sec dynamictest-normal-08-35sec", "licence": "CC-BY-SA-3.0",
             "reason": "test snippets (11 s, 44 s), not tracks"},
        ],
    },
    "blobwars": {
        "package": "blobwars-data", "homepage": "http://blobwars.sourceforge.net/",
        "description": "Blob Wars: Metal Blob Solid soundtrack (from Simuze.nl): electronic pieces",
        "origin": "Blob Wars: Metal Blob Solid",
        "ext": ".ogg",
        "groups": [
            {"files": ["arctic", "credits"], "artist": "SinQ", "licence": "CC-BY-3.0",
             "evidence": "debian copyright: Sander van Oirschot (SinQ), CC-BY-3.0; .tags: license=CC-BY 3.0"},
            {"files": ["cave", "final", "hub", "space", "title", "tomb", "tunnel"], "artist": "DJ Sjors",
             "licence": "CC-BY-SA-3.0", "share_alike": True,
             "evidence": "debian copyright: Lennaert van Driel (DJ Sjors), CC-BY-SA-3.0; .tags: CC-BY-SA 3.0 "
                         "(the Vorbis comments say CC-BY 3.0; the stricter reading is kept)"},
            {"files": ["biomech", "cutscene", "end", "gameover", "grasslands", "ice"], "artist": "Ambick",
             "licence": "CC-BY-SA-3.0", "share_alike": True,
             "evidence": "debian copyright: Dick Huijer (Ambick), CC-BY-SA-3.0; .tags: CC-BY-SA 3.0"},
        ],
        "excluded": [],
    },
}

#: Titles for files whose tags carry none worth showing (the file name, spaced, otherwise).
TITLES = {"ambient2_5": "Ambient 2.5", "zalek1": "Za'lek 1", "zalek2": "Za'lek 2", "flf_battle1": "FLF Battle 1"}


def _tags(data: bytes) -> dict[str, str]:
    import av

    with av.open(io.BytesIO(data)) as c:
        tags = {k.lower(): v for k, v in c.metadata.items()}
        for s in c.streams.audio:
            tags.update({k.lower(): v for k, v in s.metadata.items()})
        dur = float(c.duration / 1e6) if c.duration else 0.0
    tags["__duration"] = str(dur)
    return tags


def _blob_tags(text: str) -> dict[str, str]:
    return dict(ln.split("=", 1) for ln in text.splitlines() if "=" in ln)


def _title(stem: str, tags: dict[str, str]) -> str:
    if stem in TITLES:
        return TITLES[stem]
    if tags.get("title") and not re.match(r"^\d+ - Track", tags["title"]):
        return tags["title"]
    s = stem.replace("_", " ").replace("-", " ")
    s = re.sub(r"(?<=[a-z])(?=[A-Z0-9])", " ", s)
    return s[:1].upper() + s[1:]


def build(debs: list[Path], also: dict[str, list[str]]) -> dict[str, Any]:
    by_pkg = {d.name.split("_")[0]: d for d in debs}
    out: dict[str, Any] = {}
    for name, spec in PACKS.items():
        pkg = spec["package"]
        deb = by_pkg[pkg]
        version = _deb_version(deb) or "?"
        source = f"{pkg} {version} (Debian; {spec['origin']}, {spec['homepage'].split(' ')[0]})"
        want: dict[str, dict[str, Any]] = {}
        for g in spec["groups"]:
            for stem in g["files"]:
                want[stem] = g
        files: dict[str, bytes] = {}
        if name == "ufoai":
            pk3 = next(data.read() for _, data in deb_members(deb, {UFO_PK3}))
            with zipfile.ZipFile(io.BytesIO(pk3)) as z:
                for stem in want:
                    files[stem] = z.read(f"music/{stem}.ogg")
        else:
            root = NAEV_ROOT if name == "naev" else BLOB_ROOT
            ext = "" if name == "blobwars" else ".ogg"
            paths = {f"{root}{s}{ext}": s for s in want}
            if name == "blobwars":
                paths.update({f"{root}{s}.tags": f"{s}.tags" for s in want})
            for p, data in deb_members(deb, set(paths)):
                files[paths[p]] = data.read()
        tracks = []
        for stem, g in want.items():
            data = files[stem]
            tags = _tags(data)
            if name == "blobwars":  # the .tags file beside each track is the package's statement
                bt = _blob_tags(files[f"{stem}.tags"].decode())
                tags["title"] = bt.get("title", tags.get("title", ""))
                g_artist = bt.get("artist", g["artist"])
                if g_artist.lower() == g["artist"].lower():  # "Dj Sjors" in one .tags file: one spelling
                    g_artist = g["artist"]
            else:
                g_artist = g["artist"]
            src = source
            if g.get("source_tag") and tags.get(g["source_tag"].lower()):
                src = f"{tags[g['source_tag'].lower()]} via {source}"
            if name == "ufoai":
                file, member, inst = UFO_PK3, f"music/{stem}.ogg", f"{stem}.ogg"
            else:
                ext = "" if name == "blobwars" else ".ogg"
                file, member, inst = f"{NAEV_ROOT if name == 'naev' else BLOB_ROOT}{stem}{ext}", None, f"{stem}.ogg"
            t = {"name": inst, "file": file, "title": _title(stem, tags), "artist": g_artist,
                 "licence": g["licence"], "share_alike": bool(g.get("share_alike", False)), "source": src,
                 "sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data),
                 "duration_s": round(float(tags["__duration"]), 2), "evidence": g["evidence"]}
            if member:
                t["member"] = member
            tracks.append(t)
        out[name] = {"package": pkg, "versions": [version, *also.get(pkg, [])],
                     "download_bytes": deb.stat().st_size, "homepage": spec["homepage"],
                     "description": spec["description"], "tracks": tracks, "excluded": spec["excluded"]}
    out["free"] = {"description": "Every CC-BY and public-domain track of the packs above (the Docker image's pack)",
                   "includes": list(PACKS)}
    return {"note": "Written by scripts/make_packs_json.py from the .deb files named in 'versions'. Licences read "
                    "by hand from each package (see 'evidence'); hashes, sizes and durations measured.",
            "packs": out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("debs", nargs="+", type=Path)
    ap.add_argument("--also-verified", action="append", default=[],
                    help="PKG=VERSION: another version whose music files were compared and found identical")
    ap.add_argument("-o", "--output", type=Path, default=PACKS_JSON)
    a = ap.parse_args()
    also: dict[str, list[str]] = {}
    for item in a.also_verified:
        k, v = item.split("=", 1)
        also.setdefault(k, []).append(v)
    doc = build(a.debs, also)
    a.output.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    for name, p in doc["packs"].items():
        ts = p.get("tracks", [])
        free = [t for t in ts if not t["share_alike"]]
        print(f"{name}: {len(free)} tracks {sum(t['duration_s'] for t in free) / 60:.1f} min; share-alike "
              f"{len(ts) - len(free)}")
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
