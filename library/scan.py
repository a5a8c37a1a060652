"""Find music files and fingerprint them.

- :func:`find_audio_files` walks files and folders recursively and returns the audio files (by extension) plus the
  paths it had to skip, each with a reason (missing, not audio). It never opens a file for writing.
- :func:`content_hash` is the SHA-256 of a file's bytes, read in 1 MiB blocks: the catalog's identity of a track
  (a moved file keeps its id; an edited file gets a new one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AUDIO_EXTENSIONS", "ScanResult", "content_hash", "find_audio_files", "track_id"]

#: File extensions treated as music (lower case).
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {".wav", ".flac", ".mp3", ".m4a", ".ogg", ".oga", ".opus", ".aiff", ".aif", ".aifc"}
)


@dataclass(frozen=True)
class ScanResult:
    """Audio files found (absolute, sorted, unique) and skipped paths as (path, reason)."""

    files: tuple[Path, ...]
    skipped: tuple[tuple[str, str], ...]


def find_audio_files(paths: Iterable[str | Path]) -> ScanResult:
    """Collect audio files from files and folders (recursively).

    Parameters
    ----------
    paths : iterable of str or Path
        Files or folders. A file named explicitly is kept when its extension is an audio one and reported as
        skipped otherwise; inside folders, non-audio files (cover art, text) are ignored silently.

    Returns
    -------
    ScanResult
    """
    found: dict[Path, None] = {}
    skipped: list[tuple[str, str]] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists():
            skipped.append((str(p), "not found"))
        elif p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS and not f.name.startswith("."):
                    found[f.resolve()] = None
        elif p.suffix.lower() in AUDIO_EXTENSIONS:
            found[p.resolve()] = None
        else:
            skipped.append((str(p), f"not an audio file extension ({p.suffix or 'none'}); "
                                    f"expected one of {', '.join(sorted(AUDIO_EXTENSIONS))}"))
    return ScanResult(files=tuple(sorted(found)), skipped=tuple(skipped))


def content_hash(path: str | Path, *, block_bytes: int = 1 << 20) -> str:
    """SHA-256 hex digest of the file's bytes (read only)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(block_bytes)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


def track_id(digest: str) -> str:
    """A track's short, stable id: the first 12 hex characters of its content hash."""
    return digest[:12]
