"""The bot itself: aiogram 3 handlers over :class:`~workers.bot.bridge.Bridge`, long polling.

Every answer has a text message of its own (the reading in words, the tracks with their reasons and credits); the
dashboard picture and the audio or video come beside it. Nothing here judges or mixes: ``/emo`` text and the
panels are worker tasks, media are mixed by the workers' ``mix_file``.

Bounds: files over 20 MB are refused before download, results over 50 MB are sent as a link (with
``MOODMIX_PUBLIC_URL``) or refused; a per-user rate limit and a cap on jobs per user; an unsupported message gets
a help line. An exception in one update is logged by type only (never the token, never message contents) and the
bot goes on. Downloaded media live in the job directory (removed with the job at its expiry; the bot keeps the
input for the re-mix buttons); the result, the panel and /emo's files are removed once sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import (
    CallbackQuery,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
    User,
)

from workers.bot.bridge import BotInputError, Bridge, SubmittedJob, stage_label
from workers.bot.config import BotSettings
from workers.bot.prefs import FORMATS, MOODS, PRESETS, Prefs, PrefStore, default_url
from workers.bot.texts import LANGS, language_of, reading, say
from workers.config import Settings
from workers.ratelimit import RateLimit

__all__ = ["BotApp", "RedactSecret", "build_bot", "run_bot"]

log = logging.getLogger("moodmix.bot")

#: Mood buttons: a new job from the kept input with the mood overridden (a mood is heard once per job; the
#: re-mix path keeps it), so these run the whole pipeline again.
_RERUN = {"c": ({"mood": "calm"}, False), "l": ({"mood": "energetic"}, False)}
#: Re-mix buttons (workers.remix: no re-analysis): another track from the job's ranked list, the bed softer/louder.
_REMIX = {"n": "next", "s": "softer", "u": "louder"}


def _media_of(message: Message) -> tuple[Any, str, str] | None:
    """(the file object, a display name, its kind) of a media message; None for anything else."""
    if message.voice:
        return message.voice, "voice.ogg", "voice"
    if message.audio:
        return message.audio, message.audio.file_name or "audio", "audio"
    if message.video:
        return message.video, message.video.file_name or "video.mp4", "video"
    if message.video_note:
        return message.video_note, "video_note.mp4", "video_note"
    doc = message.document
    if doc and (doc.mime_type or "").split("/")[0] in ("audio", "video"):
        return doc, doc.file_name or "file", "document"
    return None


class RedactSecret(logging.Filter):
    """Replace the token (and the ``bot<token>`` URL part) in every record with ``***``."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._re = re.compile(re.escape(secret)) if secret else None

    def filter(self, record: logging.LogRecord) -> bool:
        if self._re is None:
            return True
        msg = record.getMessage()
        if self._re.search(msg):
            record.msg, record.args = self._re.sub("***", msg), None
        if record.exc_info and record.exc_info[1] is not None and self._re.search(str(record.exc_info[1])):
            record.exc_info, record.exc_text = None, None
        return True


class BotApp:
    """Handlers and their state (settings, rate limits, the jobs in progress per user)."""

    def __init__(self, bot_settings: BotSettings, settings: Settings, *, bridge: Bridge | None = None,
                 prefs: PrefStore | None = None) -> None:
        self.cfg, self.settings = bot_settings, settings
        self.bridge = bridge or Bridge(settings)
        # user settings: their own URL, else the catalog's database (MOODMIX_DATABASE_URL), else SQLite in the home
        url = bot_settings.database_url or os.environ.get("MOODMIX_DATABASE_URL") or default_url(settings.home)
        self.prefs = prefs or PrefStore(url)
        self.rate = RateLimit(bot_settings.requests_per_min)
        self.slots: dict[int, int] = defaultdict(int)  # user → mixes under way (queued to sent)
        self.awaiting_emo: set[int] = set()
        self.warned: dict[int, float] = {}  # user → when the rate-limit line was last sent
        self.router = Router(name="moodmix")
        self._register()

    # ---- helpers -------------------------------------------------------------------------------------------
    async def _prefs(self, user: User | None) -> tuple[Prefs, str]:
        p = await asyncio.to_thread(self.prefs.get, user.id) if user else Prefs()
        return p, (p.lang or language_of(user.language_code if user else None))

    async def _edit(self, msg: Message, text: str) -> None:
        try:
            await msg.edit_text(text)
        except Exception as exc:  # noqa: BLE001 - "message is not modified" and the like: progress only
            log.debug("progress edit skipped: %s", type(exc).__name__)

    # ---- middleware: rate limit and nothing-crashes ------------------------------------------------------
    class _Guard(BaseMiddleware):
        def __init__(self, app: BotApp) -> None:
            self.app = app

        async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                           event: TelegramObject, data: dict[str, Any]) -> Any:
            user: User | None = data.get("event_from_user")
            if user is not None and not self.app.rate.allow(user.id):
                log.info("rate limit: update from user %s dropped", user.id)
                now = time.monotonic()
                if now - self.app.warned.get(user.id, -1e9) < 60.0:  # say it once a minute, not per message
                    return None
                self.app.warned[user.id] = now
                _, lang = await self.app._prefs(user)
                text = say(lang, "rate", n=self.app.cfg.requests_per_min)
                if isinstance(event, Message):
                    await event.answer(text)
                elif isinstance(event, CallbackQuery):
                    await event.answer(text, show_alert=False)
                return None
            try:
                return await handler(event, data)
            except Exception as exc:  # noqa: BLE001 - one update's failure never stops the bot
                log.error("update failed: %s in %s", type(exc).__name__, type(event).__name__)
                try:
                    lang = language_of(user.language_code) if user else "en"
                    if isinstance(event, (Message, CallbackQuery)):
                        await event.answer(say(lang, "internal"))
                except Exception as reply_exc:  # noqa: BLE001 - Telegram unreachable: nothing more to do
                    log.debug("could not say so: %s", type(reply_exc).__name__)
                return None

    # ---- handlers -------------------------------------------------------------------------------------------
    def _register(self) -> None:
        r = self.router
        guard = self._Guard(self)
        r.message.middleware(guard)
        r.callback_query.middleware(guard)
        r.message.register(self.on_help, CommandStart())
        r.message.register(self.on_help, Command("help"))
        r.message.register(self.on_lang, Command("lang"))
        r.message.register(self.on_settings, Command("settings"))
        r.message.register(self.on_emo, Command("emo"))
        r.message.register(self.on_media, F.voice | F.audio | F.video | F.video_note | F.document)
        r.message.register(self.on_text, F.text)
        r.message.register(self.on_other)
        r.callback_query.register(self.on_lang_button, F.data.startswith("lang:"))
        r.callback_query.register(self.on_settings_button, F.data.startswith("set:"))
        r.callback_query.register(self.on_rerun_button, F.data.startswith("re:"))
        r.callback_query.register(self.on_remix_button, F.data.startswith("rm:"))

    async def on_help(self, message: Message) -> None:
        _, lang = await self._prefs(message.from_user)
        await message.answer(say(lang, "help"))

    async def on_lang(self, message: Message) -> None:
        _, lang = await self._prefs(message.from_user)
        kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="English", callback_data="lang:en"),
                                                    InlineKeyboardButton(text="Русский", callback_data="lang:ru")]])
        await message.answer(say(lang, "lang_pick"), reply_markup=kb)

    async def on_lang_button(self, query: CallbackQuery) -> None:
        lang = (query.data or "").split(":", 1)[1]
        if lang in LANGS:
            await asyncio.to_thread(self.prefs.set, query.from_user.id, lang=lang)
            await query.answer(say(lang, "lang_set"))
            if isinstance(query.message, Message):
                await query.message.answer(say(lang, "lang_set"))

    def _settings_view(self, p: Prefs, lang: str) -> tuple[str, InlineKeyboardMarkup]:
        def mark(on: bool, label: str) -> str:
            return f"• {label}" if on else label

        rows = [
            [InlineKeyboardButton(text=mark(p.preset == x, x), callback_data=f"set:preset:{x}") for x in PRESETS],
            [InlineKeyboardButton(text=mark(p.format == x, x), callback_data=f"set:format:{x}") for x in FORMATS],
            [InlineKeyboardButton(text=mark(p.mood == x, x or say(lang, "auto")), callback_data=f"set:mood:{x}")
             for x in MOODS],
        ]
        text = say(lang, "settings", preset=p.preset, format=p.format, mood=p.mood or say(lang, "auto"))
        return text, InlineKeyboardMarkup(inline_keyboard=rows)

    async def on_settings(self, message: Message) -> None:
        p, lang = await self._prefs(message.from_user)
        text, kb = self._settings_view(p, lang)
        await message.answer(text, reply_markup=kb)

    async def on_settings_button(self, query: CallbackQuery) -> None:
        _, key, value = ((query.data or "") + "::").split(":")[:3]
        allowed = {"preset": PRESETS, "format": FORMATS, "mood": MOODS}
        if key not in allowed or value not in allowed[key]:
            await query.answer()
            return
        p = await asyncio.to_thread(self.prefs.set, query.from_user.id, **{key: value})
        lang = p.lang or language_of(query.from_user.language_code)
        await query.answer(say(lang, "saved"))
        if isinstance(query.message, Message):
            text, kb = self._settings_view(p, lang)
            try:
                await query.message.edit_text(text, reply_markup=kb)
            except Exception as exc:  # noqa: BLE001 - the settings are saved; the view is a courtesy
                log.debug("settings view not edited: %s", type(exc).__name__)

    async def on_emo(self, message: Message, command: CommandObject) -> None:
        text = (command.args or "").strip()
        user = message.from_user
        if not text:
            if user:
                self.awaiting_emo.add(user.id)
            _, lang = await self._prefs(user)
            await message.answer(say(lang, "emo_ask"))
            return
        await self.emo(message, text)

    async def on_text(self, message: Message) -> None:
        user = message.from_user
        if user and user.id in self.awaiting_emo:
            self.awaiting_emo.discard(user.id)
            await self.emo(message, message.text or "")
            return
        await self.on_other(message)

    async def on_other(self, message: Message) -> None:
        _, lang = await self._prefs(message.from_user)
        await message.answer(say(lang, "unsupported"))

    # ---- /emo ------------------------------------------------------------------------------------------------
    async def emo(self, message: Message, text: str) -> None:
        """The reading and the tracks as text first; then the panel and the excerpts (a second worker task)."""
        p, lang = await self._prefs(message.from_user)
        wait = await message.answer(say(lang, "emo_wait"))
        try:
            result = await asyncio.to_thread(self.bridge.emo, text[:4000], mood=p.mood or None,
                                             timeout_s=self.cfg.emo_timeout_s)
        except Exception as exc:  # noqa: BLE001 - no worker, Redis down, a timeout
            log.warning("/emo: the workers did not answer (%s)", type(exc).__name__)
            await self._edit(wait, say(lang, "no_workers" if "Timeout" not in type(exc).__name__ else "timeout"))
            return
        if result.get("error"):
            key = "emo_not_english" if result.get("kind") == "language" else None
            await self._edit(wait, say(lang, key) if key else say(lang, "bad_input", error=result["error"]))
            return
        await self._edit(wait, self._emo_text(lang, result))
        try:
            media = await asyncio.to_thread(self.bridge.emo_media, result, excerpt_s=self.cfg.excerpt_s,
                                            timeout_s=self.cfg.emo_timeout_s)
        except Exception as exc:  # noqa: BLE001 - the words went out; pictures and sound are extras
            log.warning("/emo: no panel or excerpts (%s)", type(exc).__name__)
            return
        try:
            if media.get("picture"):
                await message.answer_photo(FSInputFile(media["picture"]))
            tracks = result.get("tracks") or []
            for i, (t, excerpt) in enumerate(zip(tracks, media.get("excerpts") or [], strict=False), 1):
                if excerpt:
                    await message.answer_audio(FSInputFile(excerpt, filename=f"{i}. {t.get('title')}.mp3"),
                                               title=str(t.get("title") or "")[:64],
                                               performer=say(lang, "excerpt"),
                                               caption=f"{i}. {t.get('title')}"[:1000])
        finally:
            if media.get("dir"):
                shutil.rmtree(media["dir"], ignore_errors=True)

    def _emo_text(self, lang: str, result: dict[str, Any]) -> str:
        lines = [say(lang, "emo_reading", reading=reading(lang, result["emotion"])), "", say(lang, "emo_tracks")]
        for i, t in enumerate(result.get("tracks") or [], 1):
            lines.append(f"{i}. {t.get('title')} ({say(lang, 'pick' if i == 1 else 'or')})")
            if t.get("reasons"):
                lines.append(f"   {say(lang, 'why')}: " + "; ".join(t["reasons"]))
            if t.get("credit"):
                lines.append(f"   {say(lang, 'credit')}: {t['credit']}")
        return "\n".join(lines)[:4096]

    # ---- media -----------------------------------------------------------------------------------------------
    async def on_media(self, message: Message, bot: Bot) -> None:
        media = _media_of(message)
        p, lang = await self._prefs(message.from_user)
        if media is None:
            await message.answer(say(lang, "unsupported"))
            return
        obj, name, _kind = media
        size = getattr(obj, "file_size", None) or 0
        if size > self.cfg.download_max_bytes:
            web = say(lang, "web_hint", url=self.cfg.public_url) if self.cfg.public_url else ""
            await message.answer(say(lang, "too_big_download", size=size / 1e6, web=web))
            return
        user_id = message.from_user.id if message.from_user else 0
        async with self._slot(message, user_id, lang) as ok:
            if ok:
                await self._media_job(message, bot, obj.file_id, name, p, lang, user_id)

    async def _media_job(self, message: Message, bot: Bot, file_id: str, name: str, p: Prefs, lang: str,
                         user_id: int) -> None:
        progress = await message.answer(say(lang, "queued"))
        job_id, files = self.bridge.new_job()
        try:
            await bot.download(file_id, destination=files.upload_partial, timeout=120)
        except Exception as exc:  # noqa: BLE001 - Telegram refused or the connection broke
            files.remove()
            log.warning("download failed: %s", type(exc).__name__)
            await self._edit(progress, say(lang, "bad_input", error="the file could not be downloaded; send it again"))
            return
        options: dict[str, Any] = {"preset": p.preset}
        if p.mood:
            options["mood"] = p.mood
        try:
            job = await asyncio.to_thread(self.bridge.submit, job_id, original_name=name, options=options,
                                          audio_format=p.format, owner=user_id)
        except BotInputError as exc:
            await self._edit(progress, say(lang, "bad_input", error=str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - Redis down
            log.warning("queueing failed: %s", type(exc).__name__)
            await self._edit(progress, say(lang, "no_workers"))
            return
        await self.follow(message, progress, job, lang, user_id)

    @contextlib.asynccontextmanager
    async def _slot(self, message: Message, user_id: int, lang: str) -> AsyncIterator[bool]:
        """One of the user's ``max_active_jobs`` places, held from the request until its answer is sent."""
        if self.slots[user_id] >= self.cfg.max_active_jobs:
            await message.answer(say(lang, "busy", n=self.slots[user_id]))
            yield False
            return
        self.slots[user_id] += 1
        try:
            yield True
        finally:
            self.slots[user_id] -= 1
            if self.slots[user_id] <= 0:
                del self.slots[user_id]

    async def follow(self, message: Message, progress: Message, job: SubmittedJob, lang: str, user_id: int) -> None:
        """Edit the progress message as the job's stage changes; then send the panel, the result and the text."""
        t0 = time.monotonic()
        shown = "queued"
        while True:
            rec = await asyncio.to_thread(self.bridge.state, job)
            state = (rec or {}).get("state")
            if rec is None or state == "failed":
                error = (rec or {}).get("error") or (self.bridge.error(job.job_id) if job.version == 1 else None) \
                    or say(lang, "internal")
                await self._edit(progress, say(lang, "failed", error=error))
                return
            label = "sending" if state == "done" else stage_label(rec.get("stage"))
            if label != shown:
                shown = label
                log.info("job %s: %s", job.job_id, label)
                await self._edit(progress, say(lang, label))
            if state == "done":
                break
            if time.monotonic() - t0 > self.cfg.job_timeout_s:
                await self._edit(progress, say(lang, "timeout"))
                return
            await asyncio.sleep(self.cfg.poll_interval_s)
        await self._deliver(message, job, lang)
        await self._edit(progress, say(lang, "done", s=time.monotonic() - t0))

    async def _deliver(self, message: Message, job: SubmittedJob, lang: str) -> None:
        """The mix first (what the user waits for), then the panel (drawn by a worker meanwhile), then the text
        with the buttons. The result and the panel are removed once sent; the input stays for the buttons."""
        files = self.bridge.files(job.job_id)
        report = self.bridge.report_of(job) or {}
        result = self.bridge.result_of(job)
        if job.version == 1:  # a re-mix keeps the mood heard: no new panel
            panel_task = asyncio.ensure_future(asyncio.to_thread(self.bridge.panel, job.job_id,
                                                                 timeout_s=self.cfg.emo_timeout_s))
        else:
            panel_task = asyncio.ensure_future(asyncio.sleep(0, result=None))
        size = result.stat().st_size if result.exists() else 0
        keep_result = False
        try:
            name = f"moodmix.{job.format}" if job.version == 1 else f"moodmix.v{job.version}.{job.format}"
            if size > self.cfg.send_max_bytes:
                if self.cfg.public_url and job.token:
                    url = f"{self.cfg.public_url.rstrip('/')}/jobs/{job.job_id}/result?token={job.token}"
                    extra, keep_result = say(lang, "link_hint", url=url), True
                else:
                    extra = say(lang, "no_link")
                await message.answer(say(lang, "too_big_send", size=size / 1e6, link=extra))
            elif job.has_video:
                await message.answer_video(FSInputFile(result, filename=name))
            else:
                music = report.get("music") or {}
                await message.answer_audio(FSInputFile(result, filename=name), title="moodmix",
                                           performer=str(music.get("title") or "")[:64] or None)
            try:
                panel = await panel_task
            except Exception as exc:  # noqa: BLE001 - the mix went out; the panel is a courtesy
                log.warning("no panel: %s", type(exc).__name__)
                panel = None
            if panel is not None and panel.exists():
                await message.answer_photo(FSInputFile(panel))
            await message.answer(self._result_text(lang, report), reply_markup=self._rerun_keyboard(lang, job.job_id))
        finally:
            if not panel_task.done():
                panel_task.cancel()
            (files.root / "panel.png").unlink(missing_ok=True)
            if not keep_result:
                result.unlink(missing_ok=True)

    def _result_text(self, lang: str, report: dict[str, Any]) -> str:
        emotion, music = report.get("emotion") or {}, report.get("music") or {}
        lines = []
        if emotion.get("labels"):
            lines.append(say(lang, "heard", reading=reading(lang, emotion)))
        if emotion.get("transcript"):
            lines.append(say(lang, "transcript", text=str(emotion["transcript"])[:600]))
        if emotion.get("translation"):
            lines.append(say(lang, "translation", text=str(emotion["translation"])[:600]))
        if music.get("title"):
            lines.append("")
            lines.append(say(lang, "mixed_with", title=music["title"]))
            level = float((report.get("remix") or {}).get("music_db") or 0.0)
            if level:
                lines.append(say(lang, "level", db=level))
            for reason in music.get("reasons") or []:
                lines.append(f"   {reason}")
            if music.get("credit"):
                lines.append(f"{say(lang, 'credit')}: {music['credit']}")
        return "\n".join(lines)[:4096] or "moodmix"

    def _rerun_keyboard(self, lang: str, job_id: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(inline_keyboard=[
            [InlineKeyboardButton(text=say(lang, "btn_another"), callback_data=f"rm:n:{job_id}")],
            [InlineKeyboardButton(text=say(lang, "btn_softer"), callback_data=f"rm:s:{job_id}"),
             InlineKeyboardButton(text=say(lang, "btn_louder"), callback_data=f"rm:u:{job_id}")],
            [InlineKeyboardButton(text=say(lang, "btn_calmer"), callback_data=f"re:c:{job_id}"),
             InlineKeyboardButton(text=say(lang, "btn_livelier"), callback_data=f"re:l:{job_id}")],
        ])

    async def on_rerun_button(self, query: CallbackQuery) -> None:
        _, action, job_id = ((query.data or "") + "::").split(":")[:3]
        user = query.from_user
        _, lang = await self._prefs(user)
        if action not in _RERUN or not isinstance(query.message, Message):
            await query.answer()
            return
        await query.answer()
        async with self._slot(query.message, user.id, lang) as ok:
            if ok:
                await self._rerun(query.message, job_id, action, lang, user.id)

    async def _rerun(self, message: Message, job_id: str, action: str, lang: str, user_id: int) -> None:
        report = await asyncio.to_thread(self._report_or_none, job_id)
        changes, avoid_current = _RERUN[action]
        avoid = str((report or {}).get("music", {}).get("track") or "") if avoid_current else None
        try:
            job = await asyncio.to_thread(self.bridge.rerun, job_id, owner=user_id, changes=dict(changes),
                                          avoid=avoid or None)
        except (LookupError, ValueError):
            await message.answer(say(lang, "expired"))
            return
        except BotInputError as exc:
            await message.answer(say(lang, "bad_input", error=str(exc)))
            return
        progress = await message.answer(say(lang, "queued"))
        await self.follow(message, progress, job, lang, user_id)

    async def on_remix_button(self, query: CallbackQuery) -> None:
        _, action, job_id = ((query.data or "") + "::").split(":")[:3]
        user = query.from_user
        _, lang = await self._prefs(user)
        await query.answer()
        if action not in _REMIX or not isinstance(query.message, Message):
            return
        message = query.message
        async with self._slot(message, user.id, lang) as ok:
            if not ok:
                return
            try:
                job = await asyncio.to_thread(self.bridge.remix, job_id, owner=user.id, action=_REMIX[action])
            except (LookupError, ValueError):
                await message.answer(say(lang, "expired"))
                return
            except BotInputError as exc:
                await message.answer(say(lang, "bad_input", error=str(exc)))
                return
            progress = await message.answer(say(lang, "queued"))
            await self.follow(message, progress, job, lang, user.id)

    def _report_or_none(self, job_id: str) -> dict[str, Any] | None:
        try:
            return self.bridge.report(job_id)
        except ValueError:
            return None


def build_bot(cfg: BotSettings) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(cfg.api_url))
    return Bot(cfg.token.get_secret_value(), session=session, default=DefaultBotProperties())


def run_bot(cfg: BotSettings, settings: Settings) -> None:
    """Long polling until interrupted."""
    from core.errors import MoodmixError

    token = cfg.token.get_secret_value()
    if not token:
        raise MoodmixError("no bot token: create a bot with @BotFather and set MOODMIX_TELEGRAM_TOKEN")
    redact = RedactSecret(token)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    for name in ("aiogram", "aiogram.dispatcher", "aiogram.event", "moodmix.bot", "aiohttp"):
        logging.getLogger(name).addFilter(redact)
    app = BotApp(cfg, settings)
    try:
        bot = build_bot(cfg)
    except Exception as exc:  # noqa: BLE001 - aiogram's TokenValidationError: say so without echoing the token
        raise MoodmixError(f"MOODMIX_TELEGRAM_TOKEN is not a bot token ({type(exc).__name__}); copy it from "
                           "@BotFather") from None
    dp = Dispatcher()
    dp.include_router(app.router)
    log.info("moodmix bot: long polling %s", cfg.api_url)
    asyncio.run(dp.start_polling(bot, handle_signals=True, polling_timeout=10))
