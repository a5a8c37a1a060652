"""The Telegram bot (``moodmix bot``): a thin front end over the Celery workers and the one pipeline.

- :mod:`workers.bot.config` — :class:`BotSettings` (token, Bot API URL, limits), from ``MOODMIX_TELEGRAM_*``.
- :mod:`workers.bot.texts` — the English and Russian texts.
- :mod:`workers.bot.prefs` — per-user settings (language, preset, output format, mood), SQLite by default.
- :mod:`workers.bot.bridge` — what the bot asks of the workers: jobs made the way ``POST /jobs`` makes them,
  ``/emo`` text and the emotions panel as tasks sent by name.
- :mod:`workers.bot.tasks` — the worker side of those two tasks (library calls only).
- :mod:`workers.bot.app` — aiogram 3 handlers and :func:`~workers.bot.app.run_bot` (long polling).

This package's ``__init__`` imports nothing: the worker loads :mod:`workers.bot.tasks` without aiogram, and the
bot process never imports numpy, torch or the models.
"""
