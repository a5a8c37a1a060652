"""Celery tasks: thin adapters over :func:`moodmix.pipeline.mix_file`.

``moodmix.mix_job(job_id)`` reads the job's manifest, runs the one library call (decode → speech activity →
emotion → select → fit → mix → render) with a progress callback that writes the stage and the overall percent
to the job's Redis record (and to the Celery task state), then moves the result into place and writes the
report. Arguments are ids, never arrays.

Failure handling:

- bad input (any :class:`~core.errors.MoodmixError`): the job fails at once with the library's one-line
  message; never retried.
- transient faults (Redis connection, temporary I/O errors): retried with exponential backoff and jitter, at
  most ``max_retries`` times, then the job fails.
- the soft time limit: the job fails with a message naming the limit.
- anything else: the job fails with "internal error: ...", not retried (a bug would fail again).

Idempotent: a job whose report already exists is done; a redone job (worker killed, message redelivered or
re-queued by the heartbeat sweep) renders to a partial file of its own and renames it to ``result.<fmt>`` only
while no finished result exists, so a second run never replaces a finished result. One run at a time holds the
job (a Redis claim refreshed with its heartbeat); a duplicate delivery while it lives does nothing.

Resources: a running job writes a heartbeat every ``heartbeat_interval_s`` (the sweep re-queues a job whose
heartbeat stopped: its worker was lost); its temporary files go to ``<job>/tmp`` and the job fails when its files
grow past ``max_job_bytes`` (each file is also capped by RLIMIT_FSIZE in the pool process); a full disk is
retried with backoff, then the job fails with "the server is out of space". Errors shown to clients name no
server paths.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import resource
import secrets
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis
from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_ready

from workers.celery_app import app
from workers.config import Settings, get_settings
from workers.job_contract import client_message, job_settings, public_report
from workers.jobs import JobStore, overall_progress
from workers.storage import JobFiles, atomic_write_json, read_json
from workers.warm import warm_models

__all__ = ["TransientJobError", "job_settings", "mix_job", "run_job", "sweep", "warm_models"]

log = logging.getLogger("moodmix.worker")

_TRANSIENT_ERRNOS = {errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.EIO, errno.ENOSPC, errno.ETIMEDOUT}


class TransientJobError(Exception):
    """A fault that may pass if the job is tried again later (broker/backend connection, temporary I/O)."""


class OutOfSpaceError(TransientJobError):
    """The disk filled up while the job ran (retried with backoff; then the job fails saying so)."""


OUT_OF_SPACE = "the server is out of space; try again later"


class JobTooLargeError(Exception):
    """The job's files grew past ``max_job_bytes``."""


class SupersededError(Exception):
    """Another run took the job over (this one missed its heartbeats and was taken for lost)."""


def _out_of_space(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    return "No space left on device" in str(exc) or "ENOSPC" in str(exc)


def _job_bytes(root: Path, tmp: Path) -> int:
    """Bytes the job holds on disk: its directory's files, plus this process's open unlinked temporary files
    there (``tempfile.TemporaryFile`` leaves no name)."""
    total = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    prefix = str(tmp)
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return total
    for fd in fds:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(prefix) and target.endswith("(deleted)"):
                total += os.fstat(int(fd)).st_size
        except (OSError, ValueError):
            pass
    return total


class _Watch:
    """A daemon thread that beats the job's heartbeat and measures its disk use while it runs."""

    def __init__(self, store: JobStore, job_id: str, run_id: str, settings: Settings, files: JobFiles) -> None:
        self.store, self.job_id, self.run_id, self.settings, self.files = store, job_id, run_id, settings, files
        self.tmp = files.root / "tmp"
        self.too_large: int | None = None
        self.superseded = False
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id[:8]}", daemon=True)

    def __enter__(self) -> _Watch:
        self.beat()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def beat(self) -> None:
        try:
            if not self.store.heartbeat(self.job_id, self.run_id):
                self.superseded = True
        except redis.RedisError as exc:
            log.warning("job %s: heartbeat failed: %s", self.job_id, exc)
        self.check_size()

    def check_size(self) -> None:
        used = _job_bytes(self.files.root, self.tmp)
        self.peak_bytes = max(self.peak_bytes, used)
        if used > self.settings.max_job_bytes:
            self.too_large = used

    def _run(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_interval_s):
            self.beat()


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, TransientJobError)):
        return True
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS


class _Progress:
    """Turns ``progress(stage, fraction)`` into throttled writes of (stage, overall progress)."""

    def __init__(self, store: JobStore, job_id: str, task: Task | None, interval_s: float, separate: bool,
                 watch: _Watch | None = None) -> None:
        self.store, self.job_id, self.task, self.watch = store, job_id, task, watch
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
        if self.watch is not None and self.watch.superseded:
            raise SupersededError(self.job_id)
        if self.watch is not None and self.watch.too_large is not None:
            raise JobTooLargeError(self.watch.too_large)
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
    run_id = secrets.token_hex(6)
    if not store.claim_run(job_id, run_id):  # a duplicate delivery while a live run works on it
        log.info("job %s: another run holds it (heartbeat alive); this delivery does nothing", job_id)
        return {"id": job_id, "state": "running", "duplicate": True}
    # this run holds the job: what a lost run left (its partial result, its temporary files) goes
    for stale in files.root.glob("result.partial*"):
        stale.unlink(missing_ok=True)
    shutil.rmtree(files.root / "tmp", ignore_errors=True)
    try:
        with _Watch(store, job_id, run_id, settings, files) as watch:
            return _run_claimed(job_id, settings, store, task, files, manifest, watch)
    finally:
        shutil.rmtree(files.root / "tmp", ignore_errors=True)
        try:
            store.release_run(job_id, run_id)
        except redis.RedisError:
            pass


def _run_claimed(job_id: str, settings: Settings, store: JobStore, task: Task | None, files: JobFiles,
                 manifest: dict[str, Any], watch: _Watch) -> dict[str, Any]:
    from core.errors import MoodmixError
    from moodmix.pipeline import mix_file

    rec = store.get(job_id) or {}
    attempts = int(rec.get("attempts") or 0) + 1
    store.update(job_id, attempts=attempts)
    fmt = str(manifest["format"])
    try:
        js = job_settings(manifest)
        if (manifest.get("options") or {}).get("music_file"):  # their own music (POST /jobs music=)
            js = js.with_(music=files.root / "music", emotion_with_music=True)
    except (TypeError, ValueError) as exc:
        return _fail(store, files, f"bad job options: {exc}")
    progress = _Progress(store, job_id, task, settings.progress_interval_s, separate=bool(js.separate),
                         watch=watch)
    progress("decode", 0.0)
    # this run's own partial file (same extension: the format is inferred from it), its own temporary folder
    work = files.root / f"result.partial-{watch.run_id}.{fmt}"
    watch.tmp.mkdir(exist_ok=True)
    old_tmp, old_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = str(watch.tmp)
    os.environ["TMPDIR"] = str(watch.tmp)  # ffmpeg and other children
    try:
        _check_limits(files, settings)  # the queue may hold jobs the API never saw (batch, older versions)
        report = mix_file(files.input, work, settings=js, progress=progress)
        watch.check_size()
        if watch.too_large is not None:
            raise JobTooLargeError(watch.too_large)
    except JobTooLargeError as exc:
        work.unlink(missing_ok=True)
        return _fail(store, files, f"the job's files grew past {int(exc.args[0]) / 1e9:.2f} GB, over the "
                     f"{settings.max_job_bytes / 1e9:.2f} GB limit of one job (MOODMIX_MAX_JOB_BYTES); send a "
                     "shorter file")
    except SupersededError:
        work.unlink(missing_ok=True)
        log.warning("job %s: another run took it over; this one stops", job_id)
        return {"id": job_id, "state": "superseded"}
    except SoftTimeLimitExceeded:
        work.unlink(missing_ok=True)
        return _fail(store, files, f"the job took longer than the {settings.soft_time_limit_s} s limit; "
                     "send a shorter file or raise MOODMIX_SOFT_TIME_LIMIT_S")
    except Exception as exc:
        work.unlink(missing_ok=True)
        if _out_of_space(exc):
            log.warning("job %s: out of space: %s", job_id, exc)
            raise OutOfSpaceError(OUT_OF_SPACE) from exc
        if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
            return _fail(store, files, f"a file of the job grew past the {settings.max_job_bytes / 1e9:.2f} GB "
                         "limit of one job (MOODMIX_MAX_JOB_BYTES); send a shorter file")
        if isinstance(exc, MoodmixError):
            return _fail(store, files, client_message(str(exc), settings, files))
        if _is_transient(exc):
            raise TransientJobError(f"{type(exc).__name__}: {exc}") from exc
        log.exception("job %s failed", job_id)
        return _fail(store, files, client_message(f"internal error: {type(exc).__name__}: {exc}", settings, files))
    finally:
        tempfile.tempdir = old_tmp
        if old_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old_env
    if not files.exists():  # deleted while it ran
        work.unlink(missing_ok=True)
        return {"id": job_id, "state": "deleted"}
    if files.report.exists():  # another run finished first: never replace a finished result
        work.unlink(missing_ok=True)
        store.mark_done(job_id)
        return {"id": job_id, "state": "done", "redelivered": True}
    report = public_report(report, manifest)
    report["job"] = {"runs": attempts, "requeues": int(rec.get("requeues") or 0),
                     "peak_disk_bytes": watch.peak_bytes}
    try:
        os.replace(work, files.result(fmt))
        atomic_write_json(files.report, report)  # its presence means "done"
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


def _check_limits(files: JobFiles, settings: Settings) -> None:
    """The service's input limits, from the header (cheap): raises InputLimitError (a MoodmixError)."""
    from core.errors import DecodeError
    from mixer.decode import probe
    from mixer.limits import check_input

    try:
        info = probe(files.input)
    except DecodeError:
        return  # not media: mix_file says so in its own words
    if info.audio is not None:
        check_input(sample_rate=info.audio.sample_rate, channels=info.audio.channels,
                    duration_s=max(info.audio.duration_s, info.duration_s), limits=settings.input_limits(),
                    name="the upload", hint=" (or raise the server's MOODMIX_* limit)")


def _fail(store: JobStore, files: JobFiles, message: str) -> dict[str, Any]:
    message = client_message(message, store.settings, files)
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
            if isinstance(exc, OutOfSpaceError):
                return _fail(store, files, f"{OUT_OF_SPACE} (tried {retries + 1} times)")
            return _fail(store, files, f"gave up after {retries + 1} tries: {exc}")
        countdown = min(settings.retry_backoff_max_s, 2 ** (retries + 1)) * random.uniform(0.5, 1.0)
        log.warning("job %s: transient error (%s); retry %d in %.1f s", job_id, exc, retries + 1, countdown)
        try:
            # queued, not running: no heartbeat while it waits, and the lost-job sweep must not take it
            store.update(job_id, state="queued", stage="retrying", error=f"retrying after: {exc}")
        except redis.RedisError:
            pass
        raise self.retry(exc=exc, countdown=countdown) from None
    except Retry:
        raise


@app.task(  # type: ignore[untyped-decorator]
    name="moodmix.remix_job",
    acks_late=True,
    soft_time_limit=_settings.soft_time_limit_s,
    time_limit=_settings.hard_time_limit_s,
)
def remix_job(job_id: str, version: int) -> dict[str, Any]:
    """Re-mix done job ``job_id`` as version ``version``: no re-analysis (see :mod:`workers.remix`)."""
    from workers.remix import run_remix

    return run_remix(job_id, int(version), settings=get_settings())


@app.task(name="moodmix.sweep", acks_late=False)  # type: ignore[untyped-decorator]
def sweep() -> dict[str, int]:
    """Remove expired jobs' files and re-queue jobs Redis lost (also scheduled by ``celery beat``)."""
    return JobStore(get_settings()).sweep(force=True)


def _cap_file_size(max_bytes: int) -> None:
    """No file this process (or its ffmpeg children) writes may pass ``max_bytes``: past it a write fails with
    EFBIG instead of filling the disk (SIGXFSZ, which would kill the process, is ignored)."""
    try:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        _soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        cap = max_bytes if hard == resource.RLIM_INFINITY else min(max_bytes, hard)
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, hard))
    except (ValueError, OSError, AttributeError) as exc:  # not on this platform
        log.warning("could not cap file sizes: %s", exc)


def _lost_job_sweeper(settings: Settings) -> None:
    """Re-queue jobs whose heartbeat stopped, every third of the heartbeat timeout, for as long as the worker
    runs (idempotent across workers: each job is re-queued once, under a Redis lock)."""
    store = JobStore(settings)
    period = max(1.0, settings.heartbeat_timeout_s / 3)
    while True:
        try:
            n = store.sweep_lost()
            if n:
                log.warning("re-queued %d job(s) whose worker was lost", n)
        except redis.RedisError as exc:
            log.debug("lost-job sweep failed: %s", exc)
        except Exception:  # noqa: BLE001 - keep sweeping
            log.exception("lost-job sweep failed")
        time.sleep(period)


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _on_process_init(**_: Any) -> None:
    _cap_file_size(get_settings().max_job_bytes)
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
    threading.Thread(target=_lost_job_sweeper, args=(get_settings(),), name="lost-job-sweeper",
                     daemon=True).start()
