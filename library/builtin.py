"""The built-in library: the 28 clips of the MIT-licensed ``immich-memories-music`` package.

Their analysis ships precomputed in ``library/data/builtin_features.json`` (written by
``python -m library.builtin --write``), keyed by each clip's SHA-256, so a fresh machine's first ``moodmix mix``
needs no analysis. :func:`ensure_builtin` adds the clips to a catalog, tagged with their mood folder (calm,
energetic, happy, nostalgic, tender); a clip whose bytes differ from the shipped hash (another package version) is
analysed instead.

Credits come from the package's own metadata (``importlib.metadata``): its licence expression (MIT) and version.
Its README and ``LICENSE-MUSIC`` say every clip was generated with ACE-Step 1.5 by the project and name no
artist, so each clip is credited to the package: ``'calm_acoustic_1' from immich-memories-music, MIT``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import CatalogError

__all__ = ["BUILTIN_PACKAGE", "builtin_credits", "builtin_dir", "builtin_files", "ensure_builtin",
           "load_builtin_features", "write_builtin_features"]

#: The distribution that ships the clips.
BUILTIN_PACKAGE = "immich-memories-music"

_DATA = Path(__file__).parent / "data" / "builtin_features.json"


def builtin_dir() -> Path:
    """Folder of the installed clips (``immich_memories_music.tracks_dir()``), resolved like the catalog's paths
    (a virtual environment reached through a symlink names the same files)."""
    try:
        import immich_memories_music
    except ImportError:
        raise CatalogError("the built-in library needs the immich-memories-music package; "
                           "pip install immich-memories-music") from None
    return Path(immich_memories_music.tracks_dir()).resolve()


def builtin_files() -> list[Path]:
    """The clips, sorted."""
    from library.scan import find_audio_files

    return list(find_audio_files([builtin_dir()]).files)


def load_builtin_features(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Content hash → :meth:`library.features.MusicFeatures.to_dict` for the shipped clips."""
    p = path or _DATA
    if not p.exists():
        return {}
    from library.types import ANALYSIS_VERSION

    data = json.loads(p.read_text())
    if int(data.get("analysis_version", 1)) != ANALYSIS_VERSION:  # written by another analysis: analyse instead
        return {}
    return {v["sha256"]: v["analysis"] for v in data["tracks"].values()}


def builtin_credits(root: Path | None = None) -> dict[str, dict[str, Any]]:
    """Absolute clip path → credit fields, from the installed package's metadata (licence, version, home page)."""
    from importlib import metadata

    from library.types import format_credit

    try:
        meta = metadata.metadata(BUILTIN_PACKAGE)
        version = meta["Version"] or "?"
        licence = meta["License-Expression"] or meta["License"] or "MIT"
    except metadata.PackageNotFoundError:
        version, licence = "?", "MIT"
    source = f"{BUILTIN_PACKAGE} {version} (PyPI, https://pypi.org/project/{BUILTIN_PACKAGE}/)"
    root = root or builtin_dir()
    out: dict[str, dict[str, Any]] = {}
    from library.scan import find_audio_files

    for f in find_audio_files([root]).files:
        out[str(f)] = {"artist": None, "licence": licence, "source": source, "share_alike": False,
                       "credit": format_credit(f.stem, licence=licence, origin=BUILTIN_PACKAGE)}
    return out


def ensure_builtin(catalog: Any, *, jobs: int | None = 1) -> Any:
    """Add the built-in clips to ``catalog`` (quick when they are there: path, size and mtime are checked), each
    with its credit."""
    root = builtin_dir()
    return catalog.add_paths([root], jobs=jobs, tags=("builtin",), tag_parent=True,
                             precomputed=load_builtin_features(), credits=builtin_credits(root))


def write_builtin_features(path: Path | None = None) -> Path:
    """Analyse every clip and write the shipped JSON (for maintainers, when the package or the analysis changes)."""
    from library.features import analyse_file
    from library.scan import content_hash

    root = builtin_dir()
    tracks = {}
    for f in builtin_files():
        tracks[str(f.relative_to(root))] = {"sha256": content_hash(f), "mood": f.parent.name,
                                            "analysis": analyse_file(f).to_dict()}
    out = path or _DATA
    out.parent.mkdir(parents=True, exist_ok=True)
    from library.types import ANALYSIS_VERSION

    doc = {"package": "immich-memories-music", "note": "written by python -m library.builtin --write",
           "analysis_version": ANALYSIS_VERSION,
           "tracks": tracks}
    out.write_text(json.dumps(doc, indent=1) + "\n")
    return out


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Write library/data/builtin_features.json")
    ap.add_argument("--write", action="store_true", required=True)
    print(f"wrote {write_builtin_features()}" if ap.parse_args().write else "")
