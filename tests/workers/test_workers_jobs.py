"""Job ids, tokens, names, records, expiry and recovery (storage + Redis records, no worker)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from svc_helpers import make_settings

from workers.config import Settings
from workers.jobs import JobStore, overall_progress
from workers.storage import (
    JobFiles,
    atomic_write_json,
    download_name,
    hash_token,
    new_job_id,
    new_token,
    safe_display_name,
    token_matches,
    valid_job_id,
)


def test_ids_and_tokens_are_unguessable_and_only_hashes_are_kept() -> None:
    ids = {new_job_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(valid_job_id(i) for i in ids)
    assert min(len(i) for i in ids) >= 24
    tok = new_token()
    assert len(tok) >= 43
    h = hash_token(tok)
    assert tok not in h and len(h) == 64
    assert token_matches(tok, h)
    assert not token_matches(tok[:-1] + ("A" if tok[-1] != "A" else "B"), h)
    assert not token_matches(None, h) and not token_matches(tok, None) and not token_matches("", h)


@pytest.mark.parametrize(("name", "expected"), [
    ("talk.WAV", "talk.moodmix.wav"),
    ("../../etc/passwd", "passwd.moodmix.wav"),
    ("C:\\Users\\me\\vlog.final.mp4", "vlog.final.moodmix.wav"),
    ("", "upload.moodmix.wav"),
    ("..", "upload.moodmix.wav"),
    ('a"b<c>.wav', "abc.moodmix.wav"),
])
def test_download_names_come_from_the_basename_only(name: str, expected: str) -> None:
    assert download_name(name, "wav") == expected


def test_safe_display_name_drops_control_characters() -> None:
    assert safe_display_name("a\x00b\nc.wav") == "abc.wav"
    assert len(safe_display_name("x" * 1000)) == 120


def test_job_files_refuse_ids_that_are_paths(tmp_path: Path) -> None:
    for bad in ("..", "../x", "a/b", "", "x" * 100, "job.json"):
        with pytest.raises(ValueError, match="not a job id"):
            JobFiles.of(tmp_path, bad)


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "d" / "report.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]


def test_overall_progress_is_monotonic_over_the_stages() -> None:
    stages = ["decode", "vad", "emotion", "select", "fit", "mix", "render"]
    values = [overall_progress(s, f, separate=False) for s in stages for f in (0.0, 0.5, 1.0)]
    assert values == sorted(values)
    assert values[0] == 0.0 and values[-1] == pytest.approx(1.0)
    assert overall_progress("separate", 0.5, separate=False) == 0.0
    assert 0 < overall_progress("separate", 0.5, separate=True) < overall_progress("emotion", 0.0, separate=True)


def test_settings_refuse_a_visibility_timeout_below_the_time_limit(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="VISIBILITY_TIMEOUT_S .* must exceed"):
        Settings(home=tmp_path, soft_time_limit_s=100, hard_time_limit_s=200, visibility_timeout_s=150)
    with pytest.raises(ValueError, match="HARD_TIME_LIMIT_S .* must exceed"):
        Settings(home=tmp_path, soft_time_limit_s=100, hard_time_limit_s=90, visibility_timeout_s=150)


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MOODMIX_REDIS_URL", "redis://example:6380/3")
    monkeypatch.setenv("MOODMIX_HOME", str(tmp_path))
    monkeypatch.setenv("MOODMIX_MAX_UPLOAD_BYTES", "1234")
    s = Settings()
    assert s.redis_url == "redis://example:6380/3" and s.jobs_dir == tmp_path / "jobs"
    assert s.max_upload_bytes == 1234


# ---- with Redis ------------------------------------------------------------------------------------------
def _job(store: JobStore, *, input_bytes: bytes = b"x", created_at: float | None = None) -> tuple[str, str]:
    job_id, token = new_job_id(), new_token()
    files = store.files(job_id)
    files.root.mkdir(parents=True)
    files.input.write_bytes(input_bytes)
    store.create(job_id, {"id": job_id, "token_hash": hash_token(token), "format": "wav",
                          "created_at": created_at or time.time(), "original_name": "a.wav", "options": {}})
    return job_id, token


@pytest.fixture
def store(tmp_path: Path, redis_url: str) -> JobStore:
    return JobStore(make_settings(tmp_path, redis_url, job_ttl_s=100, stale_job_s=1000))


@pytest.mark.redis
def test_records_follow_the_job_and_never_resurrect(store: JobStore) -> None:
    job_id, token = _job(store)
    assert store.authorize(job_id, token)["state"] == "queued"
    assert store.authorize(job_id, "wrong") is None
    assert store.mark_running(job_id, "emotion", 0.4)
    rec = store.get(job_id)
    assert rec is not None and rec["state"] == "running" and rec["progress"] == pytest.approx(0.4)
    assert store.mark_done(job_id)
    assert 0 < store.redis.ttl(store.key(job_id)) <= 100  # finished records expire
    store.delete(job_id)
    assert not store.files(job_id).exists()
    assert not store.mark_running(job_id, "mix", 0.9)  # a worker still running it cannot bring it back
    assert store.get(job_id) is None


@pytest.mark.redis
def test_sweep_removes_expired_jobs_and_keeps_fresh_ones(store: JobStore) -> None:
    old, _ = _job(store)
    store.mark_done(old)
    fresh, _ = _job(store)
    store.mark_done(fresh)
    stale, _ = _job(store, created_at=time.time() - 5000)  # never finished, far too old
    now = time.time()
    store.redis.hset(store.key(old), "finished_at", str(now - 500))
    counts = store.sweep(force=True, now=now)
    assert counts["removed"] == 2
    assert not store.files(old).exists() and store.get(old) is None
    assert not store.files(stale).exists()
    assert store.files(fresh).exists() and store.get(fresh) is not None
    # Throttled: a second, unforced sweep in the same interval does nothing.
    assert store.sweep() == {"removed": 0, "requeued": 0, "restored": 0}
    assert store.sweep() == {"skipped": 1}


@pytest.mark.redis
def test_sweep_removes_files_whose_record_expired(store: JobStore) -> None:
    job_id, _ = _job(store)
    files = store.files(job_id)
    atomic_write_json(files.report, {"ok": True})
    store.redis.delete(store.key(job_id))  # the record's TTL ran out
    assert store.sweep(force=True, now=time.time() + 50)["removed"] == 0  # not yet
    assert store.sweep(force=True, now=time.time() + 500)["removed"] == 1
    assert not files.exists()


@pytest.mark.redis
def test_jobs_redis_lost_are_requeued_from_their_directory(store: JobStore) -> None:
    job_id, token = _job(store)
    done_id, _ = _job(store)
    atomic_write_json(store.files(done_id).report, {"ok": True})
    queue_key = store.settings.queue
    store.redis.delete(store.key(job_id), store.key(done_id), queue_key)  # what a restart without persistence does
    sent: list[str] = []
    assert store.recover(job_id, enqueue=sent.append) == "requeued"
    assert sent == [job_id] and store.get(job_id)["state"] == "queued"
    assert store.recover(done_id) == "restored" and store.get(done_id)["state"] == "done"
    # The owner's GET brings a lost job back too (and a wrong token still sees nothing).
    store.redis.delete(store.key(job_id))
    assert store.authorize(job_id, "wrong") is None and store.get(job_id) is None
    rec = store.authorize(job_id, token)
    assert rec is not None and rec["state"] == "queued"
    assert store.redis.llen(queue_key) == 1  # the task was sent again, by name


@pytest.mark.redis
def test_a_job_whose_heartbeat_stopped_is_requeued_once(store: JobStore) -> None:
    """A running job whose heartbeat is older than the timeout (its worker was lost) goes back to the queue;
    many sweepers at once re-queue it once; a job that still beats is left alone."""
    job_id, token = _job(store)
    queue_key = store.settings.queue
    store.redis.delete(queue_key)
    assert store.claim_run(job_id, "run-a")
    store.mark_running(job_id, "emotion", 0.3)
    store.heartbeat(job_id, "run-a")
    assert not store.claim_run(job_id, "run-b")  # the live run holds it
    alive, _ = _job(store)
    store.mark_running(alive, "mix", 0.7)
    store.heartbeat(alive, "run-c")
    store.redis.delete(queue_key)
    later = time.time() + store.settings.heartbeat_timeout_s + 1
    outcomes = [store.requeue_lost(job_id, now=later) for _ in range(3)]
    assert outcomes == ["requeued", "none", "none"]
    assert store.redis.llen(queue_key) == 1
    rec = store.authorize(job_id, token)
    assert rec is not None and rec["state"] == "queued" and rec["requeues"] == "1"
    assert store.claim_run(job_id, "run-b")  # the dead run's claim was dropped
    assert store.get(alive)["state"] == "running"
    assert store.requeue_lost(alive) == "none"


@pytest.mark.redis
def test_a_job_lost_too_often_fails_with_a_reason(store: JobStore) -> None:
    from workers.jobs import MAX_REQUEUES

    job_id, token = _job(store)
    store.mark_running(job_id, "mix", 0.5)
    store.redis.hset(store.key(job_id), mapping={"requeues": str(MAX_REQUEUES), "heartbeat_at": "1"})
    assert store.sweep(force=True).get("failed") == 1
    rec = store.authorize(job_id, token)
    assert rec is not None and rec["state"] == "failed" and "worker was lost" in rec["error"]


def test_only_transient_errors_are_retried() -> None:
    import errno

    import redis

    from core.errors import DecodeError, InvalidAudioError
    from workers.tasks import TransientJobError, _is_transient

    assert _is_transient(redis.exceptions.ConnectionError("down"))
    assert _is_transient(redis.exceptions.TimeoutError("slow"))
    assert _is_transient(OSError(errno.ENOSPC, "No space left on device"))
    assert _is_transient(TransientJobError("x"))
    assert not _is_transient(DecodeError("cannot read x.wav"))
    assert not _is_transient(InvalidAudioError("bad array"))
    assert not _is_transient(OSError(errno.ENOENT, "No such file"))
    assert not _is_transient(ValueError("bug"))


@pytest.mark.redis
@pytest.mark.parametrize("kind", ["bad-input", "transient", "bug"])
def test_run_job_sorts_failures(store: JobStore, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """The task adapter's failure paths, with mix_file replaced by one that raises each kind of error (the real
    pipeline's errors are exercised end to end in test_workers_service.py)."""
    import redis

    import moodmix.pipeline
    from core.errors import DecodeError
    from workers.tasks import TransientJobError, run_job

    exc = {"bad-input": DecodeError("cannot read input as audio; the file is corrupt"),
           "transient": redis.exceptions.ConnectionError("Connection refused"),
           "bug": KeyError("oops")}[kind]

    def failing_mix_file(*args: Any, **kwargs: Any) -> dict[str, Any]:
        kwargs["progress"]("decode", 0.0)
        raise exc

    monkeypatch.setattr(moodmix.pipeline, "mix_file", failing_mix_file)
    job_id, _ = _job(store)
    if kind == "transient":
        with pytest.raises(TransientJobError, match="Connection refused"):
            run_job(job_id, settings=store.settings, store=store)
        assert store.get(job_id)["state"] == "running"  # the Celery task retries it with backoff
        assert not store.files(job_id).error.exists()
        return
    out = run_job(job_id, settings=store.settings, store=store)
    assert out["state"] == "failed"
    rec = store.get(job_id)
    assert rec["state"] == "failed"
    if kind == "bad-input":
        assert rec["error"] == "cannot read input as audio; the file is corrupt"
    else:
        assert rec["error"].startswith("internal error: KeyError")
    assert json.loads(store.files(job_id).error.read_text())["error"] == rec["error"]
    assert not list(store.files(job_id).root.glob("result*"))
