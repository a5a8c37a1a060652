"""Tell heard words from Whisper's hallucinations: repetition loops, filler, low confidence.

Whisper decodes fluent text even where it hears nothing it knows: a stuck loop ("give you a chance to give you a
chance to ..."), stock phrases over noise, or confident-looking words in the wrong language. moodmix would then
judge the emotion of words nobody said, so such words are dropped (with a note) and the voice alone counts.

Checks, each with the value it uses and why:

- :data:`MIN_AVG_LOGPROB` = -1.0: Whisper's own ``log_prob_threshold`` (a window below it is "failed"). Measured on
  espeak-ng speech through Whisper base: windows of intelligible speech scored -0.11 to -0.87 (German, Spanish,
  Italian, Polish, clear Russian; EmoDB's German -0.11 to -0.55), gibberish decoded from Russian espeak that base
  mistook for German, Hebrew, French, Italian or Polish scored -1.06 to -1.43.
- :data:`MIN_TRANSLATION_AVG_LOGPROB` = -1.5: a translation's tokens are less certain than a transcript's of the
  same speech (measured -0.23 to -1.16 for usable English translations of German, Spanish and Russian), while
  translations of gibberish scored -1.61 and -1.86.
- :data:`NO_SPEECH_PROB` = 0.6 with a log-probability under -1.0: Whisper's ``no_speech_threshold`` rule for a
  window that holds no speech.
- :func:`repetition_loop`: a word sequence repeated so that the repeats cover most of one speech piece's text.
- :data:`MAX_COMPRESSION_RATIO` = 2.4: Whisper's ``compression_ratio_threshold`` (gzip ratio of the text), applied
  to the text of one speech piece (at most ``max_piece_s`` = 10 s). Not to a whole 30 s window: speech that really
  repeats itself would fail there (EmoDB's actors say each sentence in several emotions: measured window ratios
  2.3 to 6.3 for correct German transcripts, against 7.4 to 14.5 for tiny.en's English loops on the same audio).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter

__all__ = [
    "MAX_COMPRESSION_RATIO",
    "MIN_AVG_LOGPROB",
    "MIN_TRANSLATION_AVG_LOGPROB",
    "NO_SPEECH_PROB",
    "compression_ratio",
    "hallucination_reason",
    "low_confidence_reason",
    "repetition_loop",
]

MAX_COMPRESSION_RATIO = 2.4
MIN_AVG_LOGPROB = -1.0
MIN_TRANSLATION_AVG_LOGPROB = -1.5
NO_SPEECH_PROB = 0.6

_WORD = re.compile(r"\w+(?:['’]\w+)*")
_MIN_WORDS = 4  # shorter texts are too short to call a loop
_COVER = 0.6  # the repeats cover at least this share of the words


def compression_ratio(text: str) -> float:
    """gzip (zlib) compression ratio of the UTF-8 text, as Whisper computes it: repetitive text compresses well."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def repetition_loop(text: str) -> str:
    """The repeated phrase when ``text`` is mostly one phrase said again and again, else "".

    A phrase of 3 or more words that occurs at least twice, or of 1-2 words at least 4 times, is a loop when its
    occurrences cover at least 60 % of the words (``"give you a chance to give you a chance"``: 8 of 9 words).
    Case and punctuation are ignored. Meant for the text of one speech piece (seconds, not minutes): in a long
    text any common phrase repeats.

    Examples
    --------
    >>> repetition_loop("give you a chance to give you a chance")
    'give you a chance'
    >>> repetition_loop("I am so happy to see you all here tonight")
    ''
    """
    words = [w.lower() for w in _WORD.findall(text)]
    n_words = len(words)
    if n_words < _MIN_WORDS:
        return ""
    best: tuple[float, int, str] = (0.0, 0, "")  # (coverage, -n, phrase): most words covered, then shortest
    for n in range(1, min(8, n_words // 2) + 1):
        grams = Counter(tuple(words[i:i + n]) for i in range(n_words - n + 1))
        for gram, count in grams.most_common(3):
            if count < (2 if n >= 3 else 4):
                break
            covered: set[int] = set()
            for i in range(n_words - n + 1):
                if tuple(words[i:i + n]) == gram:
                    covered.update(range(i, i + n))
            best = max(best, (len(covered) / n_words, -n, " ".join(gram)))
    return best[2] if best[0] >= _COVER else ""


def hallucination_reason(text: str) -> str:
    """Why ``text`` (one speech piece's words) looks hallucinated: a repetition loop or filler; "" if it does not."""
    loop = repetition_loop(text)
    if loop:
        return f"repetition loop ('{loop[:40]}' over and over)"
    ratio = compression_ratio(text)
    if ratio > MAX_COMPRESSION_RATIO:
        return f"repetitive text (compression ratio {ratio:.1f} > {MAX_COMPRESSION_RATIO})"
    return ""


def low_confidence_reason(avg_logprob: float, no_speech_prob: float, *, translation: bool = False) -> str:
    """Why Whisper's confidence in one decoded segment is too low to trust its words; "" if it is high enough."""
    floor = MIN_TRANSLATION_AVG_LOGPROB if translation else MIN_AVG_LOGPROB
    if no_speech_prob > NO_SPEECH_PROB and avg_logprob < MIN_AVG_LOGPROB:
        return f"no speech heard (no-speech probability {no_speech_prob:.2f} > {NO_SPEECH_PROB})"
    if avg_logprob < floor:
        return f"low confidence (average log-probability {avg_logprob:.2f} < {floor})"
    return ""
