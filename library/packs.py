"""Music packs: free instrumental music from Debian packages, every track credited.

A pack is a verified selection of tracks from one Debian package (or a bundle of packs). Its metadata ships in
``library/data/packs.json`` (written by ``scripts/make_packs_json.py`` from the packages themselves): for each track
the file inside the package, title, artist, licence, source, share-alike flag, duration and the SHA-256 of the exact
file that was verified, with the package version(s) it was verified against. The licences were read from each
package's ``usr/share/doc/PKG/copyright``, per-file tags (``.tags`` files, Vorbis comments) and upstream licence
files; only tracks whose licence is CC-BY, CC0 or public domain go into a pack by default. Share-alike tracks
(CC-BY-SA) are opt-in (``--share-alike``) and marked in every listing and credit; GPL-only music and tracks whose
sources disagree are left out (listed under ``excluded`` in packs.json, with the reason).

:func:`add_pack` fetches the package with the system's package tools (``apt-get download`` into
``<packs_dir>/NAME/.download``; no root needed), extracts only the music (``.pk3`` archives are zips), checks every
file's hash against packs.json, keeps the music under ``<packs_dir>/NAME/`` and deletes the download, then adds the
files through :meth:`library.catalog.Catalog.add_paths` (analysed like any track) with their credits and a
``pack:NAME`` tag. A file whose bytes differ from the verified one (another package version) is reported and not
added: a credit is never guessed. Without apt-get it says which package to fetch and how to hand it over
(``--from FILE.deb`` or an extracted folder). Repeating it is cheap: files already in place are not fetched again and
tracks already catalogued are not analysed again.

Whether ``scripts/install.sh`` adds a pack: it does not, by default. The CC-BY/public-domain bundle (``free``, 42
tracks, 121 min) means downloading three Debian packages of 625 MB in all (naev-data 350 MB, ufoai-music 210 MB,
blobwars-data 65 MB; the music kept is 135 MB) and analysing two hours of music (several minutes on 2 cores),
which would triple the set-up time of every CI run and of a creator's first install, whose first ``moodmix mix``
works with the built-in clips anyway. The Docker image carries the ``free`` bundle (added at image build), and
``moodmix library add-pack free`` adds it anywhere else (docs/music.md).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from core.errors import CatalogError
from library.types import format_credit

__all__ = ["PACKS_JSON", "Pack", "PackError", "PackSummary", "PackTrack", "add_pack", "default_packs_dir",
           "deb_members", "install_pack_files", "list_packs", "load_packs", "pack_status"]

#: The verified pack metadata shipped with the package.
PACKS_JSON = Path(__file__).parent / "data" / "packs.json"

#: progress(step, done, total, name): step is "fetch", "extract", "analyse".
PackProgress = Callable[[str, int, int, str], None]


class PackError(CatalogError):
    """A pack could not be fetched, read or added; the message says what to do."""


@dataclass(frozen=True)
class PackTrack:
    """One verified track of a pack."""

    file: str  # path inside the package's file tree (e.g. usr/share/naev/dat/snd/music/zalek2.ogg)
    name: str  # file name once installed (an audio extension is added where the package has none)
    title: str
    artist: str | None
    licence: str
    source: str
    sha256: str
    duration_s: float
    size_bytes: int
    share_alike: bool = False
    member: str | None = None  # path inside ``file`` when that is a zip archive (.pk3)
    evidence: str = ""

    @property
    def credit(self) -> str:
        return format_credit(self.title, artist=self.artist, licence=self.licence, share_alike=self.share_alike)

    def credit_fields(self) -> dict[str, Any]:
        """What :meth:`library.catalog.Catalog.add_paths` stores with the track."""
        return {"title": self.title, "artist": self.artist, "licence": self.licence, "source": self.source,
                "share_alike": self.share_alike, "credit": self.credit}


@dataclass(frozen=True)
class Pack:
    """A named pack: tracks of one Debian package, or a bundle of other packs (``includes``)."""

    name: str
    description: str
    package: str | None = None
    versions: tuple[str, ...] = ()  # package versions whose files were verified
    download_bytes: int = 0
    homepage: str = ""
    tracks: tuple[PackTrack, ...] = ()
    includes: tuple[str, ...] = ()
    excluded: tuple[dict[str, str], ...] = ()

    def selected(self, *, share_alike: bool = False) -> tuple[PackTrack, ...]:
        return tuple(t for t in self.tracks if share_alike or not t.share_alike)


@dataclass(frozen=True)
class PackSummary:
    """What one :func:`add_pack` did."""

    pack: str
    placed: tuple[str, ...] = ()  # installed files (new and already there)
    fetched: tuple[str, ...] = ()  # packages downloaded or read this time
    problems: tuple[tuple[str, str], ...] = ()  # (file, reason): not added
    catalog: dict[str, Any] = field(default_factory=dict)  # the ScanSummary of the catalog add
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"pack": self.pack, "placed": list(self.placed), "fetched": list(self.fetched),
                "problems": [{"file": f, "reason": r} for f, r in self.problems], "catalog": self.catalog,
                "seconds": round(self.seconds, 2)}


# ------------------------------------------------------------------------------------------------ metadata
def load_packs(path: Path | None = None) -> dict[str, Pack]:
    """The packs described by ``packs.json`` (default: the shipped one), by name."""
    p = path or PACKS_JSON
    try:
        doc = json.loads(Path(p).read_text())
    except (OSError, ValueError) as exc:
        raise PackError(f"cannot read the pack list {p}: {exc}") from None
    packs: dict[str, Pack] = {}
    for name, d in doc["packs"].items():
        tracks = tuple(PackTrack(
            file=t["file"], name=t["name"], title=t["title"], artist=t.get("artist"), licence=t["licence"],
            source=t["source"], sha256=t["sha256"], duration_s=float(t["duration_s"]),
            size_bytes=int(t["size_bytes"]), share_alike=bool(t.get("share_alike", False)),
            member=t.get("member"), evidence=t.get("evidence", "")) for t in d.get("tracks", ()))
        packs[name] = Pack(name=name, description=d.get("description", ""), package=d.get("package"),
                           versions=tuple(d.get("versions", ())), download_bytes=int(d.get("download_bytes", 0)),
                           homepage=d.get("homepage", ""), tracks=tracks, includes=tuple(d.get("includes", ())),
                           excluded=tuple(d.get("excluded", ())))
    for p_ in packs.values():
        for inc in p_.includes:
            if inc not in packs or packs[inc].includes:
                raise PackError(f"pack {p_.name!r} includes {inc!r}, which is not a single-package pack in {p}")
    return packs


def _members(pack: Pack, packs: dict[str, Pack]) -> list[Pack]:
    return [packs[n] for n in pack.includes] if pack.includes else [pack]


def _get(name: str, packs: dict[str, Pack]) -> Pack:
    if name not in packs:
        raise PackError(f"no pack named {name!r}; available: {', '.join(sorted(packs))} "
                        "(see `moodmix library packs`)")
    return packs[name]


def default_packs_dir(home: Path | None = None) -> Path:
    """``<MOODMIX_HOME>/packs``."""
    from core.env import moodmix_home

    return (home or moodmix_home()) / "packs"


def pack_status(pack: Pack, packs_dir: Path, packs: dict[str, Pack], *, share_alike: bool = False) -> tuple[int, int]:
    """(installed, wanted): tracks of the pack whose file is in place (by size) out of those it selects."""
    have = want = 0
    for m in _members(pack, packs):
        for t in m.selected(share_alike=share_alike):
            want += 1
            f = packs_dir / m.name / t.name
            have += f.is_file() and f.stat().st_size == t.size_bytes
    return have, want


def list_packs(packs_dir: Path, *, path: Path | None = None) -> list[dict[str, Any]]:
    """One JSON-ready row per pack: licences, tracks, minutes, share-alike (opt-in) tracks, size, installed."""
    packs = load_packs(path)
    rows = []
    for p in packs.values():
        members = _members(p, packs)
        free = [t for m in members for t in m.selected()]
        sa = [t for m in members for t in m.tracks if t.share_alike]
        have, want = pack_status(p, packs_dir, packs)
        have_sa = sum((packs_dir / m.name / t.name).is_file() for m in members for t in m.tracks if t.share_alike)
        rows.append({
            "name": p.name, "description": p.description,
            "packages": [f"{m.package} {'/'.join(m.versions)}" for m in members],
            "licences": sorted({t.licence for t in free}), "tracks": len(free),
            "minutes": round(sum(t.duration_s for t in free) / 60, 1),
            "share_alike_tracks": len(sa), "share_alike_minutes": round(sum(t.duration_s for t in sa) / 60, 1),
            "share_alike_licences": sorted({t.licence for t in sa}),
            "download_mb": round(sum(m.download_bytes for m in members) / 1e6),
            "installed": "yes" if want and have == want else "no" if have == 0 else f"partly ({have}/{want})",
            "installed_share_alike": have_sa,
        })
    return rows


# ------------------------------------------------------------------------------------------------ fetching
def _apt_download(pack: Pack, dest: Path, progress: PackProgress | None) -> Path:
    """``apt-get download PACKAGE`` into ``dest``; the .deb. Raises PackError with one clear line."""
    package = str(pack.package)
    apt = shutil.which("apt-get")
    if apt is None:
        v = pack.versions[0] if pack.versions else "?"
        raise PackError(
            f"this system has no apt-get to fetch the Debian package {package} (verified: {v}); download "
            f"{package}_{v}_all.deb from https://packages.debian.org/stable/all/{package}/download and run "
            f"`moodmix library add-pack {pack.name} --from {package}_{v}_all.deb`")
    if progress:
        progress("fetch", 0, 1, f"{package} ({pack.download_bytes / 1e6:.0f} MB, apt-get download)")
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob(f"{package}_*.deb"):
        old.unlink()
    proc = subprocess.run([apt, "download", "-q", package], cwd=dest, capture_output=True, text=True)
    debs = sorted(dest.glob(f"{package}_*.deb"))
    if proc.returncode != 0 or not debs:
        errs = [ln for ln in (proc.stderr or "").splitlines() if ln.startswith("E:")] or [proc.stderr.strip()]
        raise PackError(f"apt-get download {package} failed: {errs[-1] if errs else 'no .deb written'} "
                        "(is the package in the apt sources? `sudo apt-get update` refreshes them; or pass "
                        f"`--from {package}_VERSION_all.deb`)")
    return debs[-1]


def _deb_version(deb: Path) -> str | None:
    parts = deb.name.split("_")
    return parts[1].replace("%3a", ":") if len(parts) >= 3 else None


def _ar_members(f: IO[bytes]) -> Iterator[tuple[str, int]]:
    """(name, size) of each member of an ar archive, ``f`` positioned at its data."""
    if f.read(8) != b"!<arch>\n":
        raise PackError("not a Debian package (no ar header)")
    while True:
        head = f.read(60)
        if len(head) < 60:
            return
        name = head[:16].decode().strip().rstrip("/")
        size = int(head[48:58].decode().strip())
        start = f.tell()
        yield name, size
        f.seek(start + size + (size & 1))


def deb_members(deb: Path, wanted: set[str]) -> Iterator[tuple[str, IO[bytes]]]:
    """The files named in ``wanted`` (paths without a leading ``./``) from a .deb's data archive.

    Uses ``dpkg-deb --fsys-tarfile`` where it exists (any compression, zstd included), else reads the ar archive
    in Python (xz, gzip, bzip2 or none).
    """
    dpkg = shutil.which("dpkg-deb")
    if dpkg:
        proc = subprocess.Popen([dpkg, "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        try:
            yield from _tar_members(proc.stdout, wanted)
        finally:
            proc.stdout.close()
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            if proc.wait() != 0 and err:
                raise PackError(f"dpkg-deb could not read {deb}: {err.strip().splitlines()[-1]}")
        return
    with open(deb, "rb") as f:
        for name, size in _ar_members(f):
            if name.startswith("data.tar"):
                if name.endswith(".zst"):
                    raise PackError(f"{deb.name} is compressed with zstd, which needs dpkg-deb; extract it with "
                                    "`dpkg-deb -x` and pass the folder with --from")
                yield from _tar_members(io.BufferedReader(_Limited(f, size)), wanted)
                return
    raise PackError(f"{deb} has no data archive")


class _Limited(io.RawIOBase):
    """The next ``size`` bytes of a file, as a stream."""

    def __init__(self, f: IO[bytes], size: int) -> None:
        self.f, self.left = f, size

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = min(len(b), self.left)
        data = self.f.read(n)
        b[:len(data)] = data
        self.left -= len(data)
        return len(data)


def _tar_members(stream: IO[bytes], wanted: set[str]) -> Iterator[tuple[str, IO[bytes]]]:
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for m in tar:
            name = m.name[2:] if m.name.startswith("./") else m.name.lstrip("/")
            if m.isfile() and name in wanted:
                fobj = tar.extractfile(m)
                if fobj is not None:
                    yield name, fobj


# ------------------------------------------------------------------------------------------------ installing
def _sha256_stream(src: IO[bytes], dest: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    tmp = dest.with_name(dest.name + ".part")
    with open(tmp, "wb") as out:
        while chunk := src.read(1 << 20):
            h.update(chunk)
            out.write(chunk)
    tmp.replace(dest)
    return h.hexdigest()


def _place(t: PackTrack, data: IO[bytes], dest_dir: Path, version: str | None, pack: Pack,
           problems: list[tuple[str, str]]) -> Path | None:
    """Write one file (or the zip member it holds) under ``dest_dir`` if its hash is the verified one."""
    dest = dest_dir / t.name
    if t.member:  # a .pk3 is a zip: spool it, then read the member
        spool = dest_dir / ".download" / Path(t.file).name
        if not spool.is_file():
            spool.parent.mkdir(parents=True, exist_ok=True)
            _sha256_stream(data, spool)
        try:
            with zipfile.ZipFile(spool) as z, z.open(t.member) as src:
                digest = _sha256_stream(src, dest)
        except KeyError:
            problems.append((t.name, f"{t.member} is not in {Path(t.file).name}"))
            return None
        except zipfile.BadZipFile:
            problems.append((t.name, f"{Path(t.file).name} is not a readable zip (.pk3)"))
            return None
    else:
        digest = _sha256_stream(data, dest)
    if digest != t.sha256:
        dest.unlink(missing_ok=True)
        problems.append((t.name, f"differs from the file verified in {pack.package} {'/'.join(pack.versions)}"
                                 f"{f' (this is {version})' if version else ''}; its licence is not assumed, "
                                 "not added"))
        return None
    return dest


def _install_member(pack: Pack, tracks: Sequence[PackTrack], dest_dir: Path, sources: Sequence[Path],
                    progress: PackProgress | None) -> tuple[list[Path], list[str], list[tuple[str, str]]]:
    """Put the pack's files in place: (installed files, packages fetched/read, problems)."""
    from library.scan import content_hash

    dest_dir.mkdir(parents=True, exist_ok=True)
    placed: list[Path] = []
    problems: list[tuple[str, str]] = []
    todo: list[PackTrack] = []
    for t in tracks:  # already in place (a repeat): no fetch
        f = dest_dir / t.name
        if f.is_file() and f.stat().st_size == t.size_bytes and content_hash(f) == t.sha256:
            placed.append(f)
        else:
            todo.append(t)
    # files found to differ at an earlier fetch are not fetched again for nothing (delete the record to retry)
    record = dest_dir / ".not-verified.json"
    try:
        known_bad: dict[str, str] = json.loads(record.read_text()) if record.is_file() else {}
    except ValueError:
        known_bad = {}
    problems += [(t.name, f"{known_bad[t.name]} (at an earlier fetch; delete {record} to try again)")
                 for t in todo if t.name in known_bad]
    todo = [t for t in todo if t.name not in known_bad]
    if not todo:
        return placed, [], problems
    fetched: list[str] = []
    version: str | None = None
    # 1. a folder holding the package's files (an extracted tree, or "/" when the package is installed)
    for src in [s for s in sources if s.is_dir()] + [Path("/")]:
        hits = [t for t in todo if (src / t.file).is_file()]
        for t in hits:
            with open(src / t.file, "rb") as fh:
                got = _place(t, fh, dest_dir, None, pack, problems)
            if got is not None:
                placed.append(got)
        if hits:
            fetched.append(f"{pack.package} from {src}")
            todo = [t for t in todo if t not in hits]
        if not todo:
            break
    # 2. a .deb given with --from, else apt-get download
    if todo:
        debs = [s for s in sources if s.is_file() and s.name.startswith(f"{pack.package}_")]
        if debs:
            deb = debs[0]
        else:
            deb = _apt_download(pack, dest_dir / ".download", progress)
        version = _deb_version(deb)
        fetched.append(f"{pack.package} {version or ''}".strip())
        if progress:
            progress("extract", 0, len(todo), deb.name)
        by_file: dict[str, list[PackTrack]] = {}
        for t in todo:
            by_file.setdefault(t.file, []).append(t)
        seen: set[str] = set()
        for name, data in deb_members(deb, set(by_file)):
            seen.add(name)
            for t in by_file[name]:
                got = _place(t, data, dest_dir, version, pack, problems)
                if got is not None:
                    placed.append(got)
        for name, ts in by_file.items():
            if name not in seen:
                problems.extend((t.name, f"{name} is not in {deb.name}") for t in ts)
    shutil.rmtree(dest_dir / ".download", ignore_errors=True)  # the package itself is not kept
    bad = {name: reason for name, reason in problems if "earlier fetch" not in reason}
    if bad:
        record.write_text(json.dumps({**known_bad, **bad}, indent=1))
    return placed, fetched, problems


def install_pack_files(name: str, *, packs_dir: Path, share_alike: bool = False, sources: Sequence[Path] = (),
                       progress: PackProgress | None = None,
                       path: Path | None = None) -> dict[str, tuple[list[Path], list[str], list[tuple[str, str]]]]:
    """Fetch and check a pack's files without touching a catalog: member pack → (files, fetched, problems)."""
    packs = load_packs(path)
    pack = _get(name, packs)
    return {m.name: _install_member(m, m.selected(share_alike=share_alike), packs_dir / m.name, sources, progress)
            for m in _members(pack, packs)}


def add_pack(catalog: Any, name: str, *, packs_dir: Path, share_alike: bool = False,
             sources: Sequence[Path] = (), jobs: int | None = None, progress: PackProgress | None = None,
             path: Path | None = None) -> PackSummary:
    """Fetch a pack, check its files against packs.json and add them to ``catalog`` with their credits.

    Parameters
    ----------
    catalog : library.catalog.Catalog
    name : str
        A pack from :func:`list_packs`.
    packs_dir : Path
        Where the music is kept (``<packs_dir>/<pack>/``), e.g. :func:`default_packs_dir`.
    share_alike : bool
        Also add the pack's share-alike (CC-BY-SA) tracks.
    sources : sequence of Path
        .deb files or folders holding the packages' files, used before apt-get.
    jobs : int, optional
        Analysis processes (as :meth:`Catalog.add_paths`).
    progress : callable, optional
        ``progress(step, done, total, name)``.
    path : Path, optional
        Another packs.json (tests).

    Raises
    ------
    PackError
        Unknown pack, no way to fetch the package, or an unreadable package; one line saying what to do.
    """
    t0 = time.perf_counter()
    packs = load_packs(path)
    pack = _get(name, packs)
    placed: list[Path] = []
    fetched: list[str] = []
    problems: list[tuple[str, str]] = []
    scans: list[dict[str, Any]] = []
    for m in _members(pack, packs):  # a bundle: each member pack in turn, tagged with its own name
        tracks = m.selected(share_alike=share_alike)
        got, f, p = _install_member(m, tracks, packs_dir / m.name, sources, progress)
        placed += got
        fetched += f
        problems += p

        def on_file(done: int, total: int, path_: str, _m: str = m.name) -> None:
            if progress:
                progress("analyse", done, total, f"{_m}/{Path(path_).name}" if path_ else _m)

        if got:
            scan = catalog.add_paths(got, jobs=jobs, progress=on_file, tags=(f"pack:{m.name}",),
                                     credits={t.sha256: t.credit_fields() for t in tracks})
            scans.append(scan.to_dict())
            problems += [(Path(p_).name, r) for p_, r in scan.skipped]
    merged: dict[str, Any] = {}
    for d in scans:
        for k in ("added", "updated", "unchanged"):
            merged[k] = merged.get(k, []) + d[k]
        merged["missing"] = d["missing"]
        merged["seconds"] = round(merged.get("seconds", 0.0) + d["seconds"], 2)
    return PackSummary(pack=pack.name, placed=tuple(str(p) for p in placed), fetched=tuple(fetched),
                       problems=tuple(problems), catalog=merged, seconds=time.perf_counter() - t0)
