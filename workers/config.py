"""Service settings in one place: broker URL, storage, limits, expiry and time limits.

Read from the environment (``MOODMIX_*``) and an optional ``.env`` file, else the defaults below. The worker,
the API and ``moodmix batch --queue`` all build one :class:`Settings`; the library packages never read the
environment.
"""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["AUDIO_FORMATS", "OUTPUT_FORMATS", "VIDEO_FORMATS", "Settings", "get_settings"]

#: Output formats the service writes (extension without the dot). Anything else is refused with 422.
AUDIO_FORMATS: tuple[str, ...] = ("wav", "flac", "mp3", "m4a", "aac", "ogg", "opus")
VIDEO_FORMATS: tuple[str, ...] = ("mp4", "m4v", "mov", "mkv", "webm")
OUTPUT_FORMATS: tuple[str, ...] = AUDIO_FORMATS + VIDEO_FORMATS


def _default_home() -> Path:
    return Path.home() / ".moodmix"


class Settings(BaseSettings):
    """Service configuration (``MOODMIX_<FIELD>`` in the environment, e.g. ``MOODMIX_REDIS_URL``)."""

    model_config = SettingsConfigDict(env_prefix="MOODMIX_", env_file=".env", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    home: Path = Field(default_factory=_default_home)
    #: Job directories (uploads and results); default ``<home>/jobs``. A volume of its own in docker-compose.
    jobs_path: Path | None = None
    queue: str = "moodmix"
    #: Largest upload accepted, in bytes (checked while the body streams in; 413 as soon as it is passed).
    max_upload_bytes: int = 512 * 1024 * 1024
    #: Longest media accepted, in seconds (checked by probing the upload; 422 when longer).
    max_duration_s: float = 3600.0
    #: Finished (done or failed) jobs and their files are removed this long after they finish.
    job_ttl_s: int = 24 * 3600
    #: A job that has not finished this long after it was created is removed too (stuck or abandoned).
    stale_job_s: int = 7 * 24 * 3600
    #: The cleanup sweep (expiry + recovery of jobs Redis lost) runs at most this often.
    cleanup_interval_s: int = 300
    #: Soft limit: the task gets SoftTimeLimitExceeded and marks the job failed; hard limit: the process is killed.
    soft_time_limit_s: int = 1800
    hard_time_limit_s: int = 1900
    #: Redis redelivers an unacknowledged task after this long: must exceed the hard limit, or a slow job that
    #: is still running would be handed to a second worker.
    visibility_timeout_s: int = 2100
    #: Transient failures (Redis connection, disk I/O) are retried with exponential backoff, at most this often.
    max_retries: int = 3
    retry_backoff_max_s: int = 300
    #: Load the default models when a worker process starts, so the first job does not pay for it.
    warm_models: bool = True
    #: Progress is written to Redis at most this often while a stage runs (stage changes are always written).
    progress_interval_s: float = 0.25

    @model_validator(mode="after")
    def _check_limits(self) -> Settings:
        if self.hard_time_limit_s <= self.soft_time_limit_s:
            raise ValueError(
                f"MOODMIX_HARD_TIME_LIMIT_S ({self.hard_time_limit_s}) must exceed MOODMIX_SOFT_TIME_LIMIT_S "
                f"({self.soft_time_limit_s}); raise the hard limit"
            )
        if self.visibility_timeout_s <= self.hard_time_limit_s:
            raise ValueError(
                f"MOODMIX_VISIBILITY_TIMEOUT_S ({self.visibility_timeout_s}) must exceed "
                f"MOODMIX_HARD_TIME_LIMIT_S ({self.hard_time_limit_s}), or a long job is redelivered while it "
                "still runs; raise the visibility timeout"
            )
        if self.max_upload_bytes <= 0 or self.max_duration_s <= 0:
            raise ValueError("MOODMIX_MAX_UPLOAD_BYTES and MOODMIX_MAX_DURATION_S must be positive")
        return self

    @property
    def jobs_dir(self) -> Path:
        """Where job directories live: ``<jobs_path or home/jobs>/<id>/``."""
        return self.jobs_path if self.jobs_path is not None else self.home / "jobs"


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
