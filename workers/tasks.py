"""Celery tasks: thin adapters over :func:`moodmix.pipeline.mix_file`.

``moodmix.mix_job(job_id)`` reads the job's manifest, runs the one library call (decode → speech activity →
emotion → select → fit → mix → render) with a progress callback that writes the stage and the overall percent
to the job's Redis record (and to the Celery task state), then moves the result into place and writes the
report. Arguments are ids, never arrays.

Failure handling:

- bad input (any :class:`~moodmix.errors.MoodmixError`): the job fails at once with the library's one-line
  message; never retried.
- transient faults (Redis connection, temporary I/O errors): retried with exponential backoff and jitter, at
  most ``max_retries`` times, then the job fails.
- the soft time limit: the job fails with a message naming the limit.
- anything else: the job fails with "internal error: ...", not retried (a bug would fail again).

Idempotent: a job whose report already exists is done; a redone job (worker killed, message redelivered)
renders to ``result.partial.<fmt>`` again and renames it over ``result.<fmt>``.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import time
from typing import Any

import redis
from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_ready

from workers.celery_app import app
from workers.config import Settings, get_settings
from workers.jobs import JobStore, overall_progress
from workers.storage import JobFiles, atomic_write_json, download_name, read_json
from workers.warm import warm_models

__all__ = ["TransientJobError", "job_settings", "mix_job", "run_job", "sweep", "warm_models"]

log = logging.getLogger("moodmix.worker")

_TRANSIENT_ERRNOS = {errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.EIO, errno.ENOSPC, errno.ETIMEDOUT}


class TransientJobError(Exception):
    """A fault that may pass if the job is tried again later (broker/backend connection, temporary I/O)."""


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, TransientJobError)):
        return True
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS


def job_settings(manifest: dict[str, Any]) -> Any:
    """The :class:`~moodmix.settings.JobSettings` of a job, from the options in its manifest."""
    from moodmix.settings import JobSettings

    opts = manifest.get("options") or {}
    kwargs: dict[str, Any] = {"output_format": manifest["format"]}
    if opts.get("preset"):
        kwargs["preset"] = opts["preset"]
    if opts.get("mood"):
        kwargs["mood"] = opts["mood"]
    if opts.get("target_lufs") is not None:
        kwargs["target_lufs"] = float(opts["target_lufs"])
    if opts.get("follow_mood") is not None:
        kwargs["follow_mood"] = bool(opts["follow_mood"])
    if opts.get("avoid_tracks"):
        kwargs["avoid_tracks"] = tuple(opts["avoid_tracks"])
    if opts.get("analyse_emotion") is not None:
        kwargs["analyse_emotion"] = bool(opts["analyse_emotion"])
    if opts.get("separate") is not None:
        kwargs["separate"] = bool(opts["separate"])
    if opts.get("keep_ambience_db") is not None:
        kwargs["keep_ambience_db"] = float(opts["keep_ambience_db"])
    if opts.get("library"):
        kwargs["library"] = str(opts["library"])
    if opts.get("seed") is not None:
        kwargs["seed"] = int(opts["seed"])
    if kwargs.get("analyse_emotion", True):
        from moodmix.settings import emotion_settings_from_env

        kwargs["emotion"] = emotion_settings_from_env()
    return JobSettings(**kwargs)


def _public_report(report: dict[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
    """The report as clients see it: no server paths (the input and output are named as the user knows them)."""
    out = dict(report)
    name = str(manifest.get("original_name") or "upload")
    if isinstance(out.get("input"), dict):
        out["input"] = {**out["input"], "path": name}
    if isinstance(out.get("output"), dict):
        out["output"] = {**out["output"], "path": download_name(name, str(manifest["format"]))}
    music = out.get("music")
    if isinstance(music, dict) and music.get("path"):
        out["music"] = {**music, "path": os.path.basename(str(music["path"]))}
    return out


class _Progress:
    """Turns ``progress(stage, fraction)`` into throttled writes of (stage, overall progress)."""

    def __init__(self, store: JobStore, job_id: str, task: Task | None, interval_s: float, separate: bool) -> None:
        self.store, self.job_id, self.task = store, job_id, task
        self.interval_s, self.separate = interval_s, separate
        self.stage = ""
        self.progress = 0.0
        self.last = 0.0
        self.alive = True
        try:
            from moodmix.pipeline import STAGES

            self.weights: dict[str, float] | None = dict(STAGES)
        except ImportError:
            self.weights = None

    def __call__(self, stage: str, fraction: float) -> None:
        value = overall_progress(stage, fraction, separate=self.separate, weights=self.weights)
        self.progress = max(self.progress, value)  # never goes backwards
        now = time.monotonic()
        if stage == self.stage and now - self.last < self.interval_s:
            return
        self.stage, self.last = stage, now
        self.alive = self.store.mark_running(self.job_id, stage, self.progress)
        if self.task is not None and self.task.request.id:
            self.task.update_state(state="PROGRESS", meta={"stage": stage, "progress": round(self.progress, 4)})


def run_job(job_id: str, *, settings: Settings, store: JobStore | None = None, task: Task | None = None) -> dict[str, Any]:
    """Run one job to its end (done or failed) and return ``{"id", "state", ...}``.

    Raises
    ------
    TransientJobError
        For faults worth retrying (the Celery task retries it with backoff).
    """
    from moodmix.errors import MoodmixError
    from moodmix.pipeline import mix_file

    store = store or JobStore(settings)
    files = store.files(job_id)
    manifest = read_json(files.manifest)
    if not isinstance(manifest, dict) or not files.input.exists():
        log.info("job %s: no files (deleted or expired); nothing to do", job_id)
        return {"id": job_id, "state": "missing"}
    if files.report.exists():  # already done: a redelivered message
        if store.get(job_id) is None:
            store.recover(job_id)
        else:
            store.mark_done(job_id)
        return {"id": job_id, "state": "done", "redelivered": True}
    if files.error.exists():
        return {"id": job_id, "state": "failed", "redelivered": True}
    if store.get(job_id) is None:  # Redis lost the record (restart without persistence) but the message came
        store.recover(job_id, enqueue=lambda _id: None)
    store.update(job_id, attempts=int((store.get(job_id) or {}).get("attempts") or 0) + 1)
    fmt = str(manifest["format"])
    try:
        js = job_settings(manifest)
    except (TypeError, ValueError) as exc:
        return _fail(store, files, f"bad job options: {exc}")
    progress = _Progress(store, job_id, task, settings.progress_interval_s, separate=bool(js.separate))
    progress("decode", 0.0)
    work = files.work_path(fmt)
    try:
        report = mix_file(files.input, work, settings=js, progress=progress)
    except MoodmixError as exc:
        work.unlink(missing_ok=True)
        return _fail(store, files, str(exc))
    except SoftTimeLimitExceeded:
        work.unlink(missing_ok=True)
        return _fail(store, files, f"the job took longer than the {settings.soft_time_limit_s} s limit; "
                     "send a shorter file or raise MOODMIX_SOFT_TIME_LIMIT_S")
    except Exception as exc:
        work.unlink(missing_ok=True)
        if _is_transient(exc):
            raise TransientJobError(f"{type(exc).__name__}: {exc}") from exc
        log.exception("job %s failed", job_id)
        return _fail(store, files, f"internal error: {type(exc).__name__}: {exc}")
    if not files.exists():  # deleted while it ran
        work.unlink(missing_ok=True)
        return {"id": job_id, "state": "deleted"}
    try:
        os.replace(work, files.result(fmt))
        atomic_write_json(files.report, _public_report(report, manifest))  # its presence means "done"
    except FileNotFoundError:  # the job directory was deleted a moment ago
        work.unlink(missing_ok=True)
        return {"id": job_id, "state": "deleted"}
    if not store.mark_done(job_id) and store.recover(job_id) == "none":  # deleted while it ran
        files.remove()
        return {"id": job_id, "state": "deleted"}
    try:
        store.sweep()  # throttled: at most once per cleanup interval across all workers
    except redis.RedisError as exc:
        log.warning("sweep after job %s failed: %s", job_id, exc)
    return {"id": job_id, "state": "done"}


def _fail(store: JobStore, files: JobFiles, message: str) -> dict[str, Any]:
    if files.exists():
        atomic_write_json(files.error, {"error": message})
    store.mark_failed(files.job_id, message)
    return {"id": files.job_id, "state": "failed", "error": message}


_settings = get_settings()


@app.task(  # type: ignore[untyped-decorator]
    name="moodmix.mix_job",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=_settings.max_retries,
    soft_time_limit=_settings.soft_time_limit_s,
    time_limit=_settings.hard_time_limit_s,
)
def mix_job(self: Task, job_id: str) -> dict[str, Any]:
    """Mix the upload of job ``job_id`` (see :func:`run_job`)."""
    settings = get_settings()
    try:
        return run_job(job_id, settings=settings, task=self)
    except TransientJobError as exc:
        retries = int(self.request.retries or 0)
        store = JobStore(settings)
        if retries >= settings.max_retries:
            files = store.files(job_id)
            return _fail(store, files, f"gave up after {retries + 1} tries: {exc}")
        countdown = min(settings.retry_backoff_max_s, 2 ** (retries + 1)) * random.uniform(0.5, 1.0)
        log.warning("job %s: transient error (%s); retry %d in %.1f s", job_id, exc, retries + 1, countdown)
        try:
            store.update(job_id, stage="retrying", error=f"retrying after: {exc}")
        except redis.RedisError:
            pass
        raise self.retry(exc=exc, countdown=countdown) from None
    except Retry:
        raise


@app.task(name="moodmix.sweep", acks_late=False)  # type: ignore[untyped-decorator]
def sweep() -> dict[str, int]:
    """Remove expired jobs' files and re-queue jobs Redis lost (also scheduled by ``celery beat``)."""
    return JobStore(get_settings()).sweep(force=True)


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _on_process_init(**_: Any) -> None:
    if get_settings().warm_models:
        log.info("models loaded in %.1f s", warm_models())


@worker_ready.connect  # type: ignore[untyped-decorator]
def _on_worker_ready(**_: Any) -> None:
    # Jobs whose Redis record (and message) vanished, e.g. a Redis restart without persistence, are re-queued
    # from their job directories; expired jobs are removed. Throttled across workers by a Redis lock.
    try:
        counts = JobStore(get_settings()).sweep()
        if counts.get("requeued") or counts.get("removed"):
            log.info("startup sweep: %s", counts)
    except redis.RedisError as exc:
        log.warning("startup sweep failed: %s", exc)
