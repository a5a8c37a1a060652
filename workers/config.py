"""Service settings in one place: broker URL, storage, limits, expiry and time limits.

Read from the environment (``MOODMIX_*``) and an optional ``.env`` file, else the defaults below. The worker,
the API and ``moodmix batch --queue`` all build one :class:`Settings`; the library packages never read the
environment.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mixer import formats

__all__ = ["AUDIO_FORMATS", "OUTPUT_FORMATS", "VIDEO_FORMATS", "Settings", "get_settings"]

#: Output formats the service writes (extension without the dot). Anything else is refused with 422.
#: The extensions a job may ask for: the renderer's table (mixer.formats), by name.
AUDIO_FORMATS: tuple[str, ...] = tuple(formats.AUDIO_FORMATS)
VIDEO_FORMATS: tuple[str, ...] = tuple(formats.VIDEO_FORMATS)
OUTPUT_FORMATS: tuple[str, ...] = formats.OUTPUT_FORMATS


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

    # ---- resource limits (see mixer.limits; checked from the probe, before a job is queued) -------------
    min_sample_rate_hz: int = 8000
    max_sample_rate_hz: int = 192000
    #: More channels than this are refused; up to this many are folded to stereo.
    max_channels: int = 32
    #: duration × rate × channels a job may decode; default ``max_duration_s`` of 48 kHz 8-channel audio.
    max_work_samples: int | None = None
    #: Disk one job may use (upload + decoded voice + temporary files + result); refused before queueing when
    #: its estimate is over, failed when its files grow past it while it runs.
    max_job_bytes: int = 4 * 1024**3
    #: /health says storage is unhealthy, and uploads answer 507, below this much free disk; default
    #: ``max_job_bytes`` (room for one more job of the largest size).
    min_free_bytes: int | None = None

    # ---- slow and many clients ---------------------------------------------------------------------------
    #: An upload that sends nothing for this long is cut off (408).
    upload_idle_timeout_s: float = 30.0
    #: After ``upload_grace_s``, an upload slower than this on average is cut off (408).
    upload_min_bytes_per_s: int = 16 * 1024
    upload_grace_s: float = 30.0
    #: Uploads in progress at once, overall and per client address; more answer 429. (Behind a reverse proxy
    #: that uvicorn does not trust with X-Forwarded-For, every client has the proxy's address.)
    max_concurrent_uploads: int = 64
    max_uploads_per_client: int = 20
    #: Connections at once (at most half the file-descriptor limit); a connection whose request headers are not
    #: complete this long after it opened is closed (workers.server).
    max_connections: int = 512
    header_timeout_s: float = 10.0
    #: GET /library requests per client per minute (it is cached; this bounds the cost of cache misses).
    library_requests_per_min: int = 30

    # ---- lost workers ------------------------------------------------------------------------------------
    #: A running job writes a heartbeat to its record this often ...
    heartbeat_interval_s: float = 5.0
    #: ... and a job whose heartbeat is older than this is taken as lost and re-queued by the sweep.
    heartbeat_timeout_s: float = 60.0

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
        if not 0 < self.min_sample_rate_hz <= self.max_sample_rate_hz:
            raise ValueError("MOODMIX_MIN_SAMPLE_RATE_HZ must be positive and at most MOODMIX_MAX_SAMPLE_RATE_HZ")
        if self.heartbeat_timeout_s < 3 * self.heartbeat_interval_s:
            raise ValueError(
                f"MOODMIX_HEARTBEAT_TIMEOUT_S ({self.heartbeat_timeout_s}) must be at least 3 heartbeats "
                f"(MOODMIX_HEARTBEAT_INTERVAL_S = {self.heartbeat_interval_s}), or live jobs are re-queued"
            )
        return self

    def input_limits(self) -> Any:
        """The :class:`mixer.limits.InputLimits` of an upload."""
        from mixer.limits import InputLimits

        work = self.max_work_samples
        if work is None:
            work = int(self.max_duration_s * 48000 * 8)
        return InputLimits(
            min_sample_rate_hz=self.min_sample_rate_hz, max_sample_rate_hz=self.max_sample_rate_hz,
            max_channels=self.max_channels, max_duration_s=self.max_duration_s, max_work_samples=work,
            max_decoded_bytes=self.max_job_bytes // 2,  # the decoded voice and a result as large must fit
        )

    @property
    def free_bytes_needed(self) -> int:
        """Free disk below which storage is unhealthy (one more job of the largest size)."""
        return self.min_free_bytes if self.min_free_bytes is not None else self.max_job_bytes

    @property
    def jobs_dir(self) -> Path:
        """Where job directories live: ``<jobs_path or home/jobs>/<id>/``."""
        return self.jobs_path if self.jobs_path is not None else self.home / "jobs"


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
