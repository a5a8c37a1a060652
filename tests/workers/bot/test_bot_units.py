"""The bot's small parts, without Telegram: texts, the token filter, user settings, the /emo folder sweep, the
panel rebuilt from a report."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from workers.bot.texts import language_of, reading, say


def test_language_follows_telegram_and_falls_back_to_english() -> None:
    assert language_of("ru") == "ru" and language_of("uk") == "ru" and language_of("en-US") == "en"
    assert language_of(None) == "en" and language_of("de") == "en"
    assert say("ru", "rate", n=3).startswith("Не так быстро — не больше 3")


def test_reading_names_the_top_emotions_and_the_quadrant() -> None:
    e = {"labels": {"sadness": 0.05, "joy": 0.7, "love": 0.1, "anger": 0.05, "fear": 0.05, "surprise": 0.05},
         "valence": 0.6, "arousal": 0.4}
    assert reading("en", e) == "joy 70%, love 10% — positive, excited"
    assert reading("ru", e).startswith("радость 70%")


def test_the_token_never_reaches_a_log_record(caplog: pytest.LogCaptureFixture) -> None:
    from workers.bot.app import RedactSecret

    token = "42:secret-part"
    log = logging.getLogger("moodmix.bot.test")
    log.addFilter(RedactSecret(token))
    with caplog.at_level(logging.INFO, logger="moodmix.bot.test"):
        log.info("GET %s failed", f"https://api.telegram.org/bot{token}/getMe")
    assert "secret-part" not in caplog.text and "bot***/getMe" in caplog.text


def test_prefs_are_kept_per_user(tmp_path: Path) -> None:
    from workers.bot.prefs import Prefs, PrefStore

    store = PrefStore(f"sqlite:///{tmp_path / 'p.db'}")
    assert store.get(1) == Prefs()
    store.set(1, preset="vlog")
    store.set(1, lang="ru")
    assert PrefStore(f"sqlite:///{tmp_path / 'p.db'}").get(1) == Prefs(lang="ru", preset="vlog")
    assert store.get(2) == Prefs()


def test_old_emo_folders_are_swept(tmp_path: Path) -> None:
    from workers.bot.bridge import Bridge
    from workers.config import Settings

    bridge = Bridge(Settings(home=tmp_path, redis_url="redis://127.0.0.1:1/0"))
    old = bridge.scratch()
    (old / "track1.mp3").write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    new = bridge.scratch()
    assert not old.exists() and new.is_dir()


def test_the_panel_is_drawn_from_a_report(tmp_path: Path) -> None:
    import json

    from workers.bot.tasks import panel

    labels = {"sadness": 0.1, "joy": 0.5, "love": 0.1, "anger": 0.1, "fear": 0.1, "surprise": 0.1}
    report = {"emotion": {"labels": labels, "valence": 0.3, "arousal": 0.2, "confidence": 0.8,
                          "sources": {"voice": {"labels": labels, "valence": 0.3, "arousal": 0.2, "confidence": 0.7},
                                      "text": {}},
                          "timeline": [{"start": 0.0, "end": 2.0, "labels": labels, "valence": 0.3, "arousal": 0.2,
                                        "confidence": 0.8, "text": "hello"}]}}
    (tmp_path / "report.json").write_text(json.dumps(report))
    out = panel(tmp_path / "report.json", tmp_path / "panel.png")
    assert out == {"picture": str(tmp_path / "panel.png")}
    assert (tmp_path / "panel.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "panel.png").stat().st_size > 10000
    assert panel(tmp_path / "missing.json", tmp_path / "x.png") == {"error": "the job has no emotion report"}


def test_user_settings_live_in_the_catalogs_database_when_one_is_named(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from workers.bot.app import BotApp
    from workers.bot.config import BotSettings
    from workers.config import Settings

    settings = Settings(home=tmp_path / "home", redis_url="redis://127.0.0.1:1/0")
    monkeypatch.setenv("MOODMIX_DATABASE_URL", f"sqlite:///{tmp_path / 'catalog.db'}")
    BotApp(BotSettings(), settings).prefs.set(7, preset="clear")
    rows = sqlite3.connect(tmp_path / "catalog.db").execute("select user_id, preset from moodmix_bot_users").fetchall()
    assert rows == [(7, "clear")] and not (tmp_path / "home" / "bot.sqlite").exists()
    monkeypatch.delenv("MOODMIX_DATABASE_URL")
    BotApp(BotSettings(), settings).prefs.set(8, preset="vlog")  # none named: SQLite in the home
    assert (tmp_path / "home" / "bot.sqlite").exists()
