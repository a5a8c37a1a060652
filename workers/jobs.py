"""Job records in Redis: state, stage, progress, error; expiry; recovery of jobs Redis lost.

One hash per job, ``moodmix:job:<id>``, with ``state`` in queued | running | done | failed, ``stage``,
``progress`` (0..1), ``error``, the token's hash and timestamps. Finished records get a Redis TTL of
``job_ttl_s``; :meth:`JobStore.sweep` removes the files of expired jobs and re-queues jobs whose record vanished
before they finished (a Redis restart without persistence), so no job is lost silently.

The API and the workers use this module; it imports neither numpy nor Celery.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import redis

from workers.config import Settings
from workers.storage import JobFiles, atomic_write_json, read_json, token_matches, valid_job_id

__all__ = ["KEY_PREFIX", "STAGES", "JobState", "JobStore"]

JobState = Literal["queued", "running", "done", "failed"]
KEY_PREFIX = "moodmix:job:"
_SWEEP_LOCK = "moodmix:sweep-lock"
#: Held by the one run of a job that is working on it (refreshed with its heartbeat, expires when it dies).
_RUN_CLAIM = "moodmix:run:"
#: Taken by whoever re-queues a lost job, so that many sweepers re-queue it once.
_REQUEUE_LOCK = "moodmix:requeue:"
#: A job re-queued this often (its worker lost each time) fails instead: it may be what kills the worker.
MAX_REQUEUES = 3

#: Stages in the order they run, with their share of the whole job (used to turn a stage's fraction into one
#: overall progress figure). ``separate`` only runs with ``--separate``; shares are renormalised over the
#: stages a job actually uses.
STAGES: dict[str, float] = {
    "queued": 0.0,
    "decode": 0.05,
    "vad": 0.05,
    "separate": 0.25,
    "emotion": 0.35,
    "select": 0.05,
    "fit": 0.05,
    "mix": 0.25,
    "render": 0.15,
}

# Update fields only while the record exists: a job deleted while it runs must not come back to life.
_UPDATE_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return 1
"""


# Keep (or take) a run's claim unless another run holds it.
_REFRESH_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
return 1
"""


def overall_progress(
    stage: str, fraction: float, *, separate: bool, weights: Mapping[str, float] | None = None
) -> float:
    """The job's progress in [0, 1] when ``stage`` is ``fraction`` done.

    ``weights`` are the stages' shares in run order (the pipeline's ``STAGES``); default :data:`STAGES`.
    """
    w = dict(weights) if weights is not None else dict(STAGES)
    w.pop("queued", None)
    if separate:
        w["separate"] = w.get("separate") or STAGES["separate"]
    else:
        w.pop("separate", None)
    order = list(w)
    if stage not in order:
        return 0.0
    total = sum(w.values()) or 1.0
    before = sum(w[s] for s in order[: order.index(stage)])
    return min(1.0, max(0.0, (before + w[stage] * min(1.0, max(0.0, fraction))) / total))


class JobStore:
    """Reads and writes job records and job directories.

    Parameters
    ----------
    settings : Settings
        Where the jobs live (``home``), Redis URL, expiry.
    client : redis.Redis, optional
        An existing client; by default one is made from ``settings.redis_url``.
    """

    def __init__(self, settings: Settings, client: redis.Redis | None = None) -> None:
        self.settings = settings
        self.redis: redis.Redis = client or redis.Redis.from_url(
            settings.redis_url, decode_responses=True, socket_timeout=10, socket_connect_timeout=5,
            health_check_interval=30, retry_on_timeout=True,
        )
        self._update = self.redis.register_script(_UPDATE_IF_EXISTS)
        self._refresh_claim = self.redis.register_script(_REFRESH_CLAIM)

    # ---- paths ---------------------------------------------------------------------------------------------
    def files(self, job_id: str) -> JobFiles:
        return JobFiles.of(self.settings.jobs_dir, job_id)

    @staticmethod
    def key(job_id: str) -> str:
        return KEY_PREFIX + job_id

    # ---- records -------------------------------------------------------------------------------------------
    def create(self, job_id: str, manifest: Mapping[str, Any]) -> None:
        """Write the manifest to the job directory and a ``queued`` record to Redis."""
        files = self.files(job_id)
        atomic_write_json(files.manifest, dict(manifest))
        self._write_queued(job_id, manifest)

    def _write_queued(self, job_id: str, manifest: Mapping[str, Any]) -> None:
        now = time.time()
        self.redis.hset(
            self.key(job_id),
            mapping={
                "id": job_id,
                "state": "queued",
                "stage": "queued",
                "progress": "0",
                "error": "",
                "token_hash": str(manifest["token_hash"]),
                "created_at": str(manifest.get("created_at", now)),
                "updated_at": str(now),
                "finished_at": "",
                "attempts": "0",
                "requeues": "0",
                "heartbeat_at": "",
            },
        )

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The record as a dict (progress as float), or None when there is none."""
        if not valid_job_id(job_id):
            return None
        raw = self.redis.hgetall(self.key(job_id))
        if not raw:
            return None
        rec: dict[str, Any] = {str(k): v for k, v in raw.items()}  # decode_responses: str keys and values
        rec["progress"] = float(rec.get("progress") or 0.0)
        rec["error"] = rec.get("error") or None
        return rec

    def authorize(self, job_id: str, token: str | None) -> dict[str, Any] | None:
        """The record when ``token`` is this job's token; None otherwise (missing job and wrong token look
        the same). A job whose record Redis lost but whose directory is intact is recovered here."""
        if not valid_job_id(job_id) or not token:
            return None
        rec = self.get(job_id)
        if rec is None:
            manifest = read_json(self.files(job_id).manifest)
            if not isinstance(manifest, dict) or not token_matches(token, manifest.get("token_hash")):
                return None
            self.recover(job_id)
            rec = self.get(job_id)
            if rec is None:
                return None
        return rec if token_matches(token, rec.get("token_hash")) else None

    def update(self, job_id: str, ttl_s: int = 0, **fields: Any) -> bool:
        """Set ``fields`` on an existing record (never re-creates a deleted one); True when it existed."""
        flat: list[str] = []
        for k, v in fields.items():
            flat += [k, "" if v is None else str(v)]
        flat += ["updated_at", str(time.time())]
        return bool(self._update(keys=[self.key(job_id)], args=[ttl_s, *flat]))

    def mark_running(self, job_id: str, stage: str, progress: float) -> bool:
        return self.update(job_id, state="running", stage=stage, progress=f"{progress:.4f}")

    def mark_done(self, job_id: str) -> bool:
        return self.update(
            job_id, self.settings.job_ttl_s, state="done", stage="done", progress="1", error="",
            finished_at=time.time(),
        )

    def mark_failed(self, job_id: str, error: str) -> bool:
        return self.update(
            job_id, self.settings.job_ttl_s, state="failed", stage="failed", error=error, finished_at=time.time()
        )

    # ---- heartbeats and lost jobs ------------------------------------------------------------------------
    def claim_run(self, job_id: str, run_id: str) -> bool:
        """Take the job for this run; False while another live run holds it (its heartbeat refreshes the
        claim, which expires ``heartbeat_timeout_s`` after its last beat)."""
        ttl = max(1, int(self.settings.heartbeat_timeout_s))
        key = _RUN_CLAIM + job_id
        if self.redis.set(key, run_id, nx=True, ex=ttl):
            return True
        return bool(self.redis.get(key) == run_id)

    def heartbeat(self, job_id: str, run_id: str) -> bool:
        """This run is alive: refresh its claim, then ``heartbeat_at`` in the record. False when another run
        holds the claim now (this one was taken for lost and re-queued): this run should stop."""
        ttl = max(1, int(self.settings.heartbeat_timeout_s))
        if not self._refresh_claim(keys=[_RUN_CLAIM + job_id], args=[run_id, ttl]):
            return False
        self.update(job_id, heartbeat_at=f"{time.time():.3f}")
        return True

    def release_run(self, job_id: str, run_id: str) -> None:
        key = _RUN_CLAIM + job_id
        if self.redis.get(key) == run_id:
            self.redis.delete(key)

    def is_lost(self, rec: Mapping[str, Any], now: float | None = None) -> bool:
        """A running job whose heartbeat (or, before its first beat, last update) is older than the timeout."""
        if rec.get("state") != "running":
            return False
        now = time.time() if now is None else now
        last = float(rec.get("heartbeat_at") or rec.get("updated_at") or now)
        return now - last > self.settings.heartbeat_timeout_s

    def requeue_lost(self, job_id: str, now: float | None = None) -> str:
        """Re-queue ``job_id`` when its worker was lost (see :meth:`is_lost`). Idempotent: of many callers at
        once, one re-queues. Returns ``"requeued"``, ``"failed"`` (lost too often), or ``"none"``."""
        rec = self.get(job_id)
        files = self.files(job_id)
        if rec is None or not self.is_lost(rec, now) or not files.input.exists():
            return "none"
        if not self.redis.set(_REQUEUE_LOCK + job_id, "1", nx=True, ex=max(5, int(self.settings.heartbeat_timeout_s))):
            return "none"
        if files.finished():  # it finished on disk; only its record missed it
            self.redis.delete(self.key(job_id))
            return self.recover(job_id)
        requeues = int(rec.get("requeues") or 0) + 1
        if requeues > MAX_REQUEUES:
            self.mark_failed(job_id, f"the job's worker was lost {requeues - 1} times while running it; the "
                             "input may be what stops it: try a shorter or re-exported file")
            return "failed"
        self.redis.delete(_RUN_CLAIM + job_id)  # its holder is dead: the new run may take it at once
        self.update(job_id, state="queued", stage="queued", requeues=requeues, heartbeat_at="", error="")
        self.enqueue(job_id)
        return "requeued"

    def sweep_lost(self, now: float | None = None) -> int:
        """Re-queue every lost running job of this jobs directory; the number re-queued. Cheap (one SCAN),
        not throttled: workers run it every few seconds."""
        n = 0
        for key in self.redis.scan_iter(match=KEY_PREFIX + "*", count=500):
            job_id = str(key)[len(KEY_PREFIX):]
            if not valid_job_id(job_id) or not self.files(job_id).manifest.exists():
                continue  # another deployment's (or another test's) job
            if self.requeue_lost(job_id, now) == "requeued":
                n += 1
        return n

    def delete(self, job_id: str) -> None:
        """Remove the job's files, then its record."""
        self.files(job_id).remove()
        self.redis.delete(self.key(job_id))

    # ---- expiry and recovery -------------------------------------------------------------------------------
    def recover(self, job_id: str, enqueue: Callable[[str], None] | None = None) -> str:
        """Bring back a job whose Redis record is gone, from its directory.

        Returns what happened: ``"requeued"`` (no result yet: record written as queued and the task sent again),
        ``"restored"`` (finished on disk: record rebuilt as done/failed), or ``"none"``.
        """
        files = self.files(job_id)
        manifest = read_json(files.manifest)
        if not isinstance(manifest, dict) or self.redis.exists(self.key(job_id)):
            return "none"
        if files.report.exists():
            self._write_queued(job_id, manifest)
            self.mark_done(job_id)
            return "restored"
        if files.error.exists():
            err = read_json(files.error) or {}
            self._write_queued(job_id, manifest)
            self.mark_failed(job_id, str(err.get("error") if isinstance(err, dict) else err))
            return "restored"
        if not files.input.exists():
            return "none"  # upload never completed
        self._write_queued(job_id, manifest)
        (enqueue or self.enqueue)(job_id)
        return "requeued"

    def enqueue(self, job_id: str) -> None:
        """Send the mix task for ``job_id`` by name (no worker code imported here)."""
        from workers.celery_app import client_app

        client_app(self.settings).send_task(
            "moodmix.mix_job", args=[job_id], queue=self.settings.queue, task_id=f"{job_id}"
        )

    def sweep(self, *, force: bool = False, now: float | None = None) -> dict[str, int]:
        """Remove expired jobs' files; re-queue jobs Redis lost. Runs at most every ``cleanup_interval_s``
        across all API and worker processes (a Redis lock), unless ``force``."""
        lock = f"{_SWEEP_LOCK}:{hashlib.sha1(str(self.settings.jobs_dir).encode()).hexdigest()[:12]}"
        if not force and not self.redis.set(lock, "1", nx=True, ex=self.settings.cleanup_interval_s):
            return {"skipped": 1}
        now = time.time() if now is None else now
        counts = {"removed": 0, "requeued": 0, "restored": 0}
        root = self.settings.jobs_dir
        if not root.is_dir():
            return counts
        for d in root.iterdir():
            if not d.is_dir() or not valid_job_id(d.name):
                continue
            files = JobFiles(d)
            rec = self.get(d.name)
            manifest = read_json(files.manifest)
            created = float(manifest.get("created_at", 0)) if isinstance(manifest, dict) else 0.0
            if not created:
                try:
                    created = d.stat().st_mtime
                except OSError:
                    continue
            if rec is not None:
                finished = float(rec.get("finished_at") or 0)
                expired = (finished and now - finished > self.settings.job_ttl_s) or (
                    now - created > self.settings.stale_job_s
                )
                if expired:
                    self.delete(d.name)
                    counts["removed"] += 1
                elif self.is_lost(rec, now):
                    # No heartbeat for heartbeat_timeout_s: its worker was lost (kill -9, OOM, a lost machine).
                    # Run it again now instead of waiting for the broker's visibility timeout.
                    outcome = self.requeue_lost(d.name, now)
                    if outcome in ("requeued", "failed"):
                        counts[outcome] = counts.get(outcome, 0) + 1
                continue
            # No record: expired (TTL) after finishing, an upload that never completed, or lost by Redis.
            if files.finished() or not files.input.exists() or not isinstance(manifest, dict):
                age = now - max(created, _mtime(files.report), _mtime(files.error))
                if age > self.settings.job_ttl_s or (not files.finished() and age > 3600):
                    files.remove()
                    counts["removed"] += 1
                continue
            if now - created > self.settings.stale_job_s:
                files.remove()
                counts["removed"] += 1
                continue
            outcome = self.recover(d.name)
            if outcome in counts:
                counts[outcome] += 1
        return counts

    def ping(self) -> bool:
        try:
            return bool(self.redis.ping())
        except redis.RedisError:
            return False


def _mtime(path: Any) -> float:
    try:
        return float(path.stat().st_mtime)
    except OSError:
        return 0.0
