"""The bot's conversation without the workers' heavy work: /start, /help, /lang, /settings, unsupported content,
a file over 20 MB, the rate limit, and the logs (no token, no message contents). Runs against telegram-test-api
(through fake_bot_api.py's pass-through; no file flows here)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from bot_helpers import TOKEN, Chat

pytestmark = [pytest.mark.redis]


def test_start_and_help_in_the_users_language(emulator, bot) -> None:
    en, ru = Chat(emulator, 101, "en"), Chat(emulator, 102, "ru")
    en.send("/start")
    ru.send("/start")
    assert "background music under your voice" in en.replies(1)[0]["text"]
    assert "фоновую музыку" in ru.replies(1)[0]["text"]
    en.send("/help")
    assert "/emo TEXT" in en.replies(1)[0]["text"]


def test_lang_switches_the_language_and_settings_are_kept(emulator, bot) -> None:
    chat = Chat(emulator, 103, "ru")
    chat.send("/lang")
    pick = chat.replies(1)[0]
    assert pick["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "lang:en"
    chat.press("lang:en", pick["message_id"])
    assert chat.replies(1)[0]["text"] == "Language: English."
    chat.send("/help")
    assert "background music under your voice" in chat.replies(1)[0]["text"]
    chat.send("/settings")
    view = chat.replies(1)[0]
    assert "preset: podcast" in view["text"]
    chat.press("set:preset:vlog", view["message_id"])
    for _ in range(100):  # the view is edited in place
        if "preset: vlog" in chat.current(view["message_id"])["text"]:
            break
        import time

        time.sleep(0.05)
    assert "preset: vlog" in chat.current(view["message_id"])["text"]
    db = Path(bot.log.parent / "bot.db")
    row = sqlite3.connect(db).execute("select lang, preset from moodmix_bot_users where user_id = 103").fetchone()
    assert row == ("en", "vlog")


def test_unsupported_content_gets_a_help_line(emulator, bot) -> None:
    chat = Chat(emulator, 104, "en")
    chat.send(sticker={"file_id": "x", "file_unique_id": "x", "type": "regular", "width": 1, "height": 1,
                       "is_animated": False, "is_video": False})
    assert chat.replies(1)[0]["text"].startswith("I take voice messages")
    chat.send("hello there")  # plain text outside /emo
    assert chat.replies(1)[0]["text"].startswith("I take voice messages")
    chat.send(document={"file_id": "d", "file_unique_id": "d", "file_name": "notes.pdf",
                        "mime_type": "application/pdf"})
    assert chat.replies(1)[0]["text"].startswith("I take voice messages")


def test_a_file_over_20_mb_is_refused_before_download(emulator, bot) -> None:
    chat = Chat(emulator, 105, "en")
    chat.send(voice={"file_id": "never-there", "file_unique_id": "n", "duration": 900, "file_size": 25_000_000})
    text = chat.replies(1)[0]["text"]
    assert "25 MB" in text and "at most 20 MB" in text


def test_rate_limit_per_user_and_the_bot_goes_on(emulator, bot) -> None:
    chat = Chat(emulator, 106, "en")
    for _ in range(12):  # the limit is 8 a minute in these tests
        chat.send("/help")
    got = chat.replies(until=lambda m: str(m.get("text", "")).startswith("Easy"), timeout_s=20)
    import time

    time.sleep(1.0)
    got += chat.replies(0, timeout_s=0.5)
    assert sum(str(m.get("text", "")).startswith("Easy") for m in got) == 1  # said once, not per message
    assert sum("/emo TEXT" in str(m.get("text", "")) for m in got) == 8
    other = Chat(emulator, 107, "en")  # another user is not held back
    other.send("/help")
    assert "/emo TEXT" in other.replies(1)[0]["text"]


def test_logs_hold_neither_the_token_nor_message_contents(emulator, bot) -> None:
    chat = Chat(emulator, 108, "en")
    secret_words = "my very private sentence 4711"
    chat.send(secret_words)
    chat.replies(1)
    log = bot.text()
    assert "Run polling" in log
    assert TOKEN not in log and TOKEN.split(":")[1] not in log
    assert secret_words not in log
