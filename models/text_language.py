"""Which language typed text is in, so that the English text model is not asked to guess at Russian.

Offline and small: ``py3langid`` (a modernised langid.py: naive Bayes over byte n-grams, 4.5 MB, numpy only), with
probabilities normalised over its 97 languages, plus the writing system, which is the stronger signal for short
texts (langid calls "Я тебя люблю" Ukrainian at 0.34, but it is certainly not English).

Text counts as not English when most of its letters are in a script English does not use (Cyrillic, Greek, Arabic,
Hebrew, CJK, ...), or when langid names another language with probability at least :data:`MIN_PROBABILITY`
(0.9). The bar is high because a false alarm refuses a user's English: on the 10,853 English Reddit comments of
GoEmotions' dev and test sets it raised none at 0.9 (1 at 0.8, 11 at 0.5, all short: "Most valuable comment" as
French at 0.56), while whole sentences in German, French, Spanish, Italian, Dutch, Portuguese, Polish, Swedish,
Finnish and Turkish scored 0.93 to 1.00. One- or two-word phrases ("Danke!", "Gracias amigo") stay below it and are
judged as English, which is what a user typing them in an English tool most likely meant.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from typing import Any

__all__ = ["MIN_PROBABILITY", "TextLanguage", "detect_text_language", "language_name"]

MIN_PROBABILITY = 0.9

#: Names for the messages; other codes are shown as they are.
_NAMES = {
    "ar": "Arabic", "be": "Belarusian", "bg": "Bulgarian", "cs": "Czech", "da": "Danish", "de": "German",
    "el": "Greek", "en": "English", "es": "Spanish", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "it": "Italian", "ja": "Japanese", "kk": "Kazakh",
    "ko": "Korean", "mk": "Macedonian", "nl": "Dutch", "no": "Norwegian", "pl": "Polish", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sr": "Serbian", "sv": "Swedish", "th": "Thai",
    "tr": "Turkish", "uk": "Ukrainian", "zh": "Chinese",
}


@dataclass(frozen=True)
class TextLanguage:
    """language: ISO 639-1 code ("" for text without letters); probability: langid's, normalised;
    script: the writing system of most letters ("Latin", "Cyrillic", ...; "" without letters);
    english: whether the English text model can read it (see the module doc)."""

    language: str
    probability: float
    script: str
    english: bool


def language_name(code: str) -> str:
    """English name of an ISO 639-1 code, or the code itself."""
    return _NAMES.get(code, code)


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    for script in ("LATIN", "CYRILLIC", "GREEK", "ARABIC", "HEBREW", "CJK", "HIRAGANA", "KATAKANA", "HANGUL",
                   "THAI", "DEVANAGARI", "ARMENIAN", "GEORGIAN"):
        if name.startswith(script):
            return script.title()
    return "other"


def detect_text_language(text: str) -> TextLanguage:
    """The language of typed text, and whether the English text model can read it.

    Parameters
    ----------
    text : str
        Any length; empty text and text without letters count as English (there is nothing to refuse).

    Examples
    --------
    >>> detect_text_language("Трусишка зайка серенький под елочкой плясал").english
    False
    >>> detect_text_language("I love you").english
    True
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return TextLanguage("", 0.0, "", True)
    counts: dict[str, int] = {}
    for c in letters:
        s = _script(c)
        counts[s] = counts.get(s, 0) + 1
    script = max(counts, key=lambda k: counts[k])
    ranked = _identifier().rank(text)
    if script not in ("Latin", "other"):
        # langid among the languages written in that script: its best guess is still only a guess on short text
        language, probability = ranked[0]
        return TextLanguage(str(language), float(probability), script, counts[script] < 0.5 * len(letters))
    language, probability = ranked[0]
    english = language in ("en", "zxx", "und") or float(probability) < MIN_PROBABILITY
    return TextLanguage(str(language), float(probability), script, english)
