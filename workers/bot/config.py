"""The bot's settings: ``MOODMIX_TELEGRAM_*`` (and ``MOODMIX_DATABASE_URL`` for where user settings live).

The service's own settings (Redis, job directories, input limits) are :class:`workers.config.Settings`; the bot
reads both. The token is a :class:`~pydantic.SecretStr`: it never appears in a repr, a log or an error.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["PUBLIC_API_URL", "BotSettings"]

PUBLIC_API_URL = "https://api.telegram.org"


class BotSettings(BaseSettings):
    """``MOODMIX_TELEGRAM_<FIELD>`` in the environment (e.g. ``MOODMIX_TELEGRAM_TOKEN``)."""

    model_config = SettingsConfigDict(env_prefix="MOODMIX_TELEGRAM_", env_file=".env", extra="ignore",
                                      populate_by_name=True)

    token: SecretStr = SecretStr("")
    #: Bot API server: the public one, a self-hosted ``telegram-bot-api`` or an emulator.
    api_url: str = PUBLIC_API_URL
    #: Where user settings are kept; default ``sqlite:///<MOODMIX_HOME>/bot.sqlite``, or MOODMIX_DATABASE_URL.
    database_url: str | None = None
    #: The web page / API's public address; with it, results too large to send become a download link.
    public_url: str | None = Field(None, validation_alias=AliasChoices("MOODMIX_PUBLIC_URL", "public_url"))
    #: Bot API limits (cloud server): a bot downloads at most 20 MB and sends at most 50 MB.
    download_max_bytes: int = 20 * 1000 * 1000
    send_max_bytes: int = 50 * 1000 * 1000
    #: Requests (commands, texts, media, buttons) a user may make per minute, and jobs queued or running at once.
    requests_per_min: int = 12
    max_active_jobs: int = 2
    #: Length of the track excerpts /emo sends, in seconds.
    excerpt_s: float = 15.0
    #: How long /emo waits for its worker answer, and a mix for its job, before saying so.
    emo_timeout_s: float = 60.0
    job_timeout_s: float = 1800.0
    #: How often a running job's record is read for the progress message.
    poll_interval_s: float = 0.25

    @field_validator("api_url")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"MOODMIX_TELEGRAM_API_URL must be an http(s) URL, got {v[:40]!r}")
        return v
