"""The HTTP API (FastAPI): upload a voice track or video, follow its job, download the mix.

Contract (DESIGN.md, "Service"):

- ``POST /jobs`` multipart: ``file`` + optional ``preset``, ``mood``, ``target_lufs``, ``format``,
  ``follow_mood`` → ``201 {"id", "token"}``.
- ``GET /jobs/{id}``, ``GET /jobs/{id}/result``, ``GET /jobs/{id}/report``, ``DELETE /jobs/{id}`` (204):
  the job's token as ``Authorization: Bearer <token>`` or ``?token=``; a wrong or missing token answers 404,
  exactly like a job that does not exist.
- ``GET /library``, ``GET /health``; the web page at ``/``; OpenAPI docs at ``/docs``.

Uploads are parsed as they stream in and written straight into the job directory under a fixed name; the size
limit is checked on every chunk, for the file and for the whole body (413 as soon as it is passed, the partial
file removed). The media type, duration, sample rate, channels and the work and disk the job would need are then
checked by decoding the content (:mod:`workers.probe`, :mod:`mixer.limits`), never by the name or content type;
every form field is validated (422), unknown or repeated fields too. Jobs are queued by task name, so this
process imports neither numpy nor torch nor the pipeline.

Holding under abuse: a body that stalls or trickles is cut off (408); uploads in progress are capped overall and
per client (429); ``/library`` is cached, computed by one child process at a time and rate-limited per client;
Redis down answers 503 JSON on every route; storage below one job's worth of free disk is unhealthy (and
uploads answer 507). Tokens never reach a log: ``token=`` and ``sig=`` are redacted from the access log, and the
page plays and downloads through short-lived signed links (``result_url``, ``download_url`` in the status).
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import hmac
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from python_multipart.multipart import MultipartParser, parse_options_header
from redis.exceptions import RedisError
from starlette.requests import ClientDisconnect

from core.errors import InvalidOptionError
from mixer.limits import decoded_bytes
from moodmix.settings import (
    CHOICES,
    DEFAULT_PRESET,
    DEFAULT_TARGET_LUFS,
    RANGES,
    check_option,
    option_catalogue,
)
from workers.config import AUDIO_FORMATS, OUTPUT_FORMATS, VIDEO_FORMATS, Settings, get_settings
from workers.jobs import JobStore
from workers.probe import UploadRejected, probe_upload
from workers.ratelimit import RateLimit
from workers.remix import (
    MAX_REMIXES,
    MUSIC_DB_RANGE,
    RemixRejected,
    latest_done,
    queue_remix,
    ranked_tracks,
    report_path,
    result_path,
    version_download_name,
    version_format,
    versions,
)
from workers.storage import (
    JobFiles,
    hash_token,
    new_job_id,
    new_token,
    read_json,
    safe_display_name,
)

__all__ = ["app", "create_app"]

app: FastAPI  # built on first access, from the environment (see __getattr__ at the end)

log = logging.getLogger("moodmix.api")
WEB_DIR = Path(__file__).parent / "web"
_MOOD_RE = re.compile(r"^[a-z][a-z_-]{0,31}$")
#: Room for the multipart framing and the small form fields on top of the file itself.
_FORM_OVERHEAD_BYTES = 64 * 1024
_FIELD_MAX_BYTES = 256
#: The largest JSON body a JSON call (POST /jobs/{id}/remix) takes.
_JSON_MAX_BYTES = 4096
#: The form fields POST /jobs takes; any other name is refused (422), as is a field sent twice.
FORM_FIELDS = ("file", "preset", "mood", "target_lufs", "format", "follow_mood", "analyse_emotion", "separate",
               "keep_ambience_db", "music", "track")
#: Signed result links (the page's player and download) are valid this long.
LINK_TTL_S = 600
_REDIS_DOWN = "the job store (Redis) does not answer; try again in a minute"
_MEDIA_TYPES = {
    "wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg", "m4a": "audio/mp4", "aac": "audio/aac",
    "ogg": "audio/ogg", "opus": "audio/ogg", "mp4": "video/mp4", "m4v": "video/mp4", "mov": "video/quicktime",
    "mkv": "video/x-matroska", "webm": "video/webm",
}


# ---- response models (for the OpenAPI docs) ----------------------------------------------------------------
class JobCreated(BaseModel):
    id: str = Field(description="The job id (unguessable).")
    token: str = Field(description="The job's access token: send it as `Authorization: Bearer <token>`.")
    state: str = "queued"
    duration_s: float = Field(description="Duration of the upload's audio, in seconds.")
    has_video: bool
    format: str = Field(description="Extension of the result that will be rendered.")


class JobStatus(BaseModel):
    id: str
    state: str = Field(description="queued | running | done | failed")
    stage: str = Field(description="queued, decode, vad, separate, emotion, select, fit, mix, render, done, failed")
    progress: float = Field(ge=0.0, le=1.0)
    error: str | None = None
    report: dict[str, Any] | None = Field(None, description="The job report (DESIGN.md) once done.")
    download_name: str | None = None
    format: str | None = None
    has_video: bool | None = None
    created_at: float | None = None
    finished_at: float | None = None
    result_url: str | None = Field(None, description="Signed link to play the result (valid 10 minutes)")
    download_url: str | None = Field(None, description="Signed link to download the result (valid 10 minutes)")
    version: int | None = Field(None, description="The newest version of the result that is done (1: the first "
                                                  "mix; each re-mix adds one); result_url/download_url serve it")
    versions: list[dict[str, Any]] = Field(default_factory=list, description=(
        "Every version: {version, state, stage, track, title, music_db, format, error}"))
    remixes_left: int | None = Field(None, description=f"Re-mixes this job may still ask for (of {MAX_REMIXES})")


class RemixRequest(BaseModel):
    model_config = {"extra": "forbid"}
    track: str | None = Field(None, min_length=1, max_length=200,
                              description="A catalog id, from GET /jobs/{id}/alternatives or GET /library, or "
                                          "own-music (the job's uploaded music); default: the track in use")
    music_db: float = Field(0.0, ge=MUSIC_DB_RANGE[0], le=MUSIC_DB_RANGE[1],
                            description="The music relative to the preset's level, dB (-6: 6 dB softer)")
    preset: str | None = Field(None, pattern="^(podcast|vlog|clear)$")
    target_lufs: float | None = Field(None, ge=-40.0, le=-5.0)
    format: str | None = Field(None, description=f"one of {', '.join(OUTPUT_FORMATS)}; default the job's")


class RemixQueued(BaseModel):
    id: str
    version: int = Field(description="The new version's number; follow it in GET /jobs/{id} (versions)")
    state: str = "queued"
    remixes_left: int


class Alternative(BaseModel):
    rank: int = Field(description="1: the first mix's pick")
    track: str
    title: str | None = None
    reasons: list[str] = Field(default_factory=list)
    credit: str | None = None
    licence: str | None = None
    in_use: bool = Field(description="The track of the newest done version")
    preview_url: str = Field(description="Signed link to a few seconds of the track (valid 10 minutes)")


class Problem(BaseModel):
    detail: str


_ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such job (or wrong token)"}}

_UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "Voice track or video"},
                        "preset": {"type": "string", "enum": list(CHOICES["preset"]), "default": DEFAULT_PRESET},
                        "mood": {"type": "string", "description": "Override the detected mood (e.g. joy)"},
                        "target_lufs": {"type": "number", "default": DEFAULT_TARGET_LUFS, "minimum": RANGES["target_lufs"][0],
                                        "maximum": RANGES["target_lufs"][1]},
                        "format": {"type": "string", "enum": list(OUTPUT_FORMATS),
                                   "description": "Output extension; default mp4 for video, the input's for audio"},
                        "follow_mood": {"type": "boolean", "default": False},
                        "analyse_emotion": {"type": "boolean", "default": True,
                                            "description": "false: skip the emotion pass (faster; with mood)"},
                        "separate": {"type": "boolean", "default": False,
                                     "description": "isolate the voice from music/noise already under it first"},
                        "keep_ambience_db": {"type": "number", "minimum": 0, "maximum": 60,
                                             "description": "with separate: keep the old background this many "
                                                            "dB down (default: drop it)"},
                        "music": {"type": "string", "format": "binary",
                                  "description": "Your own music for the bed (checked like the voice; the voice "
                                                 "and the music share the upload limit)"},
                        "track": {"type": "string", "description": "A catalog track id (GET /library) for the bed"},
                    },
                }
            }
        },
    }
}


# ---- helpers -----------------------------------------------------------------------------------------------
class _Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _parse_bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise _Rejected(422, f"{name} must be true or false, got {value[:20]!r}")


def _checked(fields: dict[str, str], field: str, option: str | None = None) -> Any:
    """An optional form field checked by the job options' one rule (:func:`moodmix.settings.check_option`); None
    when absent, 422 with its message when bad."""
    raw = fields.get(field, "").strip()
    if not raw:
        return None
    try:
        return check_option(option or field, raw, label=field)
    except InvalidOptionError as exc:
        raise _Rejected(422, str(exc)) from None


def _options(fields: dict[str, str]) -> dict[str, Any]:
    """Validate the form's option fields; 422 with a clear message for any bad value."""
    opts: dict[str, Any] = {}
    for field, option in (("preset", None), ("target_lufs", None), ("format", "output_format"),
                          ("keep_ambience_db", None)):
        value = _checked(fields, field, option)
        if value is not None:
            opts[field] = value
    mood = fields.get("mood", "").strip().lower()
    if mood:
        if not _MOOD_RE.match(mood):
            raise _Rejected(422, f"mood must be a mood name such as joy or sadness, got {mood[:20]!r}")
        opts["mood"] = mood
    for flag in ("follow_mood", "analyse_emotion", "separate"):
        if flag in fields:
            opts[flag] = _parse_bool(flag, fields[flag])
    return opts


def _result_format(requested: str | None, *, has_video: bool, original_name: str) -> str:
    if requested:
        if requested in VIDEO_FORMATS and not has_video:
            raise _Rejected(
                422, f"format {requested} is a video container but the upload has no video; "
                f"use one of {', '.join(AUDIO_FORMATS)}",
            )
        return requested
    if has_video:
        return "mp4"
    ext = original_name.rsplit(".", 1)[-1].lower() if "." in original_name else ""
    return ext if ext in AUDIO_FORMATS else "m4a"  # the name only picks from a fixed list


class _UploadSink:
    """multipart callbacks: the ``file`` part streams into the job directory, small fields into memory."""

    def __init__(self, target: Path, max_bytes: int, music_target: Path | None = None) -> None:
        self.target, self.max_bytes, self.music_target = target, max_bytes, music_target
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_bytes = 0  # the voice and the music together (they share the limit)
        self.music_bytes = 0
        self.got_music = False
        self._is_music = False
        self.too_large = False
        self.error: str | None = None
        self._fh: Any = None
        self._headers: dict[str, bytes] = {}
        self._hname = b""
        self._hvalue = b""
        self._name: str | None = None
        self._is_file = False
        self._buf = bytearray()
        self.got_file = False

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._hfield(d[s:e]),
            "on_header_value": lambda d, s, e: self._hval(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": lambda d, s, e: self._data(d[s:e]),
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers, self._hname, self._hvalue, self._name, self._is_file = {}, b"", b"", None, False
        self._is_music = False
        self._buf = bytearray()

    def _hfield(self, b: bytes) -> None:
        self._hname += b

    def _hval(self, b: bytes) -> None:
        self._hvalue += b

    def _header_end(self) -> None:
        self._headers[self._hname.decode("latin-1").lower()] = self._hvalue
        self._hname, self._hvalue = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        self._name = name
        if self.error:  # the first problem is the one reported
            return
        if name not in FORM_FIELDS:
            self.error = (f"unknown form field {name[:40]!r}; the form takes {', '.join(FORM_FIELDS)}")
            return
        if name in self.fields or (name == "file" and self.got_file) or (name == "music" and self.got_music):
            self.error = f"form field {name!r} is sent twice; send each field once"
            return
        if name == "music" and self.music_target is not None:
            self._is_file = self._is_music = self.got_music = True
            self._fh = open(self.music_target, "wb")  # noqa: SIM115 - closed in _part_end or close()
            return
        if name == "file":
            if self.got_file:
                self.error = "send exactly one file field"
                return
            self._is_file = True
            self.got_file = True
            raw = params.get(b"filename", b"")
            self.filename = raw.decode("utf-8", "replace") if raw else None
            # fixed name; the client's filename is never a path. Closed in _part_end or close().
            self._fh = open(self.target, "wb")  # noqa: SIM115

    def _data(self, b: bytes) -> None:
        if self.too_large or self.error:
            return
        if self._is_file:
            self.file_bytes += len(b)
            if self._is_music:
                self.music_bytes += len(b)
            if self.file_bytes > self.max_bytes:
                self.too_large = True
                return
            self._fh.write(b)
        else:
            self._buf += b
            if len(self._buf) > _FIELD_MAX_BYTES:
                self.error = f"form field {self._name!r} is longer than {_FIELD_MAX_BYTES} bytes"

    def _part_end(self) -> None:
        if self._is_file and self._fh is not None:
            self._fh.close()
            self._fh = None
        elif self._name and not self.error:
            self.fields[self._name] = self._buf.decode("utf-8", "replace")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# ---- logs: no tokens, resource errors once ------------------------------------------------------------------
class RedactTokens(logging.Filter):
    """Replace the value of ``token=`` and ``sig=`` query parameters in a record (uvicorn's access log puts the
    path with its query string in ``args``) with ``***``."""

    _RE = re.compile(r"(?i)(?<=[?&;])(token|sig)=[^&\s\"']*")

    def _clean(self, v: Any) -> Any:
        return self._RE.sub(r"\1=***", v) if isinstance(v, str) else v

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: self._clean(v) for k, v in record.args.items()}
        record.msg = self._clean(record.msg)
        return True


class OncePerInterval(logging.Filter):
    """Let one record about a resource error (too many open files, out of memory or space) through per
    ``interval_s`` and kind; the next one says how many were held back."""

    _KINDS = {"Too many open files": "EMFILE", "No space left on device": "ENOSPC",
              "Cannot allocate memory": "ENOMEM", "out of system resource": "EMFILE"}

    def __init__(self, interval_s: float = 60.0) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {record.exc_info[1]}"
        kind = next((k for needle, k in self._KINDS.items() if needle in text), None)
        if kind is None:
            return True
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(kind, -1e9) < self.interval_s:
                self._held[kind] += 1
                return False
            self._last[kind] = now
            held, self._held[kind] = self._held[kind], 0
        if held:
            record.msg = f"{record.msg} ({held} more like it in the last {self.interval_s:.0f} s not logged)"
        record.exc_info = None  # one line, not a traceback per request
        record.exc_text = None
        return True


_LOG_FILTERS_INSTALLED: list[bool] = []


def install_log_filters() -> None:
    """Attach the filters to uvicorn's and asyncio's loggers (once per process)."""
    if _LOG_FILTERS_INSTALLED:
        return
    _LOG_FILTERS_INSTALLED.append(True)
    redact, once = RedactTokens(), OncePerInterval()
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn", "asyncio", "moodmix.api"):
        logger = logging.getLogger(name)
        logger.addFilter(redact)
        logger.addFilter(once)
    for handler in logging.getLogger().handlers:  # records that propagate to the root's handlers
        handler.addFilter(redact)


# ---- signed links, rate limits, the catalog --------------------------------------------------------------
def link_signature(token_hash: str, job_id: str, exp: int, download: bool, version: int = 1) -> str:
    """HMAC of (job, expiry, disposition, version) keyed by the job's token hash: a link for one file, for a
    while."""
    msg = f"{job_id}:{exp}:{int(download)}".encode() + (f":v{version}".encode() if version != 1 else b"")
    return hmac.new(f"link:{token_hash}".encode(), msg, hashlib.sha256).hexdigest()[:40]


class _CatalogCache:
    """The catalog's tracks and mood words, cached ``ttl_s``; one caller at a time computes them, concurrent
    callers wait for that one answer.

    Tracks are read in this process (SQLAlchemy; no numpy). The mood words that are not tags (the six labels
    and the mood words of :mod:`models.track_emotion`, which imports numpy) come from one child process
    (:mod:`workers.catalog_view`), which also builds the built-in catalog when there is none yet."""

    def __init__(self, home: Path, ttl_s: float = 60.0) -> None:
        self.home, self.ttl_s = home, ttl_s
        self._value: dict[str, Any] | None = None
        self._words: set[str] | None = None
        self._catalog: Any = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self) -> dict[str, Any]:
        if self._value is not None and time.monotonic() - self._at < self.ttl_s:
            return self._value
        with self._lock:
            if self._value is not None and time.monotonic() - self._at < self.ttl_s:
                return self._value
            self._value = self._compute()
            self._at = time.monotonic()
            return self._value

    def _compute(self) -> dict[str, Any]:
        tracks = self._tracks_here()
        if not tracks or self._words is None:  # no catalog yet (the child builds it), or the first call
            view = _catalog_view(self.home)
            self._words = set(view.get("moods") or []) - {t for tr in tracks for t in tr.get("tags", [])}
            if not tracks:
                return view
        tags = {str(t).strip().lower() for tr in tracks for t in tr.get("tags") or [] if str(t).strip()}
        return {"tracks": tracks, "moods": sorted((self._words or set()) | tags)}

    def _tracks_here(self) -> list[dict[str, Any]]:
        try:
            if self._catalog is None:
                from library.catalog import open_catalog

                self._catalog = open_catalog(os.environ.get("MOODMIX_DATABASE_URL") or None, home=self.home)
            return [{**t.to_dict(), "derived_from": t.derived_from} for t in self._catalog.tracks()]
        except Exception as exc:  # noqa: BLE001 - the child process says what is wrong
            log.warning("catalog not readable in process: %s", exc)
            self._catalog = None
            return []

    def cached(self) -> dict[str, Any] | None:
        return self._value


class _SmallJsonBodies:
    """Pure ASGI: a re-mix carries a few fields of JSON; a body over ``_JSON_MAX_BYTES``, or one of unknown
    length, is refused before it is read (413 / 411), so no client can make the API buffer a large JSON body.
    Every other request passes through untouched (the uploads stream as before)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].endswith("/remix"):
            headers = dict(scope.get("headers") or [])
            declared = headers.get(b"content-length", b"").decode("latin-1")
            problem = None
            if not declared.isdigit():
                problem = (411, "send the re-mix as a JSON body with a Content-Length")
            elif int(declared) > _JSON_MAX_BYTES:
                problem = (413, f"a re-mix request is a few fields of JSON, at most {_JSON_MAX_BYTES // 1024} KB")
            if problem is not None:
                await JSONResponse({"detail": problem[1]}, status_code=problem[0])(scope, receive, send)
                return
        await self.app(scope, receive, send)


# ---- the app -----------------------------------------------------------------------------------------------
def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for ``settings`` (default: from the environment)."""
    settings = settings or get_settings()
    install_log_filters()
    store = JobStore(settings)
    catalog = _CatalogCache(settings.home)
    library_limit = RateLimit(settings.library_requests_per_min, 60.0)
    uploads: dict[str, int] = defaultdict(int)  # uploads in progress per client (the event loop is one thread)
    limits = settings.input_limits()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        settings.jobs_dir.mkdir(parents=True, exist_ok=True)
        try:  # re-queue jobs that Redis lost while we were down; expire old ones
            await run_in_threadpool(store.sweep)
        except Exception as exc:  # noqa: BLE001 - Redis may be down at start; /health says so
            log.warning("startup sweep failed: %s", exc)

        def warm() -> None:  # the mood words the upload checks, before the first upload needs them
            try:
                catalog.get()
            except Exception as exc:  # noqa: BLE001 - /library says so when asked
                log.warning("catalog not listed at start: %s", getattr(exc, "detail", exc))

        threading.Thread(target=warm, name="catalog-warm", daemon=True).start()
        yield

    api = FastAPI(
        title="moodmix",
        version="0.1.0",
        summary="Background music under a voice: upload, follow the job, download the mix.",
        description=(
            "Upload a voice track or a video; a worker hears its emotion, picks an instrumental track, ducks it "
            "under the voice, levels and renders. Every job call needs the token returned by `POST /jobs`, as "
            "`Authorization: Bearer <token>` or `?token=`; a wrong or missing token answers 404. A done job's "
            "status carries short-lived signed links to its result (`result_url`, `download_url`)."
        ),
        lifespan=lifespan,
    )
    api.add_middleware(_SmallJsonBodies)
    api.state.settings = settings
    api.state.store = store
    bearer = HTTPBearer(auto_error=False, description="The job token from POST /jobs")
    query_token = APIKeyQuery(name="token", auto_error=False, description="The job token (for links)")

    @api.exception_handler(RedisError)
    async def redis_down(_: Request, exc: RedisError) -> JSONResponse:
        log.error("Redis error: %s", exc)
        return JSONResponse({"detail": _REDIS_DOWN}, status_code=503, headers={"Retry-After": "30"})

    @api.exception_handler(OSError)
    async def os_error(_: Request, exc: OSError) -> JSONResponse:
        log.error("I/O error: %s", exc)  # server paths stay in the log
        if exc.errno == errno.ENOSPC:
            return JSONResponse({"detail": "the server is out of space; try again later"}, status_code=507)
        if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOMEM):
            return JSONResponse({"detail": "the server is busy; try again in a minute"}, status_code=503,
                                headers={"Retry-After": "30"})
        return JSONResponse({"detail": "the server could not read or write its storage; try again later"},
                            status_code=503)

    def token_of(
        cred: HTTPAuthorizationCredentials | None = Depends(bearer),
        qtoken: str | None = Depends(query_token),
    ) -> str | None:
        return cred.credentials if cred is not None else qtoken

    def job_or_404(job_id: str, token: str | None) -> dict[str, Any]:
        rec = store.authorize(job_id, token)
        if rec is None:
            raise HTTPException(404, "no such job (or wrong token)")
        return rec

    def maybe_sweep() -> None:
        try:
            store.sweep()
        except Exception as exc:  # noqa: BLE001 - cleanup must never break a request
            log.warning("sweep failed: %s", exc)

    def client_key(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def free_bytes() -> int:
        try:
            return int(shutil.disk_usage(settings.jobs_dir).free)
        except OSError:
            return 0

    # -- upload ------------------------------------------------------------------------------------------
    @api.post(
        "/jobs",
        status_code=201,
        response_model=JobCreated,
        openapi_extra=_UPLOAD_SCHEMA,
        responses={
            408: {"model": Problem, "description": "The body stalled or arrived too slowly"},
            413: {"model": Problem, "description": "Upload (or the whole body) larger than the limit"},
            415: {"model": Problem, "description": "Not audio or video (checked by decoding the content)"},
            422: {"model": Problem, "description": "Bad or unknown field, truncated media, or over a limit "
                                                   "(duration, sample rate, channels, work, disk)"},
            429: {"model": Problem, "description": "Too many uploads in progress (overall or from this client)"},
            503: {"model": Problem, "description": "The queue (Redis) does not answer"},
            507: {"model": Problem, "description": "The server is out of space"},
        },
        summary="Upload a voice track or video and queue its mix",
    )
    async def create_job(request: Request) -> JSONResponse:
        client = client_key(request)
        if sum(uploads.values()) >= settings.max_concurrent_uploads:
            return JSONResponse({"detail": f"the server takes {settings.max_concurrent_uploads} uploads at once "
                                           "and is at that limit; try again in a minute"},
                                status_code=429, headers={"Retry-After": "30"})
        if uploads[client] >= settings.max_uploads_per_client:
            return JSONResponse({"detail": f"{settings.max_uploads_per_client} uploads from your address are "
                                           "already in progress; wait until one is done"},
                                status_code=429, headers={"Retry-After": "30"})
        uploads[client] += 1
        try:
            return await _create_job(request)
        finally:
            uploads[client] -= 1
            if uploads[client] <= 0:
                del uploads[client]

    async def _read_body(request: Request, parser: MultipartParser, sink: _UploadSink) -> None:
        """Feed the body to the parser: 413 past the whole-body bound, 408 when it stalls or trickles."""
        limit = settings.max_upload_bytes
        body_limit = limit + _FORM_OVERHEAD_BYTES
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        received = 0
        chunks = request.stream().__aiter__()
        while True:
            try:
                chunk = await asyncio.wait_for(chunks.__anext__(), timeout=settings.upload_idle_timeout_s)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise _Rejected(408, f"the upload sent nothing for {settings.upload_idle_timeout_s:.0f} s; "
                                "send it again on a steadier connection") from None
            received += len(chunk)
            elapsed = loop.time() - t0
            if elapsed > settings.upload_grace_s and received < (elapsed - settings.upload_grace_s) * \
                    settings.upload_min_bytes_per_s:
                raise _Rejected(408, f"the upload is too slow ({received / elapsed / 1024:.1f} KB/s after "
                                f"{elapsed:.0f} s; at least {settings.upload_min_bytes_per_s / 1024:.0f} KB/s "
                                "is needed); send it again on a faster connection")
            parser.write(chunk)
            if sink.too_large:
                raise _Rejected(413, _too_large(sink.file_bytes, limit, at_least=True))
            if sink.error:
                raise _Rejected(422, sink.error)
            if received > body_limit:
                raise _Rejected(413, f"the request body is more than {body_limit / 1e6:.1f} MB (the file limit "
                                f"{limit / 1e6:.1f} MB plus {_FORM_OVERHEAD_BYTES // 1024} KB for the form); "
                                "send only the file and the options")
            if received - sink.file_bytes > _FORM_OVERHEAD_BYTES:  # fields, framing, a tail after the form
                raise _Rejected(413, f"the request body holds more than {_FORM_OVERHEAD_BYTES // 1024} KB besides "
                                "the file (form fields, or data after the form's end); send only the file and "
                                "the options")
        parser.finalize()

    async def _check_mood(opts: dict[str, Any]) -> None:
        mood = opts.get("mood")
        if not mood:
            return
        try:
            known = set((await run_in_threadpool(catalog.get)).get("moods") or [])
        except HTTPException:
            log.warning("mood %r not checked: the catalog could not be listed", mood)
            return
        if known and mood not in known:
            raise _Rejected(422, f"unknown mood {mood!r}; use one of {', '.join(sorted(known))}")

    async def _create_job(request: Request) -> JSONResponse:
        limit = settings.max_upload_bytes
        ctype, params = parse_options_header(request.headers.get("content-type", ""))
        if ctype != b"multipart/form-data" or not params.get(b"boundary"):
            raise HTTPException(415, "send the upload as multipart/form-data with the media in a 'file' field")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit + _FORM_OVERHEAD_BYTES:
            raise HTTPException(413, _too_large(int(declared), limit))
        if free_bytes() < settings.free_bytes_needed:
            log.error("uploads refused: %d bytes free under %s, %d needed", free_bytes(), settings.jobs_dir,
                      settings.free_bytes_needed)
            return JSONResponse({"detail": "the server is out of space; try again later"}, status_code=507)
        job_id = new_job_id()
        files = JobFiles.of(settings.jobs_dir, job_id)
        files.root.mkdir(parents=True, exist_ok=False)
        sink = _UploadSink(files.upload_partial, limit, music_target=files.root / "music.partial")
        parser = MultipartParser(params[b"boundary"], cast(Any, sink.callbacks()))
        ok = False
        try:
            try:
                await _read_body(request, parser, sink)
            except ClientDisconnect:
                raise _Rejected(400, "the upload was interrupted; send it again") from None
            except _Rejected:
                raise
            except Exception as exc:  # noqa: BLE001 - malformed multipart
                raise _Rejected(400, f"the multipart body could not be parsed ({exc}); send a normal form upload")
            finally:
                sink.close()
            if not sink.got_file:
                raise _Rejected(422, "no 'file' field in the form; attach the voice track or video as 'file'")
            if sink.file_bytes - sink.music_bytes == 0:
                raise _Rejected(422, "the uploaded file is empty (0 bytes)")
            opts = _options(sink.fields)
            await _check_mood(opts)
            track = sink.fields.get("track", "").strip()
            if track and sink.got_music:
                raise _Rejected(422, "send either your own music (music) or a catalog track (track), not both")
            if track:
                if await run_in_threadpool(catalog_track, track) is None:
                    raise _Rejected(422, f"no track {track[:40]!r} in the music catalog; use an id from GET /library")
                opts["track"] = track
            music_need = 0
            if sink.got_music:
                if sink.music_bytes == 0:
                    raise _Rejected(422, "the music file is empty (0 bytes)")
                try:
                    minfo = await run_in_threadpool(
                        probe_upload, files.root / "music.partial", max_duration_s=settings.max_duration_s,
                        limits=limits,
                    )
                except UploadRejected as exc:
                    raise _Rejected(exc.status, "music: " + exc.message.replace("the upload", "the music")) from None
                music_need = 2 * decoded_bytes(minfo.duration_s)  # the decoded music, and a margin
                (files.root / "music.partial").replace(files.root / "music")
                opts["music_file"] = True
            original = safe_display_name(sink.filename)
            try:
                info = await run_in_threadpool(
                    probe_upload, files.upload_partial, max_duration_s=settings.max_duration_s, limits=limits,
                )
            except UploadRejected as exc:
                raise _Rejected(exc.status, exc.message) from None
            need = sink.file_bytes + 2 * decoded_bytes(info.duration_s) + music_need  # upload + voice + result
            if need > settings.max_job_bytes:
                raise _Rejected(422, f"the job would need about {need / 1e9:.2f} GB of disk (upload, decoded "
                                f"voice and result), over the {settings.max_job_bytes / 1e9:.2f} GB limit of "
                                "one job; send a shorter file")
            if free_bytes() - need < settings.free_bytes_needed // 2:
                log.error("upload refused: %d bytes free, the job needs %d", free_bytes(), need)
                raise _Rejected(507, "the server is out of space; try again later")
            fmt = _result_format(opts.pop("format", None), has_video=info.has_video, original_name=original)
            files.upload_partial.replace(files.input)
            token = new_token()
            manifest = {
                "id": job_id,
                "token_hash": hash_token(token),
                "created_at": time.time(),
                "original_name": original,
                "format": fmt,
                "has_video": info.has_video,
                "duration_s": round(info.duration_s, 3),
                "sample_rate": info.sample_rate,
                "channels": info.channels,
                "bytes": sink.file_bytes,
                "options": opts,
            }
            try:
                await run_in_threadpool(store.create, job_id, manifest)
                await run_in_threadpool(store.enqueue, job_id)
            except Exception as exc:  # noqa: BLE001 - Redis down or unreachable
                log.error("queueing job %s failed: %s", job_id, exc)
                try:
                    store.redis.delete(store.key(job_id))
                except Exception as cleanup_exc:  # noqa: BLE001 - Redis is down: nothing to undo there
                    log.debug("could not remove the record of %s: %s", job_id, cleanup_exc)
                raise _Rejected(503, "the job queue (Redis) does not answer; try again in a minute") from None
            ok = True
        except _Rejected as exc:
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        finally:
            if not ok:
                files.remove()
        await run_in_threadpool(maybe_sweep)
        body = JobCreated(id=job_id, token=token, duration_s=manifest["duration_s"],  # type: ignore[arg-type]
                          has_video=info.has_video, format=fmt)
        return JSONResponse(body.model_dump(), status_code=201, headers={"Location": f"/jobs/{job_id}"})

    # -- job -----------------------------------------------------------------------------------------------
    def signed_url(job_id: str, rec: dict[str, Any], download: bool, version: int = 1) -> str:
        exp = int(time.time()) + LINK_TTL_S
        sig = link_signature(str(rec.get("token_hash") or ""), job_id, exp, download, version)
        v = f"&version={version}" if version != 1 else ""
        return f"/jobs/{job_id}/result?download={str(download).lower()}{v}&exp={exp}&sig={sig}"

    @api.get("/jobs/{job_id}", response_model=JobStatus, responses=_ERRORS, summary="State, stage and progress")
    def get_job(job_id: str, token: str | None = Depends(token_of)) -> JobStatus:
        rec = job_or_404(job_id, token)
        if store.is_lost(rec):  # its worker died: run it again now (idempotent), the owner sees "queued"
            if store.requeue_lost(job_id) == "requeued":
                rec = job_or_404(job_id, token)
        files = store.files(job_id)
        manifest = read_json(files.manifest) or {}
        done = rec["state"] == "done"
        vers = versions(store, job_id, rec)
        latest = latest_done(vers) if done else None
        fmt = manifest.get("format")
        if latest is not None:
            fmt = next(v["format"] for v in vers if v["version"] == latest) or fmt
        report = read_json(report_path(files, latest)) if latest is not None else None
        return JobStatus(
            id=job_id,
            state=rec["state"],
            stage=rec.get("stage") or rec["state"],
            progress=min(1.0, max(0.0, rec["progress"])),
            error=rec["error"],
            report=report,
            download_name=version_download_name(manifest, latest or 1, fmt) if fmt else None,
            format=fmt,
            has_video=manifest.get("has_video"),
            created_at=float(rec["created_at"]) if rec.get("created_at") else None,
            finished_at=float(rec["finished_at"]) if rec.get("finished_at") else None,
            result_url=signed_url(job_id, rec, False, latest) if latest else None,
            download_url=signed_url(job_id, rec, True, latest) if latest else None,
            version=latest,
            versions=vers,
            remixes_left=max(0, MAX_REMIXES - int(rec.get("remixes") or 0)),
        )

    def _done_files(rec: dict[str, Any], job_id: str) -> tuple[JobFiles, dict[str, Any]]:
        files = store.files(job_id)
        manifest = read_json(files.manifest)
        if rec["state"] != "done" or not isinstance(manifest, dict):
            detail = f"the job is {rec['state']}" + (f": {rec['error']}" if rec.get("error") else "")
            raise HTTPException(409, detail + "; wait until GET /jobs/{id} says done")
        return files, manifest

    def _version_of(job_id: str, rec: dict[str, Any], version: int | None) -> int:
        """The asked version when it is done (404 unknown, 409 not done yet), else the newest done one."""
        vers = versions(store, job_id, rec)
        if version is None:
            return latest_done(vers) or 1
        entry = next((v for v in vers if v["version"] == version), None)
        if entry is None:
            raise HTTPException(404, f"the job has no version {version}; it has 1 to {len(vers)}")
        if entry["state"] != "done":
            detail = f"version {version} is {entry['state']}" + (f": {entry['error']}" if entry.get("error") else "")
            raise HTTPException(409, detail + "; wait until GET /jobs/{id} lists it as done")
        return version

    @api.get(
        "/jobs/{job_id}/result",
        responses={**_ERRORS, 200: {"description": "The mixed media", "content": {"audio/*": {}, "video/*": {}}},
                   409: {"model": Problem, "description": "Not done yet, or failed"}},
        summary="Download the mixed audio or video (the token, or a signed link from the status); "
                "?version=N an earlier version (default the newest done)",
        response_class=FileResponse,
    )
    def get_result(job_id: str, download: bool = True, version: int | None = Query(None, ge=1, le=1 + MAX_REMIXES),
                   exp: int | None = None, sig: str | None = None,
                   token: str | None = Depends(token_of)) -> FileResponse:
        if token is None and sig is not None and exp is not None:
            rec = store.get(job_id)
            if (rec is None or exp < time.time() or exp > time.time() + LINK_TTL_S + 60 or not hmac.compare_digest(
                    sig, link_signature(str(rec.get("token_hash") or ""), job_id, exp, download, version or 1))):
                raise HTTPException(404, "no such job, or the link has expired; get a new one from the job")
        else:
            rec = job_or_404(job_id, token)
        files, manifest = _done_files(rec, job_id)
        n = _version_of(job_id, rec, version)
        fmt = version_format(files, n, manifest)
        path = result_path(files, n, fmt)
        if not path.exists():
            raise HTTPException(404, "the result has expired or was removed")
        return FileResponse(
            path, media_type=_MEDIA_TYPES.get(fmt, "application/octet-stream"),
            filename=version_download_name(manifest, n, fmt),
            content_disposition_type="attachment" if download else "inline",
            headers={"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"},
        )

    @api.get("/jobs/{job_id}/report", responses={**_ERRORS, 409: {"model": Problem}},
             summary="The job report (?version=N: that version's; default the newest done)")
    def get_report(job_id: str, version: int | None = Query(None, ge=1, le=1 + MAX_REMIXES),
                   token: str | None = Depends(token_of)) -> JSONResponse:
        rec = job_or_404(job_id, token)
        files, _ = _done_files(rec, job_id)
        report = read_json(report_path(files, _version_of(job_id, rec, version)))
        if report is None:
            raise HTTPException(404, "the report has expired or was removed")
        return JSONResponse(report)

    # -- re-mix, alternatives, previews ----------------------------------------------------------------------
    def catalog_track(track_id: str) -> dict[str, Any] | None:
        try:
            tracks = catalog.get().get("tracks") or []
        except HTTPException:
            raise HTTPException(503, "the music catalog could not be listed; try again in a minute") from None
        return next((t for t in tracks if t.get("id") == track_id), None)

    @api.post(
        "/jobs/{job_id}/remix", status_code=202, response_model=RemixQueued,
        responses={**_ERRORS, 409: {"model": Problem, "description": "Not done yet, or no re-mixes left"},
                   422: {"model": Problem, "description": "Unknown track, or a value out of range"},
                   503: {"model": Problem, "description": "The queue (Redis) does not answer"}},
        summary="Mix again with another track or music level, without hearing the voice again (a new version)",
    )
    def remix(job_id: str, body: RemixRequest, token: str | None = Depends(token_of)) -> JSONResponse:
        job_or_404(job_id, token)

        def title(track_id: str) -> str | None:
            t = catalog_track(track_id)
            return None if t is None else str(t.get("title") or track_id)

        try:
            version = queue_remix(store, job_id, track=body.track, music_db=body.music_db, preset=body.preset,
                                  target_lufs=body.target_lufs, format=body.format, track_title=title)
        except RemixRejected as exc:
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        left = max(0, MAX_REMIXES - (version - 1))
        return JSONResponse(RemixQueued(id=job_id, version=version, remixes_left=left).model_dump(),
                            status_code=202, headers={"Location": f"/jobs/{job_id}"})

    def preview_sig(rec: dict[str, Any], job_id: str, track: str, exp: int) -> str:
        key = f"preview:{rec.get('token_hash') or ''}".encode()
        return hmac.new(key, f"{job_id}:{track}:{exp}".encode(), hashlib.sha256).hexdigest()[:40]

    @api.get("/jobs/{job_id}/alternatives", response_model=list[Alternative],
             responses={**_ERRORS, 409: {"model": Problem}},
             summary="The ranked tracks of the first mix (pick first), with reasons, credit and a preview link")
    def alternatives(job_id: str, token: str | None = Depends(token_of)) -> list[Alternative]:
        rec = job_or_404(job_id, token)
        files, _ = _done_files(rec, job_id)
        first = read_json(files.report) or {}
        latest = read_json(report_path(files, _version_of(job_id, rec, None))) or {}
        in_use = (latest.get("music") or {}).get("track")
        ranked = ranked_tracks(first)
        if in_use and all(t["track"] != in_use for t in ranked):  # their own pick from the library
            m = latest.get("music") or {}
            ranked.insert(0, {k: m.get(k) for k in ("track", "title", "reasons", "credit", "licence")})
        exp = int(time.time()) + LINK_TTL_S
        return [Alternative(rank=i + 1, track=str(t["track"]), title=t.get("title"),
                            reasons=list(t.get("reasons") or []), credit=t.get("credit"), licence=t.get("licence"),
                            in_use=t["track"] == in_use,
                            preview_url=f"/jobs/{job_id}/preview?track={t['track']}&exp={exp}"
                                        f"&sig={preview_sig(rec, job_id, str(t['track']), exp)}")
                for i, t in enumerate(ranked)]

    @api.get("/jobs/{job_id}/preview", responses={**_ERRORS, 200: {"content": {"audio/mp4": {}}}},
             response_class=FileResponse,
             summary="A few seconds of a catalog track, from its busiest stretch (a signed link from alternatives)")
    def preview(job_id: str, track: str = Query(min_length=1, max_length=200), exp: int | None = None,
                sig: str | None = None, token: str | None = Depends(token_of)) -> FileResponse:
        if token is None and sig is not None and exp is not None:
            rec = store.get(job_id)
            if (rec is None or exp < time.time() or exp > time.time() + LINK_TTL_S + 60
                    or not hmac.compare_digest(sig, preview_sig(rec, job_id, track, exp))):
                raise HTTPException(404, "no such job, or the link has expired; get a new one from the job")
        else:
            rec = job_or_404(job_id, token)
        t = catalog_track(track)
        if t is None or not t.get("path"):
            raise HTTPException(404, "no such track in the music catalog")
        files = store.files(job_id)
        out = files.root / f"preview-{hashlib.sha1(track.encode()).hexdigest()[:16]}.m4a"
        with _PREVIEW_LOCK:  # a media element may ask twice at once: render once, never into a shared partial
            if not out.exists():
                _render_preview(Path(str(t["path"])), float(t.get("duration_s") or 0.0), out)
        # the whole (small, ~150 KB) file in one 200
        return Response(out.read_bytes(), media_type="audio/mp4",
                        headers={"Cache-Control": "private, max-age=600", "Referrer-Policy": "no-referrer"})

    @api.delete("/jobs/{job_id}", status_code=204, responses=_ERRORS, summary="Delete the job and its files")
    def delete_job(job_id: str, token: str | None = Depends(token_of)) -> Response:
        job_or_404(job_id, token)
        store.delete(job_id)
        return Response(status_code=204)

    # -- library, health, page -----------------------------------------------------------------------------
    @api.get("/library", summary="The music catalog: tracks and their features",
             responses={429: {"model": Problem}, 503: {"model": Problem}})
    def get_library(request: Request) -> JSONResponse:
        if not library_limit.allow(client_key(request)):
            return JSONResponse({"detail": f"at most {settings.library_requests_per_min} catalog requests a "
                                           "minute; try again shortly"}, status_code=429,
                                headers={"Retry-After": "10"})
        # the server's file paths stay on the server: clients name tracks by id
        tracks = [{k: v for k, v in t.items() if k != "path"} for t in catalog.get().get("tracks") or []]
        return JSONResponse(tracks, headers={"Cache-Control": "public, max-age=60"})

    @api.get("/options", summary="The job options: presets, defaults, ranges and choices (read by the page)")
    def get_options() -> JSONResponse:
        return JSONResponse(option_catalogue(), headers={"Cache-Control": "public, max-age=300"})

    @api.get("/health", summary="200 when Redis and storage answer and there is room for one more job",
             responses={503: {"description": "Not ready"}})
    def health() -> JSONResponse:
        redis_ok = store.ping()
        free = free_bytes()
        space_ok = free >= settings.free_bytes_needed
        storage_ok = _storage_writable(settings.jobs_dir) and space_ok
        status = 200 if redis_ok and storage_ok else 503
        if redis_ok:
            maybe_sweep()
        body: dict[str, Any] = {"redis": redis_ok, "storage": storage_ok, "free_bytes": free,
                                "free_bytes_needed": settings.free_bytes_needed}
        if not space_ok:
            body["reason"] = (f"{free / 1e9:.2f} GB free, under the {settings.free_bytes_needed / 1e9:.2f} GB one "
                              "more job may need")
        elif not redis_ok:
            body["reason"] = _REDIS_DOWN
        return JSONResponse(body, status_code=status)

    @api.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    api.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    return api


def _too_large(n_bytes: int, limit: int, *, at_least: bool = False) -> str:
    what = "more than" if at_least else ""
    return (
        f"the upload is {what} {n_bytes / 1e6:.1f} MB but the limit is {limit / 1e6:.1f} MB; send a smaller "
        "file or raise MOODMIX_MAX_UPLOAD_BYTES"
    ).replace("is  ", "is ")


_PREVIEW_LOCK = threading.Lock()

#: A preview: this many seconds of the track, from a third of the way in (past the intro, into its body).
PREVIEW_S = 12.0


def _render_preview(src: Path, duration_s: float, out: Path) -> None:
    start = max(0.0, min(duration_s * 0.33, duration_s - PREVIEW_S)) if duration_s > 0 else 0.0
    # AAC in MP4 with its index first (+faststart): a media element knows the duration from the first bytes
    tmp = out.with_name(f"{out.stem}.{os.getpid()}-{threading.get_ident()}.partial.m4a")
    from mixer.ffmpeg import ffmpeg_exe

    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-ss", f"{start:.2f}", "-t", f"{PREVIEW_S:g}", "-i", str(src),
           "-vn", "-ac", "2", "-ar", "44100", "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart",
           "-af", f"afade=t=in:d=0.5,afade=t=out:st={PREVIEW_S - 1:g}:d=1", str(tmp)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.error("preview failed: %s", exc)
        raise HTTPException(503, "the preview could not be made; try again in a minute") from None
    if proc.returncode != 0 or not tmp.exists():
        tmp.unlink(missing_ok=True)
        log.error("preview failed: %s", proc.stderr.decode("utf-8", "replace")[-300:])
        raise HTTPException(503, "the preview could not be made; try again in a minute")
    os.replace(tmp, out)


def _storage_writable(root: Path) -> bool:
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".health"
        probe.write_bytes(b"ok")
        probe.unlink()
        return True
    except OSError:
        return False


def _catalog_view(home: Path) -> dict[str, Any]:
    """:mod:`workers.catalog_view` in a child process: the catalog code (numpy, SQLAlchemy models) stays out of
    the API process."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "workers.catalog_view"], capture_output=True, text=True, timeout=120,
            check=False, env={**os.environ, "MOODMIX_HOME": str(home)},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.error("listing the catalog failed: %s", exc)
        raise HTTPException(503, "the music catalog could not be listed; try again in a minute") from None
    if proc.returncode != 0:
        msg = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        log.error("listing the catalog failed: %s", msg)
        raise HTTPException(503, "the music catalog could not be listed; try again in a minute")
    value = json.loads(proc.stdout)
    return value if isinstance(value, dict) else {"tracks": [], "moods": []}


def __getattr__(name: str) -> Any:
    # ``uvicorn workers.http_api:app`` builds the app on first access, from the environment.
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
