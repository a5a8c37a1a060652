"""The Celery app: Redis broker and result backend from ``MOODMIX_REDIS_URL``, settings for long media jobs.

Run a worker with ``moodmix worker`` (or ``celery -A workers.celery_app worker``). Reliability choices:

- ``task_acks_late`` + ``task_reject_on_worker_lost``: a task is acknowledged only after it finished, so when a
  worker dies mid-job (``kill -9``, OOM, a lost machine) the job runs again. With the Redis transport an
  unacknowledged message goes back to the queue after ``visibility_timeout``; when only a pool process dies, the
  parent rejects the message and it is redelivered at once.
- ``visibility_timeout`` above the hard time limit (checked in :class:`~workers.config.Settings`), so a slow job
  that is still running is never handed to a second worker.
- ``worker_prefetch_multiplier = 1``: a worker holds one job per process, the others stay in the queue for
  whichever worker frees up first (jobs are minutes long, fairness matters more than round trips).
- Soft/hard time limits per task; retries with exponential backoff only for transient errors (see
  :mod:`workers.tasks`); tasks are idempotent: each job writes to fixed paths in its own directory, atomically.

The API does not import this module's tasks: it sends them by name through :func:`client_app`.
"""

from __future__ import annotations

import functools
from typing import Any

from celery import Celery

from workers.config import Settings, get_settings

__all__ = ["app", "celery_config", "client_app", "make_app"]


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration for ``settings`` (shared by the worker app and the API's client app)."""
    transport = {
        "visibility_timeout": settings.visibility_timeout_s,
        # How often a worker looks for messages whose worker died (unacked for longer than the visibility
        # timeout) and puts them back in the queue; kombu's default is every 100 s. Also done at startup.
        "unacked_restore_interval": max(1, min(60, settings.visibility_timeout_s // 4)),
        "unacked_restore_throttle": 1,
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        "retry_on_timeout": True,
        "health_check_interval": 30,
    }
    return {
        "broker_url": settings.redis_url,
        "result_backend": settings.redis_url,
        "broker_transport_options": transport,
        "result_backend_transport_options": {"visibility_timeout": settings.visibility_timeout_s},
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # keep trying while Redis restarts
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": settings.queue,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,  # a job that failed for good is not redone
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.soft_time_limit_s,
        "task_time_limit": settings.hard_time_limit_s,
        "task_track_started": True,
        "result_expires": settings.job_ttl_s,
        "worker_max_tasks_per_child": None,  # keep the loaded models
        "worker_proc_alive_timeout": 300.0,  # a pool process loads the models before it says it is up
        "worker_send_task_events": True,  # for flower
        "task_send_sent_event": True,
        "timezone": "UTC",
        "beat_schedule": {
            "moodmix-sweep": {"task": "moodmix.sweep", "schedule": float(settings.cleanup_interval_s)},
        },
    }


def make_app(settings: Settings | None = None) -> Celery:
    """The worker's Celery app, with the tasks of :mod:`workers.tasks` registered."""
    settings = settings or get_settings()
    celery = Celery("moodmix", include=["workers.tasks", "workers.bot.tasks"])  # bot: /emo text, panels
    celery.conf.update(celery_config(settings))
    return celery


@functools.lru_cache(maxsize=8)
def _client_app(redis_url: str, settings_json: str) -> Celery:
    settings = Settings.model_validate_json(settings_json)
    celery = Celery("moodmix-client")
    celery.conf.update(celery_config(settings))
    return celery


def client_app(settings: Settings) -> Celery:
    """A Celery app for sending tasks by name (the API, ``batch --queue``): no task code imported."""
    return _client_app(settings.redis_url, settings.model_dump_json())


app = make_app()
