"""Job directories on disk: unguessable ids, token hashes, fixed file names, atomic writes, removal.

A job lives in ``<MOODMIX_HOME>/jobs/<id>/``. Every name in it is fixed here and never derived from what the
user sent (the original filename is kept only as text, for the download name)::

    job.json      the manifest: id, token hash, options, original name (written once, by the API)
    input         the upload, byte for byte (no extension: ffmpeg probes the content)
    result.<fmt>  the rendered media   (written atomically by the worker)
    report.json   the report           (written atomically, after the result: its presence means "done")
    error.json    why the job failed   (written atomically on a permanent failure)

The manifest lets a job survive Redis losing its record: the cleanup sweep re-queues any job that has an
input and a manifest but no result, report or error (see :func:`workers.jobs.JobStore.recover`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "JobFiles",
    "atomic_write_bytes",
    "atomic_write_json",
    "download_name",
    "hash_token",
    "new_job_id",
    "new_token",
    "read_json",
    "safe_display_name",
    "token_matches",
    "valid_job_id",
]

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def new_job_id() -> str:
    """A fresh, unguessable job id (144 random bits, URL-safe)."""
    return secrets.token_urlsafe(18)


def new_token() -> str:
    """A fresh per-job access token (256 random bits); only its hash is stored."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 of the token, hex. Tokens are random and long, so a plain hash is enough (no salt needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str | None, token_hash: str | None) -> bool:
    """Constant-time check of a presented token against a stored hash."""
    if not token or not token_hash:
        return False
    return hmac.compare_digest(hash_token(token), token_hash)


def valid_job_id(job_id: str) -> bool:
    """True when ``job_id`` has the shape of an id we issue (so it is also a safe path component)."""
    return bool(_ID_RE.match(job_id))


def safe_display_name(name: str | None, *, max_len: int = 120) -> str:
    """The basename of a client-sent filename, reduced to printable text. Only ever shown or used to name
    downloads, never to name a file on disk."""
    if not name:
        return "upload"
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if ch.isprintable() and ch not in '"<>|:*?')
    base = base.strip(" .")
    return base[:max_len] or "upload"


def download_name(original_name: str, fmt: str) -> str:
    """``<original stem>.moodmix.<fmt>``, as the CLI names its output."""
    stem = safe_display_name(original_name)
    if "." in stem:
        stem = stem.rsplit(".", 1)[0] or stem
    return f"{stem}.moodmix.{fmt}"


@dataclass(frozen=True)
class JobFiles:
    """The fixed paths of one job directory."""

    root: Path

    @classmethod
    def of(cls, jobs_dir: Path, job_id: str) -> JobFiles:
        if not valid_job_id(job_id):
            raise ValueError(f"not a job id: {job_id!r}")
        return cls(jobs_dir / job_id)

    @property
    def job_id(self) -> str:
        return self.root.name

    @property
    def manifest(self) -> Path:
        return self.root / "job.json"

    @property
    def input(self) -> Path:
        return self.root / "input"

    @property
    def upload_partial(self) -> Path:
        return self.root / "input.partial"

    @property
    def report(self) -> Path:
        return self.root / "report.json"

    @property
    def error(self) -> Path:
        return self.root / "error.json"

    def result(self, fmt: str) -> Path:
        return self.root / f"result.{fmt}"

    def work_path(self, fmt: str) -> Path:
        """Where the renderer writes before the atomic rename to :meth:`result` (same directory, same
        extension, so the format is still inferred from it)."""
        return self.root / f"result.partial.{fmt}"

    def exists(self) -> bool:
        return self.root.is_dir()

    def finished(self) -> bool:
        """The worker has written its final word (report or error)."""
        return self.report.exists() or self.error.exists()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8"))


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
