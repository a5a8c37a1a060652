"""``moodmix bot``: the Telegram bot (aiogram 3, long polling) over the Celery workers.

Token from ``MOODMIX_TELEGRAM_TOKEN`` (never a flag: flags end up in shell history and ``ps``); the Bot API server
from ``--api-url`` or ``MOODMIX_TELEGRAM_API_URL`` (default the public one; a self-hosted ``telegram-bot-api`` or
an emulator otherwise). The workers, Redis and the job directories are the service's (``MOODMIX_*``).
"""

from __future__ import annotations

import logging

import typer

__all__ = ["register"]


def bot(
    api_url: str | None = typer.Option(None, "--api-url",
                                       help="Bot API server URL (default: MOODMIX_TELEGRAM_API_URL, else "
                                            "https://api.telegram.org)."),
    log_level: str = typer.Option("info", "--log-level", help="Log level (debug, info, warning)."),
) -> None:
    """Run the Telegram bot: /emo TEXT, voice messages and videos mixed by the workers (needs MOODMIX_TELEGRAM_TOKEN)."""
    from pydantic import ValidationError

    from core.errors import MoodmixError
    from workers.bot.app import run_bot
    from workers.bot.config import BotSettings
    from workers.config import get_settings

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = BotSettings(api_url=api_url) if api_url else BotSettings()  # type: ignore[call-arg]  # settings from env
    except ValidationError as exc:
        raise MoodmixError("; ".join(e["msg"] for e in exc.errors())) from None
    run_bot(cfg, get_settings())


def register(app: typer.Typer) -> None:
    app.command("bot")(bot)
