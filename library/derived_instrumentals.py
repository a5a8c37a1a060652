"""Instrumental versions of library songs, stored as derived tracks of the catalog.

For each chosen original, the accompaniment of a two-stem vocals / accompaniment separation
(:func:`models.separation.accompaniment.make_instrumental_file`, Spleeter 2 stems by default) is written to
``<derived_dir>/<original id>.instrumental.flac`` — never next to or over the user's file, which is only read —
then analysed and added with :meth:`library.catalog.Catalog.add_derived` (``derived_from`` = the original's id,
the original's tags plus ``"instrumental"``). The file name carries the original's content id, so adding the same
song again finds its instrumental and separates nothing; a song whose bytes changed gets a new id and a new
instrumental. One song that fails to separate is reported and never stops the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from core.errors import MoodmixError
from library.types import Track

if TYPE_CHECKING:
    from library.catalog import Catalog

__all__ = ["InstrumentalSummary", "add_instrumentals", "derived_path", "needs_instrumental"]

log = logging.getLogger(__name__)

#: make(src, dst) -> dst: writes the instrumental of ``src`` to ``dst`` (a FLAC).
MakeInstrumental = Callable[[Path, Path], Path]
#: progress(original track, what happened: "made" | "existing" | "failed")
InstrumentalProgress = Callable[[Track, str], None]

Mode = Literal["all", "auto"]


@dataclass(frozen=True)
class InstrumentalSummary:
    """What one :func:`add_instrumentals` did.

    Attributes
    ----------
    made : tuple of (original id, derived id)
        Instrumentals separated and added by this call.
    existing : tuple of (original id, derived id)
        Instrumentals that were already there (file and catalog row); nothing was separated.
    not_needed : tuple of str
        Originals left alone (``mode="auto"``: vocal presence at or below the threshold; or derived tracks).
    failed : tuple of (path, reason)
        Originals whose instrumental could not be made or added.
    seconds : float
    """

    made: tuple[tuple[str, str], ...] = ()
    existing: tuple[tuple[str, str], ...] = ()
    not_needed: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``library add --json``'s ``instrumentals`` object)."""
        return {"made": [{"original": o, "derived": d} for o, d in self.made],
                "existing": [{"original": o, "derived": d} for o, d in self.existing],
                "not_needed": list(self.not_needed),
                "failed": [{"path": p, "reason": r} for p, r in self.failed],
                "seconds": round(self.seconds, 2)}


def derived_path(derived_dir: Path, original_id: str) -> Path:
    """Where the instrumental of track ``original_id`` lives: ``<derived_dir>/<id>.instrumental.flac``."""
    return Path(derived_dir) / f"{original_id}.instrumental.flac"


def needs_instrumental(track: Track, *, mode: Mode, vocal_threshold: float) -> bool:
    """Whether ``track`` should get an instrumental: never for a derived track; ``"all"``: always;
    ``"auto"``: when its measured vocal presence is above ``vocal_threshold`` (the selection's threshold)."""
    if track.derived_from is not None:
        return False
    if mode == "all":
        return True
    return track.vocal is not None and float(track.vocal) > vocal_threshold


def _existing_derived(catalog: Catalog, original_id: str, dst: Path) -> Track | None:
    for t in catalog.tracks():
        if t.derived_from == original_id and Path(t.path) == dst and dst.is_file():
            return t
    return None


def add_instrumentals(
    catalog: Catalog,
    track_ids: Iterable[str],
    *,
    derived_dir: Path,
    mode: Mode = "all",
    vocal_threshold: float | None = None,
    make: MakeInstrumental | None = None,
    progress: InstrumentalProgress | None = None,
) -> InstrumentalSummary:
    """Make and add the instrumental of each chosen track.

    Parameters
    ----------
    catalog : library.catalog.Catalog
        The originals are already in it.
    track_ids : iterable of str
        Catalog ids of the originals (typically the ids of one ``add_paths``; duplicates are ignored).
    derived_dir : Path
        Folder of the instrumentals (``$MOODMIX_HOME/derived`` from the CLI); created when needed.
    mode : {"all", "auto"}
        ``"all"``: every track; ``"auto"``: only tracks whose vocal presence exceeds ``vocal_threshold``.
    vocal_threshold : float, optional
        Default :data:`library.select.VOCAL_THRESHOLD`, the presence above which selection skips a track.
    make : callable, optional
        ``make(src, dst) -> dst``; default :func:`models.separation.accompaniment.make_instrumental_file`.
    progress : callable, optional
        ``progress(original, outcome)`` after each chosen track (outcome ``made``, ``existing`` or ``failed``).

    Returns
    -------
    InstrumentalSummary
        A song that cannot be separated or analysed is listed in ``failed`` with the reason; the others go on.
    """
    if mode not in ("all", "auto"):
        raise ValueError(f"mode must be 'all' or 'auto', got {mode!r}")
    if vocal_threshold is None:
        from library.select import VOCAL_THRESHOLD

        vocal_threshold = VOCAL_THRESHOLD
    if make is None:
        from models.separation.accompaniment import make_instrumental_file

        make = make_instrumental_file
    t0 = time.perf_counter()
    made: list[tuple[str, str]] = []
    existing: list[tuple[str, str]] = []
    not_needed: list[str] = []
    failed: list[tuple[str, str]] = []
    for tid in dict.fromkeys(track_ids):
        original = catalog.get(tid)
        if not needs_instrumental(original, mode=mode, vocal_threshold=vocal_threshold):
            not_needed.append(original.id)
            continue
        dst = derived_path(derived_dir, original.id)
        src = Path(original.path)
        if src.parent.resolve() == dst.parent.resolve():  # a file of the derived folder itself: never separate it
            not_needed.append(original.id)
            continue
        outcome = "failed"
        try:
            done = _existing_derived(catalog, original.id, dst)
            if done is not None:
                existing.append((original.id, done.id))
                outcome = "existing"
                continue
            # an instrumental file left from an earlier run (e.g. the catalog was reset) is reused: its name carries
            # the original's content id, and it is written atomically, so it is complete
            if not dst.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                make(src, dst)
            derived = catalog.add_derived(original.id, dst, tags=("instrumental",))
            title = f"{original.title} (instrumental)"
            if derived.title != title:  # the file is named after the id; list it under the song's name
                catalog.update(derived.id, title=title)
            made.append((original.id, derived.id))
            outcome = "made"
        except MoodmixError as exc:
            log.warning("no instrumental for %s: %s", original.path, exc)
            failed.append((original.path, str(exc)))
        except Exception as exc:  # noqa: BLE001 - one song that fails to separate never stops the others
            log.warning("no instrumental for %s: %s: %s", original.path, type(exc).__name__, exc)
            failed.append((original.path, f"separation failed: {type(exc).__name__}: {exc}"))
        finally:
            if progress is not None:
                progress(original, outcome)
    return InstrumentalSummary(made=tuple(made), existing=tuple(existing), not_needed=tuple(not_needed),
                               failed=tuple(failed), seconds=time.perf_counter() - t0)
