"""The music catalog: analysed tracks stored through SQLAlchemy 2.0.

Default store: one SQLite file, ``<MOODMIX_HOME>/catalog.sqlite``; any SQLAlchemy URL (PostgreSQL when several
machines share one catalog) through ``url``. SQLite connections run in WAL mode with a 30 s busy timeout, so
several processes (CLI, Celery workers, the API) can read while one writes, and writers wait for each other instead
of failing; every write is one short transaction.

Identity is content: a track's id is the first 12 hex characters of the SHA-256 of its file. Re-adding a folder
skips files whose path, size and modification time are unchanged, re-hashes the others and analyses only new
content; a file whose bytes changed is re-analysed (new id); a moved file keeps its id and analysis. Files that
disappeared are reported (``missing``) and removed by :meth:`Catalog.prune`. Library files are only ever read.

Every track may carry its credit (artist, licence, source, share-alike flag and the one-line credit), given to
:meth:`Catalog.add_paths` by content hash. Catalogs made by earlier versions are migrated in place when opened:
columns the table lacks are added (``ALTER TABLE ... ADD COLUMN``, all nullable), nothing is dropped or rewritten.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Integer,
    String,
    Table,
    create_engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from core.errors import CatalogError, MoodmixError
from library.types import ANALYSIS_VERSION, CREDIT_FIELDS, FEATURES, Track

__all__ = ["Catalog", "ProgressCallback", "ScanSummary", "default_catalog", "default_url", "open_catalog"]

log = logging.getLogger(__name__)

#: progress(done, total, path) after each file of an ``add``.
ProgressCallback = Callable[[int, int, str], None]



class _Base(DeclarativeBase):
    pass


class _TrackRow(_Base):
    __tablename__ = "tracks"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    path: Mapped[str] = mapped_column(String(4096), unique=True, index=True)
    title: Mapped[str] = mapped_column(String(512))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)  # 64-bit: PostgreSQL's INTEGER is 32-bit
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    duration_s: Mapped[float] = mapped_column(Float)
    features: Mapped[dict[str, float]] = mapped_column(JSON)
    key: Mapped[str | None] = mapped_column(String(4), nullable=True)
    loudness_lufs: Mapped[float | None] = mapped_column(Float, nullable=True)
    vocal: Mapped[float | None] = mapped_column(Float, nullable=True)
    beats: Mapped[list[float]] = mapped_column(JSON, default=list)
    downbeats: Mapped[list[float]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    music_cluster: Mapped[int | None] = mapped_column(Integer, nullable=True)
    emotion_cluster: Mapped[int | None] = mapped_column(Integer, nullable=True)
    emotion: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)
    derived_from: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    analysis: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # extra analysis values (key strength, ...)
    analysis_version: Mapped[int] = mapped_column(Integer, default=ANALYSIS_VERSION)
    added_at: Mapped[float] = mapped_column(Float)
    # credits (added in place to older catalogs by _migrate; all nullable)
    artist: Mapped[str | None] = mapped_column(String(512), nullable=True)
    licence: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    share_alike: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    credit: Mapped[str | None] = mapped_column(String(1024), nullable=True)


@dataclass(frozen=True)
class ScanSummary:
    """What one :meth:`Catalog.add_paths` did. Ids in added/updated/unchanged; skipped as (path, reason)."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    missing: tuple[str, ...] = ()  # ids in the catalog whose file is gone
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"added": list(self.added), "updated": list(self.updated), "unchanged": list(self.unchanged),
                "skipped": [{"path": p, "reason": r} for p, r in self.skipped], "missing": list(self.missing),
                "seconds": round(self.seconds, 2)}


def default_url(home: Path | None = None) -> str:
    """``sqlite:///<home>/catalog.sqlite`` with ``home`` defaulting to :func:`core.env.moodmix_home`."""
    from core.env import moodmix_home

    return f"sqlite:///{(home or moodmix_home()) / 'catalog.sqlite'}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")  # wait up to 30 s for another process' write lock
    cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, the writer never blocks readers
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _row_to_track(r: _TrackRow) -> Track:
    return Track(
        id=r.id, path=r.path, title=r.title, duration_s=float(r.duration_s),
        features={k: float(r.features[k]) for k in FEATURES if k in r.features},
        tags=tuple(r.tags or ()), key=r.key, loudness_lufs=r.loudness_lufs, vocal=r.vocal,
        beats=tuple(r.beats or ()), downbeats=tuple(r.downbeats or ()), music_cluster=r.music_cluster,
        emotion_cluster=r.emotion_cluster, emotion=tuple(r.emotion) if r.emotion is not None else None,
        content_hash=r.content_hash, derived_from=r.derived_from, artist=r.artist, licence=r.licence,
        source=r.source, share_alike=bool(r.share_alike), credit=r.credit,
    )


def _credit_for(credits: Mapping[str, Mapping[str, Any]] | None, digest: str,
                path: str) -> Mapping[str, Any] | None:
    return (credits.get(digest) or credits.get(path)) if credits else None


def _apply_credit(row: _TrackRow, credit: Mapping[str, Any] | None) -> bool:
    """Set a row's credit fields from ``credit`` (keys of :data:`CREDIT_FIELDS`); True when something changed."""
    if not credit:
        return False
    changed = False
    for k in CREDIT_FIELDS:
        if k in credit:
            v = bool(credit[k]) if k == "share_alike" else credit[k]
            if getattr(row, k) != v:
                setattr(row, k, v)
                changed = True
    return changed


def _analyse_one(path: str) -> tuple[str, dict[str, Any] | None, str | None]:
    """Worker: (path, features dict, error message). Never raises for a bad file."""
    from library.features import analyse_file

    try:
        return path, analyse_file(path).to_dict(), None
    except MoodmixError as exc:
        return path, None, str(exc)
    except Exception as exc:  # noqa: BLE001 - one bad file must never abort a scan
        return path, None, f"analysis failed: {type(exc).__name__}: {exc}"


_UPDATABLE = {"title", "tags", "music_cluster", "emotion_cluster", "emotion", "derived_from", *CREDIT_FIELDS}


class Catalog:
    """Tracks in a SQL database. Create with :func:`open_catalog`."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    # ------------------------------------------------------------------ reading
    def tracks(self, *, include_derived: bool = True) -> list[Track]:
        """All tracks, ordered by path."""
        with self._session() as s:
            q = select(_TrackRow).order_by(_TrackRow.path)
            if not include_derived:
                q = q.where(_TrackRow.derived_from.is_(None))
            return [_row_to_track(r) for r in s.scalars(q)]

    def get(self, track_id: str) -> Track:
        """One track by id (a unique prefix of at least 4 characters is accepted)."""
        with self._session() as s:
            row = s.get(_TrackRow, track_id)
            if row is None and len(track_id) >= 4:
                rows = list(s.scalars(select(_TrackRow).where(_TrackRow.id.startswith(track_id)).limit(2)))
                row = rows[0] if len(rows) == 1 else None
            if row is None:
                raise CatalogError(f"no track with id {track_id!r} in the catalog; see `moodmix library list`")
            return _row_to_track(row)

    def analysis(self, track_id: str) -> dict[str, Any]:
        """Extra stored analysis values of a track (key strength, pulse clarity, analysis version)."""
        with self._session() as s:
            row = s.get(_TrackRow, self.get(track_id).id)
            assert row is not None
            return {**(row.analysis or {}), "analysis_version": row.analysis_version}

    def missing(self) -> list[str]:
        """Ids of tracks whose file no longer exists."""
        return [t.id for t in self.tracks() if not Path(t.path).is_file()]

    def stats(self) -> dict[str, Any]:
        """Counts, total duration, tags, per-cluster counts and the library's cluster-means table."""
        from library.music_clusters import cluster_means_table

        ts = self.tracks()
        with_feats = [t for t in ts if all(k in t.features for k in FEATURES) and t.music_cluster is not None]
        tags: dict[str, int] = {}
        for t in ts:
            for tag in t.tags:
                tags[tag] = tags.get(tag, 0) + 1
        clusters: dict[int, int] = {}
        for t in with_feats:
            clusters[int(t.music_cluster)] = clusters.get(int(t.music_cluster), 0) + 1  # type: ignore[arg-type]
        return {
            "url": self.url,
            "tracks": len(ts),
            "derived": sum(t.derived_from is not None for t in ts),
            "missing": len([t for t in ts if not Path(t.path).is_file()]),
            "duration_s": round(sum(t.duration_s for t in ts), 1),
            "with_vocals": sum((t.vocal or 0.0) >= 0.2 for t in ts),
            "tags": dict(sorted(tags.items())),
            "music_clusters": {str(k): v for k, v in sorted(clusters.items())},
            "cluster_means": cluster_means_table([dict(t.features) for t in with_feats],
                                                 [int(t.music_cluster) for t in with_feats]),  # type: ignore[arg-type]
        }

    # ------------------------------------------------------------------ writing
    def add_paths(self, paths: Iterable[str | Path], *, jobs: int | None = None,
                  progress: ProgressCallback | None = None, tags: Sequence[str] = (),
                  tag_parent: bool = False, precomputed: Mapping[str, Mapping[str, Any]] | None = None,
                  derived_from: str | None = None,
                  credits: Mapping[str, Mapping[str, Any]] | None = None) -> ScanSummary:
        """Scan files and folders and add what is new or changed.

        Parameters
        ----------
        paths : iterable of str or Path
            Files and folders (recursive).
        jobs : int, optional
            Analysis processes; default ``min(4, cpu count)``; 1 analyses in this process.
        progress : callable, optional
            ``progress(done, total, path)`` after each file.
        tags : sequence of str
            Tags given to every added track.
        tag_parent : bool
            Also tag each track with its folder's name (the built-in library's mood folders).
        precomputed : mapping, optional
            Content hash → stored analysis (:meth:`MusicFeatures.to_dict`), used instead of analysing.
        derived_from : str, optional
            Id of the original when these files are derived versions (instrumentals).
        credits : mapping, optional
            Content hash (or absolute path) → credit fields (``artist``, ``licence``, ``source``, ``share_alike``,
            ``credit`` and optionally ``title``), stored with the track; tracks already catalogued get them too.

        Returns
        -------
        ScanSummary
            A bad file never aborts the scan: it is listed in ``skipped`` with the reason.
        """
        from library.scan import content_hash, find_audio_files

        t0 = time.perf_counter()
        scan = find_audio_files(paths)
        skipped = list(scan.skipped)
        unchanged: list[str] = []
        todo: list[tuple[Path, str, os.stat_result]] = []  # (path, hash, stat) to analyse or reuse
        with self._session() as s:
            by_path = {r.path: r for r in s.scalars(select(_TrackRow))}
        if credits:  # tracks already here get their credit (a catalog made before credits existed)
            self._credit_existing(by_path.values(), credits)
        for f in scan.files:
            try:
                st = f.stat()
                row = by_path.get(str(f))
                current = row is not None and (row.analysis_version or 0) >= ANALYSIS_VERSION
                if current and row.size_bytes == st.st_size and row.mtime_ns == st.st_mtime_ns:
                    unchanged.append(row.id)
                    continue
                digest = content_hash(f)
            except OSError as exc:
                skipped.append((str(f), f"unreadable: {exc.strerror or exc}"))
                continue
            if current and row.content_hash == digest:
                self._touch(row.id, st)
                unchanged.append(row.id)
                continue
            todo.append((f, digest, st))

        results: dict[str, dict[str, Any]] = {}
        to_analyse: list[str] = []
        known = self._hash_index()
        for f, digest, _ in todo:
            if precomputed and digest in precomputed:
                results[str(f)] = dict(precomputed[digest])
            elif digest in known:  # same content already analysed under another path: reuse
                results[str(f)] = {"__reuse__": known[digest]}
            else:
                to_analyse.append(str(f))
        total = len(scan.files)
        done = total - len(to_analyse)
        if progress:
            progress(done, total, "")
        for path, feats, err in self._analyse(to_analyse, jobs):
            done += 1
            if err is not None:
                log.warning("skipped %s: %s", path, err)
                skipped.append((path, err))
            else:
                results[path] = feats  # type: ignore[assignment]
            if progress:
                progress(done, total, path)

        added: list[str] = []
        updated: list[str] = []
        for f, digest, st in todo:
            if str(f) not in results:
                continue
            try:
                status, tid = self._store(f, digest, st, results[str(f)], tags=tags, tag_parent=tag_parent,
                                          derived_from=derived_from,
                                          credit=_credit_for(credits, digest, str(f)))
            except CatalogError as exc:
                skipped.append((str(f), str(exc)))
                continue
            (added if status == "added" else updated if status == "updated" else unchanged).append(tid)
        return ScanSummary(added=tuple(added), updated=tuple(updated), unchanged=tuple(unchanged),
                           skipped=tuple(skipped), missing=tuple(self.missing()),
                           seconds=time.perf_counter() - t0)

    def add_derived(self, original_id: str, path: str | Path, *, tags: Sequence[str] = ()) -> Track:
        """Add a derived version of a track (an instrumental made by separation) and return it.

        It is analysed like any file, inherits the original's tags and points back with ``derived_from``.
        """
        original = self.get(original_id)
        summary = self.add_paths([path], jobs=1, tags=(*original.tags, *tags), derived_from=original.id)
        ids = summary.added + summary.updated + summary.unchanged
        if not ids:
            reason = summary.skipped[0][1] if summary.skipped else "unknown reason"
            raise CatalogError(f"could not add derived track {path}: {reason}")
        track = self.get(ids[0])
        if track.derived_from != original.id:
            self.update(track.id, derived_from=original.id)
            track = self.get(track.id)
        return track

    def update(self, track_id: str, **fields: Any) -> None:
        """Set stored fields: title, tags, music_cluster, emotion_cluster, emotion (8 floats), derived_from."""
        bad = set(fields) - _UPDATABLE
        if bad:
            raise CatalogError(f"cannot update {sorted(bad)}; updatable fields are {sorted(_UPDATABLE)}")
        tid = self.get(track_id).id
        with self._write() as s:
            row = s.get(_TrackRow, tid)
            assert row is not None
            for k, v in fields.items():
                if k == "emotion" and v is not None:
                    v = [float(x) for x in v]
                elif k == "tags":
                    v = list(v)
                setattr(row, k, v)

    def remove(self, track_id: str) -> None:
        """Forget a track (its file is not touched); derived tracks of it lose their link."""
        tid = self.get(track_id).id
        with self._write() as s:
            row = s.get(_TrackRow, tid)
            if row is not None:
                s.delete(row)
            for child in s.scalars(select(_TrackRow).where(_TrackRow.derived_from == tid)):
                child.derived_from = None

    def prune(self) -> list[str]:
        """Remove every track whose file is gone; returns their ids."""
        gone = self.missing()
        for tid in gone:
            self.remove(tid)
        return gone

    # ------------------------------------------------------------------ internals
    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def _write(self) -> _WriteTx:
        return _WriteTx(self)

    def _hash_index(self) -> dict[str, str]:
        with self._session() as s:
            return {r.content_hash: r.id for r in s.scalars(select(_TrackRow))
                    if (r.analysis_version or 0) >= ANALYSIS_VERSION}

    def _credit_existing(self, rows: Iterable[_TrackRow], credits: Mapping[str, Mapping[str, Any]]) -> None:
        """Give credits to catalogued rows whose content hash has one and whose stored credit differs."""
        stale: dict[str, Mapping[str, Any]] = {}
        for r in rows:
            c = _credit_for(credits, r.content_hash, r.path)
            if c and any(k in c and (bool(c[k]) if k == "share_alike" else c[k]) != getattr(r, k)
                         for k in (*CREDIT_FIELDS, "title")):
                stale[r.id] = c
        if not stale:
            return
        with self._write() as s:
            for tid, credit in stale.items():
                row = s.get(_TrackRow, tid)
                if row is not None:
                    _apply_credit(row, credit)
                    if credit.get("title"):
                        row.title = str(credit["title"])

    def _touch(self, tid: str, st: os.stat_result) -> None:
        with self._write() as s:
            row = s.get(_TrackRow, tid)
            if row is not None:
                row.size_bytes, row.mtime_ns = int(st.st_size), int(st.st_mtime_ns)

    def _analyse(self, paths: list[str],
                 jobs: int | None) -> Iterable[tuple[str, dict[str, Any] | None, str | None]]:
        if not paths:
            return
        n = jobs or min(4, os.cpu_count() or 1)
        if n <= 1 or len(paths) == 1:
            for p in paths:
                yield _analyse_one(p)
            return
        import multiprocessing

        # spawned, not forked: a fork of a process that holds threads (torch's pools, a server's, a bot's) can
        # deadlock in the child on a lock some other thread held at the fork
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(n, len(paths)), mp_context=ctx) as pool:
            futures = [pool.submit(_analyse_one, p) for p in paths]
            for fut in as_completed(futures):
                yield fut.result()

    def _store(self, f: Path, digest: str, st: os.stat_result, feats: dict[str, Any], *, tags: Sequence[str],
               tag_parent: bool, derived_from: str | None,
               credit: Mapping[str, Any] | None = None) -> tuple[str, str]:
        from library.features import MusicFeatures
        from library.music_clusters import assign_cluster
        from library.scan import track_id

        tid = track_id(digest)
        new_tags = set(tags) | ({f.parent.name} if tag_parent else set())
        try:
            with self._write() as s:
                # The same bytes may already be catalogued: under another path (a copy, or a moved folder such as
                # a re-created virtual environment), or under this path by another process an instant ago.
                reuse_id = feats.get("__reuse__")
                same = s.get(_TrackRow, reuse_id or tid)
                if same is None and reuse_id is not None:
                    raise CatalogError(f"track {reuse_id} vanished during the scan; add {f} again")
                if same is not None:
                    if same.path != str(f) and Path(same.path).is_file():
                        raise CatalogError(f"duplicate of track {same.id} ({same.path}); same content, not added twice")
                    status = "updated" if same.path != str(f) else "unchanged"  # moved, or stored concurrently
                    for gone in s.scalars(select(_TrackRow).where(_TrackRow.path == str(f), _TrackRow.id != same.id)):
                        s.delete(gone)  # this path held other bytes before: the file was replaced by a moved one
                    s.flush()
                    same.path, same.size_bytes, same.mtime_ns = str(f), int(st.st_size), int(st.st_mtime_ns)
                    if reuse_id is None and (same.analysis_version or 0) < ANALYSIS_VERSION:
                        _apply_analysis(same, MusicFeatures.from_dict(feats))  # analysed again: newer analysis
                        status = "updated"
                    same.tags = sorted(set(same.tags or ()) | new_tags)
                    _apply_credit(same, credit)
                    if credit and credit.get("title"):
                        same.title = str(credit["title"])
                    return status, same.id
                mf = MusicFeatures.from_dict(feats)
                old = s.scalars(select(_TrackRow).where(_TrackRow.path == str(f))).first()
                status = "added"
                if old is not None:  # the file's bytes changed: replace the row (new content → new id)
                    s.delete(old)
                    s.flush()
                    status = "updated"
                spot = mf.spotify()
                row = _TrackRow(
                    id=tid, path=str(f), title=str((credit or {}).get("title") or f.stem), content_hash=digest, size_bytes=int(st.st_size),
                    mtime_ns=int(st.st_mtime_ns), duration_s=mf.duration_s, features=spot, key=mf.key,
                    loudness_lufs=mf.loudness_lufs, vocal=mf.vocal, beats=list(mf.beats_s),
                    downbeats=list(mf.downbeats_s),
                    tags=sorted(new_tags),
                    music_cluster=assign_cluster(spot), emotion_cluster=None, emotion=None,
                    derived_from=derived_from,
                    analysis=_extra_analysis(mf),
                    analysis_version=ANALYSIS_VERSION, added_at=time.time(),
                )
                _apply_credit(row, credit)
                s.add(row)
        except IntegrityError:  # another process stored the same bytes between our read and our write
            with self._session() as s:
                if s.get(_TrackRow, tid) is None:
                    raise CatalogError(f"could not store {f}: the catalog changed under the scan; add it again") from None
            return "unchanged", tid
        return status, tid


def _extra_analysis(mf: Any) -> dict[str, Any]:
    """What a row keeps beyond its columns: key strength, pulse clarity, the musicnn tags and embeddings, and the
    descriptor-only estimates (``moodmix library show ID --json`` prints them)."""
    return {"key_strength": mf.key_strength, "pulse_clarity": mf.pulse_clarity, "tags": dict(mf.tags),
            "embedding": dict(mf.embedding), "descriptors": dict(mf.descriptors)}


def _apply_analysis(row: _TrackRow, mf: Any) -> None:
    """Replace a row's analysis with a newer one of the same bytes (its id, path, tags and credit stay)."""
    from library.music_clusters import assign_cluster

    spot = mf.spotify()
    row.duration_s, row.features, row.key = mf.duration_s, spot, mf.key
    row.loudness_lufs, row.vocal = mf.loudness_lufs, mf.vocal
    row.beats, row.downbeats = list(mf.beats_s), list(mf.downbeats_s)
    row.music_cluster, row.emotion_cluster, row.emotion = assign_cluster(spot), None, None
    row.analysis, row.analysis_version = _extra_analysis(mf), ANALYSIS_VERSION


class _WriteTx:
    """One short write transaction, retried on SQLite 'database is locked' beyond the busy timeout."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.session: Session | None = None

    def __enter__(self) -> Session:
        self.session = Session(self.catalog.engine, expire_on_commit=False)
        self.session.begin()
        return self.session

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self.session is not None
        try:
            if exc_type is None:
                self.session.commit()
            else:
                self.session.rollback()
        except OperationalError as err:
            self.session.rollback()
            raise CatalogError(f"catalog {self.catalog.url} is busy or read-only ({err.orig}); try again") from None
        finally:
            self.session.close()


def _migrate(engine: Engine) -> list[str]:
    """Add the columns a catalog made by an earlier version lacks (in place; every added column is nullable).

    Safe when several processes open an old catalog at once: a column another process added in between is taken
    as added. Returns the names of the columns this call added.
    """
    table = cast(Table, _TrackRow.__table__)
    have = {c["name"] for c in inspect(engine).get_columns(table.name)}
    added: list[str] = []
    for col in table.columns:
        if col.name in have:
            continue
        if not col.nullable:  # only nullable columns can be added to rows that exist
            raise CatalogError(f"the catalog lacks column {col.name!r}, which cannot be added in place; "
                               "make a new catalog and add the music again")
        ddl = f"ALTER TABLE {table.name} ADD COLUMN {col.name} {col.type.compile(engine.dialect)}"
        try:
            with engine.begin() as conn:
                conn.execute(text(ddl))
            added.append(col.name)
            log.info("catalog %s: added column %s", engine.url.render_as_string(hide_password=True), col.name)
        except (OperationalError, ProgrammingError):  # another process added it first ("duplicate column")
            if col.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
                raise
    return added


def open_catalog(url: str | None = None, *, home: Path | None = None) -> Catalog:
    """Open (and create if needed) a catalog.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy database URL; default a SQLite file under ``home``.
    home : Path, optional
        Folder of the default SQLite file; default :func:`core.env.moodmix_home`.

    Raises
    ------
    CatalogError
        The database cannot be opened or created.
    """
    url = url or default_url(home)
    try:
        if url.startswith("sqlite"):
            db = url.split("///", 1)[1] if "///" in url else ""
            if db and db != ":memory:":
                Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
        for attempt in range(5):  # table creation can race with another process creating them
            try:
                _Base.metadata.create_all(engine)
                break
            except (OperationalError, IntegrityError, ProgrammingError):  # PostgreSQL: duplicate table/type
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
        _migrate(engine)
    except (SQLAlchemyError, OSError, ImportError) as exc:
        raise CatalogError(f"cannot open the catalog at {url}: {exc}; check the URL or MOODMIX_DATABASE_URL") from None
    return Catalog(engine, url)


def default_catalog(url: str | None = None, *, home: Path | None = None) -> Catalog:
    """Open the catalog and make sure the built-in library is in it (precomputed analysis, no wait)."""
    from library.builtin import ensure_builtin

    cat = open_catalog(url, home=home)
    ensure_builtin(cat)
    return cat
