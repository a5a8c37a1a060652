"""What the bot says, in English and Russian. :func:`say` picks the text by the user's language."""

from __future__ import annotations

from typing import Any

__all__ = ["LANGS", "language_of", "reading", "say"]

LANGS = ("en", "ru")

_EN: dict[str, str] = {
    "help": (
        "I put the right background music under your voice.\n\n"
        "• Send a voice message, an audio file, a video or a video note: I hear its mood and send it back "
        "mixed with music that fits, with a panel of the emotions I heard.\n"
        "• /emo TEXT — the mood of a text and the three tracks that fit it, each with a short excerpt.\n"
        "• /settings — preset, output format, mood override.\n"
        "• /lang — English / Русский.\n\n"
        "Files up to 20 MB. Music credits come with every track."
    ),
    "emo_ask": "Send me the text to read (one message).",
    "emo_wait": "Reading the mood…",
    "emo_reading": "Mood: {reading}.",
    "emo_tracks": "Music that fits:",
    "emo_not_english": "I read typed text in English only. Send it as a voice message instead: speech in other "
                       "languages is translated before I judge it.",
    "why": "why",
    "credit": "Music",
    "excerpt": "excerpt",
    "pick": "pick",
    "or": "or",
    "unsupported": "I take voice messages, audio, video, video notes and /emo TEXT. See /help.",
    "too_big_download": "That file is {size:.0f} MB; a Telegram bot can download at most 20 MB.{web}",
    "web_hint": " Use the web page instead: {url}",
    "too_big_send": "The result is {size:.0f} MB, over Telegram's 50 MB limit for bots.{link}",
    "link_hint": " Download it here (valid until the job expires): {url}",
    "no_link": " Try a shorter file.",
    "rate": "Easy — {n} requests a minute at most. Try again in a moment.",
    "busy": "You already have {n} mixes under way; wait until one is done.",
    "queued": "⏳ Queued…",
    "listening": "👂 Listening…",
    "choosing": "🎼 Choosing the music…",
    "mixing": "🎚 Mixing…",
    "sending": "📤 Sending…",
    "done": "✅ Done in {s:.1f} s.",
    "failed": "❌ {error}",
    "no_workers": "The mixing service does not answer right now; try again in a few minutes.",
    "timeout": "That took too long; try again later.",
    "internal": "Something went wrong on my side; try again.",
    "mixed_with": "Mixed with: {title}",
    "heard": "Heard: {reading}.",
    "transcript": "Words: “{text}”",
    "translation": "In English: “{text}”",
    "btn_another": "Another track",
    "btn_softer": "Music softer",
    "btn_louder": "Music louder",
    "level": "Music level: {db:+.0f} dB",
    "btn_calmer": "Calmer",
    "btn_livelier": "Livelier",
    "expired": "That mix has expired; send the file again.",
    "settings": "Your settings:\n• preset: {preset}\n• output: {format}\n• mood: {mood}\n\nTap to change.",
    "auto": "auto",
    "saved": "Saved.",
    "lang_set": "Language: English.",
    "lang_pick": "Choose the language:",
    "bad_input": "I could not use that file: {error}",
}

_RU: dict[str, str] = {
    "help": (
        "Я подкладываю под ваш голос подходящую фоновую музыку.\n\n"
        "• Пришлите голосовое, аудиофайл, видео или кружок: я услышу настроение и пришлю запись обратно с "
        "подходящей музыкой и панелью эмоций.\n"
        "• /emo ТЕКСТ — настроение текста и три подходящих трека, у каждого короткий отрывок.\n"
        "• /settings — пресет, формат, настроение.\n"
        "• /lang — English / Русский.\n\n"
        "Файлы до 20 МБ. У каждого трека — указание авторства."
    ),
    "emo_ask": "Пришлите текст одним сообщением.",
    "emo_wait": "Читаю настроение…",
    "emo_reading": "Настроение: {reading}.",
    "emo_tracks": "Подходящая музыка:",
    "emo_not_english": "Набранный текст я читаю только по-английски. Пришлите его голосовым: речь на других "
                       "языках я сначала перевожу.",
    "why": "почему",
    "credit": "Музыка",
    "excerpt": "отрывок",
    "pick": "выбор",
    "or": "или",
    "unsupported": "Я принимаю голосовые, аудио, видео, кружки и /emo ТЕКСТ. Подробнее: /help.",
    "too_big_download": "Файл весит {size:.0f} МБ, а бот в Telegram может скачать не больше 20 МБ.{web}",
    "web_hint": " Воспользуйтесь веб-страницей: {url}",
    "too_big_send": "Результат весит {size:.0f} МБ — больше лимита Telegram для ботов (50 МБ).{link}",
    "link_hint": " Скачать можно здесь (пока задание не истекло): {url}",
    "no_link": " Попробуйте файл покороче.",
    "rate": "Не так быстро — не больше {n} запросов в минуту. Попробуйте чуть позже.",
    "busy": "У вас уже {n} сведения в работе; дождитесь, пока одно закончится.",
    "queued": "⏳ В очереди…",
    "listening": "👂 Слушаю…",
    "choosing": "🎼 Подбираю музыку…",
    "mixing": "🎚 Свожу…",
    "sending": "📤 Отправляю…",
    "done": "✅ Готово за {s:.1f} с.",
    "failed": "❌ {error}",
    "no_workers": "Сервис сведения сейчас не отвечает; попробуйте через несколько минут.",
    "timeout": "Слишком долго; попробуйте позже.",
    "internal": "У меня что-то сломалось; попробуйте ещё раз.",
    "mixed_with": "Музыка: {title}",
    "heard": "Услышал: {reading}.",
    "transcript": "Слова: «{text}»",
    "translation": "По-английски: «{text}»",
    "btn_another": "Другой трек",
    "btn_softer": "Музыка тише",
    "btn_louder": "Музыка громче",
    "level": "Громкость музыки: {db:+.0f} дБ",
    "btn_calmer": "Спокойнее",
    "btn_livelier": "Живее",
    "expired": "Это сведение уже удалено; пришлите файл ещё раз.",
    "settings": "Ваши настройки:\n• пресет: {preset}\n• формат: {format}\n• настроение: {mood}\n\nНажмите, чтобы "
                "изменить.",
    "auto": "авто",
    "saved": "Сохранено.",
    "lang_set": "Язык: русский.",
    "lang_pick": "Выберите язык:",
    "bad_input": "Не получилось обработать файл: {error}",
}

_TEXTS = {"en": _EN, "ru": _RU}

#: The six labels in words.
_LABELS = {
    "en": {"sadness": "sadness", "joy": "joy", "love": "love", "anger": "anger", "fear": "fear",
           "surprise": "surprise"},
    "ru": {"sadness": "грусть", "joy": "радость", "love": "нежность", "anger": "злость", "fear": "страх",
           "surprise": "удивление"},
}


def language_of(code: str | None) -> str:
    """``ru`` for Russian (and the languages whose speakers mostly read it), else ``en``."""
    base = (code or "").split("-")[0].lower()
    return "ru" if base in ("ru", "be", "uk", "kk") else "en"


def say(lang: str, key: str, **kw: Any) -> str:
    text = _TEXTS.get(lang, _EN).get(key) or _EN[key]
    return text.format(**kw) if kw else text


def reading(lang: str, emotion: dict[str, Any]) -> str:
    """The emotion in words: the top labels with their shares, and how positive and excited it sounds."""
    labels = emotion.get("labels") or {}
    names = _LABELS.get(lang, _LABELS["en"])
    top = sorted(labels, key=lambda k: -float(labels[k]))[:2]
    parts = [f"{names.get(k, k)} {float(labels[k]):.0%}" for k in top]
    v, a = float(emotion.get("valence") or 0.0), float(emotion.get("arousal") or 0.0)
    if lang == "ru":
        tone = "светлое" if v > 0.15 else "тёмное" if v < -0.15 else "ровное"
        energy = "оживлённое" if a > 0.15 else "спокойное" if a < -0.15 else "умеренное"
    else:
        tone = "positive" if v > 0.15 else "negative" if v < -0.15 else "even"
        energy = "excited" if a > 0.15 else "calm" if a < -0.15 else "moderate"
    return f"{', '.join(parts)} — {tone}, {energy}"
