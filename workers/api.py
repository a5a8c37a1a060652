"""The HTTP API (FastAPI): upload a voice track or video, follow its job, download the mix.

Contract (DESIGN.md, "Service"):

- ``POST /jobs`` multipart: ``file`` + optional ``preset``, ``mood``, ``target_lufs``, ``format``,
  ``follow_mood`` → ``201 {"id", "token"}``.
- ``GET /jobs/{id}``, ``GET /jobs/{id}/result``, ``GET /jobs/{id}/report``, ``DELETE /jobs/{id}`` (204):
  the job's token as ``Authorization: Bearer <token>`` or ``?token=``; a wrong or missing token answers 404,
  exactly like a job that does not exist.
- ``GET /library``, ``GET /health``; the web page at ``/``; OpenAPI docs at ``/docs``.

Uploads are parsed as they stream in and written straight into the job directory under a fixed name; the size
limit is checked on every chunk (413 as soon as it is passed, the partial file removed). The media type and
duration are then checked by decoding the content (:mod:`workers.probe`), never by the name or content type.
Jobs are queued by task name, so this process imports neither numpy nor torch nor the pipeline.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from workers.config import AUDIO_FORMATS, OUTPUT_FORMATS, VIDEO_FORMATS, Settings, get_settings
from workers.jobs import JobStore
from workers.probe import UploadRejected, probe_upload
from workers.storage import (
    JobFiles,
    download_name,
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
PRESETS = ("podcast", "vlog", "clear")
_MOOD_RE = re.compile(r"^[a-z][a-z_-]{0,31}$")
#: Room for the multipart framing and the small form fields on top of the file itself.
_FORM_OVERHEAD_BYTES = 64 * 1024
_FIELD_MAX_BYTES = 256
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
                        "preset": {"type": "string", "enum": list(PRESETS), "default": "podcast"},
                        "mood": {"type": "string", "description": "Override the detected mood (e.g. joy)"},
                        "target_lufs": {"type": "number", "default": -16.0, "minimum": -40, "maximum": -5},
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


def _parse_number(fields: dict[str, str], name: str, lo: float, hi: float, *, unit: str,
                  example: str) -> float | None:
    """An optional numeric form field within [lo, hi]; None when absent, 422 with a clear message when bad."""
    raw = fields.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise _Rejected(422, f"{name} must be a number of {unit} such as {example}, got {raw[:20]!r}") from None
    if not lo <= value <= hi:
        raise _Rejected(422, f"{name} must be between {lo:g} and {hi:g} {unit}, got {value:g}")
    return value


def _options(fields: dict[str, str]) -> dict[str, Any]:
    """Validate the form's option fields; 422 with a clear message for any bad value."""
    opts: dict[str, Any] = {}
    preset = fields.get("preset", "").strip()
    if preset:
        if preset not in PRESETS:
            raise _Rejected(422, f"preset must be one of {', '.join(PRESETS)}, got {preset[:20]!r}")
        opts["preset"] = preset
    mood = fields.get("mood", "").strip().lower()
    if mood:
        if not _MOOD_RE.match(mood):
            raise _Rejected(422, f"mood must be a mood name such as joy or sadness, got {mood[:20]!r}")
        opts["mood"] = mood
    lufs = _parse_number(fields, "target_lufs", -40.0, -5.0, unit="LUFS", example="-16")
    if lufs is not None:
        opts["target_lufs"] = lufs
    fmt = fields.get("format", "").strip().lower().lstrip(".")
    if fmt:
        if fmt not in OUTPUT_FORMATS:
            raise _Rejected(422, f"format must be one of {', '.join(OUTPUT_FORMATS)}, got {fmt[:20]!r}")
        opts["format"] = fmt
    if "follow_mood" in fields:
        opts["follow_mood"] = _parse_bool("follow_mood", fields["follow_mood"])
    if "analyse_emotion" in fields:
        opts["analyse_emotion"] = _parse_bool("analyse_emotion", fields["analyse_emotion"])
    if "separate" in fields:
        opts["separate"] = _parse_bool("separate", fields["separate"])
    ambience = _parse_number(fields, "keep_ambience_db", 0.0, 60.0, unit="dB", example="20")
    if ambience is not None:
        opts["keep_ambience_db"] = ambience
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

    def __init__(self, target: Path, max_bytes: int) -> None:
        self.target, self.max_bytes = target, max_bytes
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_bytes = 0
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
        elif self._name and not self.error and len(self.fields) < 16:
            self.fields[self._name] = self._buf.decode("utf-8", "replace")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# ---- the app -----------------------------------------------------------------------------------------------
def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for ``settings`` (default: from the environment)."""
    settings = settings or get_settings()
    store = JobStore(settings)
    library_cache: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        settings.jobs_dir.mkdir(parents=True, exist_ok=True)
        try:  # re-queue jobs that Redis lost while we were down; expire old ones
            await run_in_threadpool(store.sweep)
        except Exception as exc:  # noqa: BLE001 - Redis may be down at start; /health says so
            log.warning("startup sweep failed: %s", exc)
        yield

    api = FastAPI(
        title="moodmix",
        version="0.1.0",
        summary="Background music under a voice: upload, follow the job, download the mix.",
        description=(
            "Upload a voice track or a video; a worker hears its emotion, picks an instrumental track, ducks it "
            "under the voice, levels and renders. Every job call needs the token returned by `POST /jobs`, as "
            "`Authorization: Bearer <token>` or `?token=`; a wrong or missing token answers 404."
        ),
        lifespan=lifespan,
    )
    api.state.settings = settings
    api.state.store = store
    bearer = HTTPBearer(auto_error=False, description="The job token from POST /jobs")
    query_token = APIKeyQuery(name="token", auto_error=False, description="The job token (for links)")

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

    # -- upload ------------------------------------------------------------------------------------------
    @api.post(
        "/jobs",
        status_code=201,
        response_model=JobCreated,
        openapi_extra=_UPLOAD_SCHEMA,
        responses={
            413: {"model": Problem, "description": "Upload larger than MOODMIX_MAX_UPLOAD_BYTES"},
            415: {"model": Problem, "description": "Not audio or video (checked by decoding the content)"},
            422: {"model": Problem, "description": "Bad option, truncated media, or longer than the limit"},
            503: {"model": Problem, "description": "The queue (Redis) does not answer"},
        },
        summary="Upload a voice track or video and queue its mix",
    )
    async def create_job(request: Request) -> JSONResponse:
        limit = settings.max_upload_bytes
        ctype, params = parse_options_header(request.headers.get("content-type", ""))
        if ctype != b"multipart/form-data" or not params.get(b"boundary"):
            raise HTTPException(415, "send the upload as multipart/form-data with the media in a 'file' field")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit + _FORM_OVERHEAD_BYTES:
            raise HTTPException(413, _too_large(int(declared), limit))
        job_id = new_job_id()
        files = JobFiles.of(settings.jobs_dir, job_id)
        files.root.mkdir(parents=True, exist_ok=False)
        sink = _UploadSink(files.upload_partial, limit)
        parser = MultipartParser(params[b"boundary"], cast(Any, sink.callbacks()))
        ok = False
        try:
            try:
                async for chunk in request.stream():
                    parser.write(chunk)
                    if sink.too_large:
                        raise _Rejected(413, _too_large(sink.file_bytes, limit, at_least=True))
                    if sink.error:
                        raise _Rejected(422, sink.error)
                parser.finalize()
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
            if sink.file_bytes == 0:
                raise _Rejected(422, "the uploaded file is empty (0 bytes)")
            opts = _options(sink.fields)
            original = safe_display_name(sink.filename)
            try:
                info = await run_in_threadpool(
                    probe_upload, files.upload_partial, max_duration_s=settings.max_duration_s
                )
            except UploadRejected as exc:
                raise _Rejected(exc.status, exc.message) from None
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
    @api.get("/jobs/{job_id}", response_model=JobStatus, responses=_ERRORS, summary="State, stage and progress")
    def get_job(job_id: str, token: str | None = Depends(token_of)) -> JobStatus:
        rec = job_or_404(job_id, token)
        files = store.files(job_id)
        manifest = read_json(files.manifest) or {}
        report = read_json(files.report) if rec["state"] == "done" else None
        fmt = manifest.get("format")
        return JobStatus(
            id=job_id,
            state=rec["state"],
            stage=rec.get("stage") or rec["state"],
            progress=min(1.0, max(0.0, rec["progress"])),
            error=rec["error"],
            report=report,
            download_name=download_name(manifest.get("original_name", "upload"), fmt) if fmt else None,
            format=fmt,
            has_video=manifest.get("has_video"),
            created_at=float(rec["created_at"]) if rec.get("created_at") else None,
            finished_at=float(rec["finished_at"]) if rec.get("finished_at") else None,
        )

    def _done_files(job_id: str, token: str | None) -> tuple[JobFiles, dict[str, Any]]:
        rec = job_or_404(job_id, token)
        files = store.files(job_id)
        manifest = read_json(files.manifest)
        if rec["state"] != "done" or not isinstance(manifest, dict):
            detail = f"the job is {rec['state']}" + (f": {rec['error']}" if rec.get("error") else "")
            raise HTTPException(409, detail + "; wait until GET /jobs/{id} says done")
        return files, manifest

    @api.get(
        "/jobs/{job_id}/result",
        responses={**_ERRORS, 200: {"description": "The mixed media", "content": {"audio/*": {}, "video/*": {}}},
                   409: {"model": Problem, "description": "Not done yet, or failed"}},
        summary="Download the mixed audio or video",
        response_class=FileResponse,
    )
    def get_result(job_id: str, download: bool = True, token: str | None = Depends(token_of)) -> FileResponse:
        files, manifest = _done_files(job_id, token)
        fmt = str(manifest["format"])
        path = files.result(fmt)
        if not path.exists():
            raise HTTPException(404, "the result has expired or was removed")
        return FileResponse(
            path, media_type=_MEDIA_TYPES.get(fmt, "application/octet-stream"),
            filename=download_name(str(manifest.get("original_name", "upload")), fmt),
            content_disposition_type="attachment" if download else "inline",
        )

    @api.get("/jobs/{job_id}/report", responses={**_ERRORS, 409: {"model": Problem}}, summary="The job report")
    def get_report(job_id: str, token: str | None = Depends(token_of)) -> JSONResponse:
        files, _ = _done_files(job_id, token)
        report = read_json(files.report)
        if report is None:
            raise HTTPException(404, "the report has expired or was removed")
        return JSONResponse(report)

    @api.delete("/jobs/{job_id}", status_code=204, responses=_ERRORS, summary="Delete the job and its files")
    def delete_job(job_id: str, token: str | None = Depends(token_of)) -> Response:
        job_or_404(job_id, token)
        store.delete(job_id)
        return Response(status_code=204)

    # -- library, health, page -----------------------------------------------------------------------------
    @api.get("/library", summary="The music catalog: tracks and their features")
    def get_library() -> JSONResponse:
        now = time.monotonic()
        if "tracks" not in library_cache or now - library_cache["at"] > 60:
            library_cache["tracks"] = _list_library(settings.home)
            library_cache["at"] = now
        return JSONResponse(library_cache["tracks"])

    @api.get("/health", summary="200 when Redis and storage answer", responses={503: {"description": "Not ready"}})
    def health() -> JSONResponse:
        redis_ok = store.ping()
        storage_ok = _storage_writable(settings.jobs_dir)
        status = 200 if redis_ok and storage_ok else 503
        if redis_ok:
            maybe_sweep()
        return JSONResponse({"redis": redis_ok, "storage": storage_ok}, status_code=status)

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


def _storage_writable(root: Path) -> bool:
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".health"
        probe.write_bytes(b"ok")
        probe.unlink()
        return True
    except OSError:
        return False


def _list_library(home: Path) -> list[dict[str, Any]]:
    """``moodmix library list --json`` in a child process: the catalog code (numpy, SQLAlchemy models) stays
    out of the API process."""
    proc = subprocess.run(
        [sys.executable, "-m", "moodmix", "library", "list", "--json"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "MOODMIX_HOME": str(home)},
    )
    if proc.returncode != 0:
        msg = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise HTTPException(503, f"the music catalog could not be listed: {msg}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def __getattr__(name: str) -> Any:
    # ``uvicorn workers.api:app`` builds the app on first access, from the environment.
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
