"""Re-mix a done job with another track or music level, without hearing the voice again.

A job's first run leaves its analysis next to its result: ``report.json`` holds the speech segments, the mood
and the ranked tracks (the pick and its alternatives). A re-mix re-decodes the upload (cheap), takes the
segments and mood from that report (no VAD, no emotion pass) and mixes the chosen catalog track at the chosen
level. Each re-mix is a new *version* of the job's result, kept beside the first (version 1)::

    remix-<N>.json        what was asked (track, music_db, preset, target_lufs, format), written by the API
    result.v<N>.<fmt>     the re-mixed media (atomically, by the worker)
    report.v<N>.json      its report (its presence means "version N done")
    error.v<N>.json       why version N failed

Versions live and expire with the job (its token, its expiry); at most :data:`MAX_REMIXES` per job.

:func:`queue_remix` validates and queues one (the API's ``POST /jobs/{id}/remix`` and the Telegram bot call it);
:func:`versions` lists a job's versions with their state; :func:`run_remix` is the worker side (task
``moodmix.remix_job``). This module imports neither numpy nor the pipeline at import time.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import InvalidOptionError
from moodmix.settings import RANGES, check_option
from workers.config import VIDEO_FORMATS, Settings
from workers.jobs import JobStore
from workers.storage import JobFiles, atomic_write_json, download_name, read_json

__all__ = ["MAX_REMIXES", "MUSIC_DB_RANGE", "RemixRejected", "queue_remix", "result_path", "run_remix",
           "versions"]

log = logging.getLogger("moodmix.worker")

#: Re-mixes one job may ask for (they share the job's disk allowance and expiry).
MAX_REMIXES = 20
#: The bed relative to the preset's level, dB.
MUSIC_DB_RANGE: tuple[float, float] = RANGES["music_db"][:2]  # the job options' range (moodmix.settings)
_CLAIM = "moodmix:remix-run:"
#: The track id of the creator's own music (uploaded with the job as ``music``).
OWN_MUSIC = "own-music"


class RemixRejected(Exception):
    """A re-mix that cannot be queued: ``status`` (an HTTP 4xx) and a one-line ``message`` for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


# ---- files of a version ------------------------------------------------------------------------------------
def request_path(files: JobFiles, version: int) -> Path:
    return files.root / f"remix-{version}.json"


def report_path(files: JobFiles, version: int) -> Path:
    return files.report if version == 1 else files.root / f"report.v{version}.json"


def error_path(files: JobFiles, version: int) -> Path:
    return files.error if version == 1 else files.root / f"error.v{version}.json"


def result_path(files: JobFiles, version: int, fmt: str) -> Path:
    return files.result(fmt) if version == 1 else files.root / f"result.v{version}.{fmt}"


def version_format(files: JobFiles, version: int, manifest: dict[str, Any]) -> str:
    if version == 1:
        return str(manifest["format"])
    req = read_json(request_path(files, version)) or {}
    return str(req.get("format") or manifest["format"])


def version_download_name(manifest: dict[str, Any], version: int, fmt: str) -> str:
    """``<stem>.moodmix.<fmt>`` for version 1, ``<stem>.moodmix.v<N>.<fmt>`` after (the name carries it)."""
    name = download_name(str(manifest.get("original_name") or "upload"), fmt)
    return name if version == 1 else name[: -len(fmt) - 1] + f".v{version}.{fmt}"


def _count(files: JobFiles) -> int:
    n = 1
    while request_path(files, n + 1).exists():
        n += 1
    return n


def versions(store: JobStore, job_id: str, rec: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every version of the job, oldest first: ``{version, state, stage, track, music_db, format, error}``.
    Version 1 is the first mix (its state is the job's); the state of a re-mix comes from its files (done,
    failed) or its record fields (queued, running)."""
    rec = rec if rec is not None else (store.get(job_id) or {})
    files = store.files(job_id)
    manifest = read_json(files.manifest) or {}
    first = read_json(files.report) if rec.get("state") == "done" else None
    music = (first or {}).get("music") or {}
    out = [{"version": 1, "state": rec.get("state", "queued"), "stage": rec.get("stage"),
            "track": music.get("track"), "title": music.get("title"), "music_db": 0.0,
            "format": manifest.get("format"), "error": rec.get("error") or None}]
    for n in range(2, _count(files) + 1):
        req = read_json(request_path(files, n)) or {}
        entry: dict[str, Any] = {"version": n, "track": req.get("track"), "title": req.get("title"),
                                 "music_db": req.get("music_db", 0.0), "format": req.get("format"), "error": None}
        if report_path(files, n).exists():
            entry.update(state="done", stage="done")
        elif error_path(files, n).exists():
            err = read_json(error_path(files, n)) or {}
            entry.update(state="failed", stage="failed", error=str(err.get("error") or "failed"))
        else:
            stage = str(rec.get(f"v{n}_stage") or "queued")
            entry.update(state="queued" if stage == "queued" else "running", stage=stage)
            at = float(rec.get(f"v{n}_at") or 0.0)
            if stage != "queued" and at and time.time() - at > store.settings.heartbeat_timeout_s \
                    and not store.redis.exists(f"{_CLAIM}{job_id}:{n}"):
                entry.update(state="failed", stage="failed",
                             error="the worker mixing it was lost; ask for this re-mix again")
        out.append(entry)
    return out


def latest_done(vers: list[dict[str, Any]]) -> int | None:
    done = [v["version"] for v in vers if v["state"] == "done"]
    return max(done) if done else None


# ---- queueing ----------------------------------------------------------------------------------------------
def queue_remix(
    store: JobStore,
    job_id: str,
    *,
    track: str | None = None,
    music_db: float = 0.0,
    preset: str | None = None,
    target_lufs: float | None = None,
    format: str | None = None,
    track_title: Callable[[str], str | None] | None = None,
    enqueue: bool = True,
) -> int:
    """Validate a re-mix of done job ``job_id`` and queue it; the new version's number.

    ``track`` is a catalog id (or :data:`OWN_MUSIC`); None keeps the track of the newest done version (a new
    level only). ``track_title(id)`` returns a track's title, or None when the catalog has no such id (default:
    look it up in the default catalog). The caller has checked the job's token.

    From Python (the Telegram bot): ``queue_remix(JobStore(get_settings()), job_id, track=..., music_db=-6)``;
    then follow :func:`versions` until the version is done and read :func:`result_path`.

    Raises
    ------
    RemixRejected
        With a 4xx status and a reason: the job is not done, a value out of range, an unknown track, the cap
        of :data:`MAX_REMIXES` reached, or the job's disk allowance used up.
    """
    settings = store.settings
    rec = store.get(job_id)
    files = store.files(job_id)
    manifest = read_json(files.manifest)
    if rec is None or not isinstance(manifest, dict):
        raise RemixRejected(404, "no such job (or wrong token)")
    if rec.get("state") != "done" or not files.report.exists():
        raise RemixRejected(409, f"the job is {rec.get('state')}; a re-mix needs a done job (wait until "
                            "GET /jobs/{id} says done)")
    try:  # the job options' one rule (moodmix.settings): the same ranges and messages as the upload form
        db = check_option("music_db", music_db)
        preset = check_option("preset", preset)
        target_lufs = check_option("target_lufs", target_lufs)
        fmt = check_option("output_format", format or manifest["format"], label="format")
    except InvalidOptionError as exc:
        raise RemixRejected(422, str(exc)) from None
    if fmt in VIDEO_FORMATS and not manifest.get("has_video"):
        raise RemixRejected(422, f"format {fmt} is a video container but the upload has no video")
    if track is None:  # the same music, another level: the track of the newest done version
        newest = latest_done(versions(store, job_id, rec)) or 1
        track = str(((read_json(report_path(files, newest)) or {}).get("music") or {}).get("track") or "")
    track = str(track or "").strip()
    if not track or len(track) > 200:
        raise RemixRejected(422, "track must be a catalog id (from GET /jobs/{id}/alternatives or GET /library)")
    own = track == OWN_MUSIC and (files.root / "music").exists()
    title = "your music" if own else (track_title or _catalog_title)(track)
    if title is None:
        raise RemixRejected(422, f"no track {track[:40]!r} in the music catalog; use an id from "
                            "GET /jobs/{id}/alternatives or GET /library")
    # the job's disk allowance: one more result about as large as the first
    first = result_path(files, 1, str(manifest["format"]))
    used = sum(p.stat().st_size for p in files.root.iterdir() if p.is_file())
    more = first.stat().st_size if first.exists() else 0
    if used + more > settings.max_job_bytes:
        raise RemixRejected(409, "the job's versions fill its disk allowance; delete the job and upload again "
                            "to start over")
    # the version number: taken atomically (several requests at once each get their own)
    n = int(store.redis.hincrby(store.key(job_id), "remixes", 1))
    if n < _count(files):  # Redis lost the count (a restart): the versions on disk say how many there were
        n = _count(files)
        store.redis.hset(store.key(job_id), "remixes", n)
    if n > MAX_REMIXES:
        raise RemixRejected(409, f"this job has had its {MAX_REMIXES} re-mixes; upload it again to start over")
    version = n + 1
    request = {"version": version, "track": track, "title": title, "music_db": db, "preset": preset,
               "target_lufs": None if target_lufs is None else float(target_lufs), "format": fmt,
               "created_at": time.time()}
    atomic_write_json(request_path(files, version), request)
    store.update(job_id, 0, **{f"v{version}_stage": "queued", f"v{version}_at": f"{time.time():.3f}"})
    if enqueue:
        from workers.celery_app import client_app

        client_app(settings).send_task("moodmix.remix_job", args=[job_id, version], queue=settings.queue,
                                       task_id=f"{job_id}-v{version}")
    return version


def _catalog_title(track_id: str) -> str | None:
    from core.env import env_setting
    from core.errors import MoodmixError
    from library.catalog import default_catalog

    try:
        return str(default_catalog(env_setting("MOODMIX_DATABASE_URL")).get(track_id).title)
    except MoodmixError:
        return None


# ---- the worker side ---------------------------------------------------------------------------------------
def ranked_tracks(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The first mix's pick then its alternatives (id, title, reasons, credit, licence), best first."""
    music = report.get("music") or {}
    keys = ("track", "title", "reasons", "credit", "licence")
    out = [{k: music.get(k) for k in keys}] if music.get("track") and music.get("rule") != "forced" else []
    out += [{k: a.get(k) for k in keys} for a in music.get("alternatives") or []]
    return out


def run_remix(job_id: str, version: int, *, settings: Settings, store: JobStore | None = None) -> dict[str, Any]:
    """Render version ``version`` of done job ``job_id``: the upload re-decoded, the first report's speech and
    mood, the asked track and level. Writes ``result.v<N>.<fmt>`` and ``report.v<N>.json`` (or ``error.v<N>``)."""
    from core.errors import MoodmixError
    from moodmix.pipeline import mix_file
    from workers.job_contract import client_message, job_settings, public_report

    store = store or JobStore(settings)
    files = store.files(job_id)
    manifest = read_json(files.manifest)
    req = read_json(request_path(files, version))
    analysis = read_json(files.report)
    if not isinstance(manifest, dict) or not isinstance(req, dict) or not isinstance(analysis, dict):
        return {"id": job_id, "version": version, "state": "missing"}
    if report_path(files, version).exists() or error_path(files, version).exists():
        return {"id": job_id, "version": version, "state": "done", "redelivered": True}
    run_id = secrets.token_hex(6)
    claim = f"{_CLAIM}{job_id}:{version}"
    ttl = max(1, int(settings.heartbeat_timeout_s))
    if not store.redis.set(claim, run_id, nx=True, ex=ttl):
        return {"id": job_id, "version": version, "state": "running", "duplicate": True}
    stop = threading.Event()

    def beat() -> None:  # while this run lives, its claim does (a redelivery after its death may take over)
        while not stop.wait(settings.heartbeat_interval_s):
            try:
                store.redis.set(claim, run_id, ex=ttl)
                store.update(job_id, 0, **{f"v{version}_at": f"{time.time():.3f}"})
            except Exception as exc:  # noqa: BLE001 - a missed beat is logged, the run goes on
                log.warning("job %s v%d: heartbeat failed: %s", job_id, version, exc)

    beater = threading.Thread(target=beat, name=f"remix-beat-{job_id[:8]}", daemon=True)
    beater.start()
    fmt = str(req.get("format") or manifest["format"])
    work = files.root / f"result.v{version}.partial-{run_id}.{fmt}"
    tmp = files.root / f"tmp-v{version}"
    tmp.mkdir(exist_ok=True)
    old_tmp, old_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir, os.environ["TMPDIR"] = str(tmp), str(tmp)

    def progress(stage: str, _fraction: float) -> None:
        store.update(job_id, 0, **{f"v{version}_stage": stage, f"v{version}_at": f"{time.time():.3f}"})

    try:
        js = job_settings(manifest).with_(
            music=files.root / "music" if req["track"] == OWN_MUSIC else req["track"], music_db=float(req.get("music_db") or 0.0), output_format=fmt,
            analyse_emotion=False, follow_mood=False, emotion=None, mood=None,
            **({"preset": req["preset"]} if req.get("preset") else {}),
            **({"target_lufs": float(req["target_lufs"])} if req.get("target_lufs") is not None else {}),
        )
        report = mix_file(files.input, work, settings=js, analysis=analysis, progress=progress)
        if sum(p.stat().st_size for p in files.root.rglob("*") if p.is_file()) > settings.max_job_bytes:
            raise MoodmixError(f"the job's versions grew past the {settings.max_job_bytes / 1e9:.2f} GB limit "
                               "of one job")
    except Exception as exc:  # every failure ends as this version's error, in plain words
        work.unlink(missing_ok=True)
        if isinstance(exc, MoodmixError):
            message = client_message(str(exc), settings, files)
        else:
            log.exception("job %s version %d failed", job_id, version)
            message = client_message(f"internal error: {type(exc).__name__}: {exc}", settings, files)
        if files.exists():
            atomic_write_json(error_path(files, version), {"error": message})
        return {"id": job_id, "version": version, "state": "failed", "error": message}
    finally:
        tempfile.tempdir = old_tmp
        if old_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old_env
        shutil.rmtree(tmp, ignore_errors=True)
        stop.set()
        store.redis.delete(claim)
    if not files.exists():
        work.unlink(missing_ok=True)
        return {"id": job_id, "version": version, "state": "deleted"}
    report = public_report(report, {**manifest, "format": fmt})
    if isinstance(report.get("output"), dict):
        report["output"]["path"] = version_download_name(manifest, version, fmt)
    ranked = ranked_tracks(analysis)
    report["music"]["alternatives"] = [t for t in ranked if t["track"] != req["track"]]
    same = [t for t in ranked if t["track"] == req["track"]]
    report["music"]["reasons"] = (list(same[0].get("reasons") or []) if same else
                                  ["your own music"] if req["track"] == OWN_MUSIC else ["your choice from the library"])
    report["version"] = version
    report["remix"] = {k: req.get(k) for k in ("track", "music_db", "preset", "target_lufs", "format")}
    try:
        os.replace(work, result_path(files, version, fmt))
        atomic_write_json(report_path(files, version), report)
    except FileNotFoundError:
        work.unlink(missing_ok=True)
        return {"id": job_id, "version": version, "state": "deleted"}
    store.update(job_id, 0, **{f"v{version}_stage": "done"})
    return {"id": job_id, "version": version, "state": "done"}
