"""Per-user settings: language, preset, output format, mood override.

One table, ``moodmix_bot_users``, in SQLite under ``MOODMIX_HOME`` by default, or in the database of
``MOODMIX_TELEGRAM_DATABASE_URL`` / ``MOODMIX_DATABASE_URL`` (the catalog's, e.g. PostgreSQL) when one is given.
Blocking calls (SQLAlchemy); the bot runs them in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Column, MetaData, String, Table, create_engine, select

from mixer.presets import DEFAULT_PRESET
from mixer.presets import PRESETS as MIX_PRESETS

__all__ = ["FORMATS", "MOODS", "PRESETS", "PrefStore", "Prefs", "default_url"]

PRESETS: tuple[str, ...] = tuple(MIX_PRESETS)  # the presets of moodmix.settings / mixer.presets
#: Output formats offered for audio (video always comes back as mp4).
FORMATS = ("m4a", "mp3", "ogg")
#: Mood overrides offered in /settings (mood words every catalog knows); "" = as heard.
MOODS = ("", "calm", "joy", "sadness", "energetic")

_meta = MetaData()
_users = Table(
    "moodmix_bot_users", _meta,
    Column("user_id", BigInteger, primary_key=True),
    Column("lang", String(8), nullable=False, default=""),
    Column("preset", String(16), nullable=False, default=DEFAULT_PRESET),
    Column("format", String(8), nullable=False, default="m4a"),
    Column("mood", String(32), nullable=False, default=""),
)


@dataclass(frozen=True)
class Prefs:
    lang: str = ""  # "" = from the user's Telegram language
    preset: str = DEFAULT_PRESET
    format: str = "m4a"
    mood: str = ""


def default_url(home: Path) -> str:
    return f"sqlite:///{home / 'bot.sqlite'}"


class PrefStore:
    def __init__(self, url: str) -> None:
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(url, **kwargs)
        _meta.create_all(self.engine)

    def get(self, user_id: int) -> Prefs:
        with self.engine.connect() as conn:
            row = conn.execute(select(_users).where(_users.c.user_id == user_id)).first()
        if row is None:
            return Prefs()
        return Prefs(lang=row.lang or "", preset=row.preset or DEFAULT_PRESET, format=row.format or "m4a",
                     mood=row.mood or "")

    def set(self, user_id: int, **changes: str) -> Prefs:
        new = replace(self.get(user_id), **changes)
        values = {"lang": new.lang, "preset": new.preset, "format": new.format, "mood": new.mood}
        with self.engine.begin() as conn:
            done = conn.execute(_users.update().where(_users.c.user_id == user_id).values(**values)).rowcount
            if not done:
                conn.execute(_users.insert().values(user_id=user_id, **values))
        return new
