"""Speech → the English words the text model judges, in any spoken language.

One call, :func:`hear_words`, per input:

1. The speech pieces are laid end to end (``_GAP_S`` of silence between them) so Whisper hears speech only.
2. The spoken language is detected once, on the first 30 s of that compacted speech, by a multilingual Whisper
   (the language model setting, ``"base"`` by default; the ASR model itself when it is multilingual).
3. English speech is transcribed by the ASR model (the fast tiny.en by default). Any other language is transcribed
   by the multilingual model in the spoken language (the report's ``transcript``) and translated by it to English
   (Whisper's ``task="translate"``; the report's ``translation``): the English text model judges the translation.
4. Words that look hallucinated are dropped, with a note saying why, and the voice alone sets the mood there:

   - the language detected with probability under :data:`MIN_LANGUAGE_PROBABILITY` (0.5): all words. Measured
     with Whisper base on espeak-ng speech: correct detections scored 0.54-0.61 (clear Russian sentences), 0.80
     (Spanish), 0.84-0.96 (English, 1.1 s to 9.8 s), 0.90-0.92 (Italian, Polish), 0.97-0.98 (German); EmoDB's
     German speakers 0.97-1.00 on 30 s and 0.87-1.00 on one 2 s clip. Wrong detections scored 0.12-0.44 (short or
     slow Russian heard as Polish, Italian, French, Hebrew, Latin; Ukrainian as French; French as Thai), except one
     short Russian sentence heard as German at 0.56, whose words the confidence check below drops (-1.24).
   - a decoded segment with low confidence (:mod:`models.hallucination`): the words of the speech pieces it
     covers.
   - a speech piece whose text is a repetition loop or compresses too well: that piece's words.

``language_model="none"`` with an English-only ASR model keeps the behaviour before languages were told apart: the
ASR model's transcript, taken as English, with the hallucination checks still applied. A multilingual ASR model
(``asr_model="base"``) always does steps 2-3 itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from models.asr import Transcriber, Transcript
from models.hallucination import hallucination_reason, low_confidence_reason

__all__ = ["MIN_LANGUAGE_PROBABILITY", "EncoderTap", "HeardWords", "compact_speech", "hear_words"]

#: Below this probability the detected language is not trusted and the words are not used (see the module doc).
MIN_LANGUAGE_PROBABILITY = 0.5

SR = 16000
_GAP_S = 0.3  # silence between pieces in the compacted audio given to Whisper
_ASR_BLOCK_S = 120.0  # compacted speech transcribed per call: bounds the ASR's feature memory on long inputs
_DETECT_S = 30.0  # language detection hears this much compacted speech (one Whisper window)
_CHUNK_S = 29.5  # batched decoding: chunks of whole pieces, under Whisper's 30 s window


@dataclass(frozen=True)
class HeardWords:
    """The words of one input.

    transcript : the words in the spoken language (dropped words left out).
    translation : the English translation when the speech was not English, else "".
    texts : per speech piece, the English text the text model judges ("" where none was kept).
    language : ISO 639-1 code of the detected (or assumed) spoken language; "" when nothing was heard.
    language_probability : the detector's probability; None when no detection ran.
    note : why words were dropped ("" when none were).
    """

    transcript: str = ""
    translation: str = ""
    texts: tuple[str, ...] = ()
    language: str = ""
    language_probability: float | None = None
    note: str = ""


Decode = Callable[[np.ndarray, Sequence[tuple[float, float]], tuple[int, ...]], Transcript]


def compact_speech(x: np.ndarray, pieces: Sequence[tuple[float, float]]) -> tuple[np.ndarray, list[float]]:
    """Lay the pieces end to end with ``_GAP_S`` of silence after each: (audio, start of each piece in it).

    Parameters
    ----------
    x : np.ndarray [shape=(samples,)]
        Mono float32 speech at 16 kHz.
    pieces : sequence of (start_s, end_s)
    """
    gap = np.zeros(int(_GAP_S * SR), np.float32)
    parts, starts = [], []
    t = 0.0
    for a, b in pieces:
        seg = x[int(a * SR):int(b * SR)]
        starts.append(t)
        parts += [seg, gap]
        t += (seg.size + gap.size) / SR
    return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), starts


@dataclass
class EncoderTap:
    """Ask the words step for the encoder output of each window it transcribes with ``model``.

    model : the faster-whisper model (``Transcriber.model``) whose windows are wanted (the voice model's encoder).
    max_s : blocks are made of at most this much compacted speech, so each is one encoder window.
    frames : filled in: the pieces of each block (as a tuple of indices) → that window's encoder frames (n, d).
    """

    model: object
    max_s: float
    frames: dict[tuple[int, ...], np.ndarray]


@dataclass
class _Decoded:
    """One decode of the whole input mapped onto the pieces: words per piece, and which pieces hold bad words."""

    words: list[list[str]]
    bad: dict[int, str]  # piece index → reason


def _decode_pieces(decode: Decode, x: np.ndarray, pieces: Sequence[tuple[float, float]], *,
                   translation: bool, block_s: float = _ASR_BLOCK_S, workers: int = 1) -> _Decoded:
    """Decode only the speech, in blocks of about ``block_s`` of compacted speech; words go back to the piece
    they were spoken in (by their midpoint), and low-confidence segments mark the pieces they reach.

    ``workers`` blocks are decoded at once (the ASR model's ``workers``); the result does not depend on it.
    """
    blocks: list[list[int]] = []
    block: list[int] = []
    for k in list(range(len(pieces))) + [-1]:
        length = sum(pieces[i][1] - pieces[i][0] + _GAP_S for i in block)
        if block and (k < 0 or length + pieces[k][1] - pieces[k][0] > block_s):
            blocks.append(block)
            block = []
        if k >= 0:
            block.append(k)
    out = _Decoded([[] for _ in pieces], {})
    if workers <= 1 or len(blocks) <= 1:
        for b in blocks:
            _place_words(*_decode_block(decode, x, pieces, b), b, out, translation=translation)
        return out
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="moodmix-asr") as pool:
        # results come back in block order; each task builds its block's compacted audio, so at most ``workers``
        # blocks' audio exist at once
        for b, (tr, starts) in zip(blocks, pool.map(lambda b: _decode_block(decode, x, pieces, b), blocks)):
            _place_words(tr, starts, b, out, translation=translation)
    return out


def _decode_block(decode: Decode, x: np.ndarray, pieces: Sequence[tuple[float, float]],
                  block: list[int]) -> tuple[Transcript, list[float]]:
    """Whisper encodes 30 s windows; giving it each short piece on its own costs one padded window per piece, and
    the pauses between pieces invite hallucinated words. The compacted audio costs one window per 30 s of speech."""
    compact, starts = compact_speech(x, [pieces[i] for i in block])
    chunks: list[tuple[float, float]] = []  # runs of whole pieces under 30 s, for batched decoding
    ends = starts[1:] + [compact.size / SR]  # each piece with its gap: the chunks tile the compacted audio
    for s, e in zip(starts, ends):
        if chunks and e - chunks[-1][0] <= _CHUNK_S:
            chunks[-1] = (chunks[-1][0], e)
        else:
            chunks.append((s, e))
    return decode(compact, chunks, tuple(block)), starts


def _place_words(tr: Transcript, starts: list[float], block: list[int], out: _Decoded, *,
                 translation: bool) -> None:
    """Each word to the piece of ``block`` it was spoken in (by its midpoint on the compacted audio)."""
    edges = np.asarray(starts)
    for seg in tr.segments:
        reason = low_confidence_reason(seg.avg_logprob, seg.no_speech_prob, translation=translation)
        items = [(w.start, w.end, w.word) for w in seg.words] or [(seg.start, seg.end, seg.text)]
        for s, e, word in items:
            j = int(np.searchsorted(edges, 0.5 * (s + e), side="right")) - 1
            k = block[max(0, min(j, len(block) - 1))]
            out.words[k].append(word)
            if reason:
                out.bad.setdefault(k, reason)


def _sequential(asr: Transcriber, language: str, tap: EncoderTap | None = None) -> Decode:
    """Whisper's own 30 s windows over the compacted audio (the chunks are not needed). With a tap on this model,
    the first encoder output of each block (the window starting at the block's start) is kept for the voice model."""
    if tap is None or tap.model is not asr.model:
        return lambda audio, chunks, block: asr.transcribe(audio, SR, language=language)

    def decode(audio: np.ndarray, chunks: Sequence[tuple[float, float]], block: tuple[int, ...]) -> Transcript:
        sink: list[np.ndarray] = []
        tr = asr.transcribe(audio, SR, language=language, encoder_sink=sink)
        if sink:
            tap.frames[block] = sink[0]
        return tr

    return decode


def _batched(asr: Transcriber, language: str, task: str) -> Decode:
    return lambda audio, chunks, block: asr.transcribe_chunks(audio, SR, chunks=chunks, language=language,
                                                              task=task)  # type: ignore[arg-type]


def hear_words(
    x: np.ndarray,
    pieces: Sequence[tuple[float, float]],
    *,
    asr: Transcriber,
    language_model: Transcriber | None = None,
    tap: EncoderTap | None = None,
) -> HeardWords:
    """The words of the speech pieces, in English for the text model, with hallucinated words dropped.

    Parameters
    ----------
    x : np.ndarray [shape=(samples,)]
        Mono float32 audio at 16 kHz (already validated).
    pieces : sequence of (start_s, end_s)
        The speech pieces the timeline is made of.
    asr : Transcriber
        Transcribes English speech (tiny.en by default). A multilingual one also detects and translates.
    language_model : Transcriber or None
        A multilingual Whisper that detects the language and transcribes and translates non-English speech, used
        when ``asr`` is English-only. None (and an English-only ``asr``): every input is taken as English.
    tap : EncoderTap or None
        Share encoder passes with the voice emotion model: English speech is transcribed in blocks of at most
        ``tap.max_s`` (one encoder window each) and their encoder frames are kept in ``tap.frames``.

    Returns
    -------
    HeardWords
        ``texts`` has one entry per piece.
    """
    n = len(pieces)
    if not n:
        return HeardWords()
    detector = asr if asr.multilingual else language_model
    if detector is None:  # English only, as before languages were told apart
        dec = _decode_pieces(_sequential(asr, "en", tap), x, pieces, translation=False, block_s=_block_s(tap),
                             workers=asr.workers)
        return _finish([" ".join(w) for w in dec.words], None, dec.bad, "en", None)

    head: list[tuple[float, float]] = []
    for a, b in pieces:  # the first 30 s of compacted speech
        head.append((a, b))
        if sum(e - s + _GAP_S for s, e in head) >= _DETECT_S:
            break
    guess = detector.detect_language(compact_speech(x, head)[0], SR, max_s=_DETECT_S)
    if not guess.language:
        return HeardWords(texts=("",) * n)
    if guess.probability < MIN_LANGUAGE_PROBABILITY:
        heard = ", ".join(f"'{lang}' {_floor2(p)}" for lang, p in guess.ranked[:3]) or f"'{guess.language}'"
        note = (f"words not used: the spoken language is unclear (Whisper {detector.name} heard {heard}; "
                f"under {MIN_LANGUAGE_PROBABILITY:.2f}), so the voice alone sets the mood")
        return HeardWords(texts=("",) * n, language=guess.language, language_probability=guess.probability,
                          note=note)
    if guess.language == "en":
        dec = _decode_pieces(_sequential(asr, "en", tap), x, pieces, translation=False, block_s=_block_s(tap),
                             workers=asr.workers)
        return _finish([" ".join(w) for w in dec.words], None, dec.bad, "en", guess.probability)
    # the transcript and the translation are independent decodes: one per worker of the detector's model
    passes = [(_batched(detector, guess.language, task), task == "translate") for task in ("transcribe", "translate")]
    with ThreadPoolExecutor(max_workers=min(2, detector.workers), thread_name_prefix="moodmix-asr") as pool:
        said, english = pool.map(lambda p: _decode_pieces(p[0], x, pieces, translation=p[1]), passes)
    bad = {**english.bad, **said.bad}
    return _finish([" ".join(w) for w in said.words], [" ".join(w) for w in english.words], bad, guess.language,
                   guess.probability)


def _block_s(tap: EncoderTap | None) -> float:
    return min(_ASR_BLOCK_S, tap.max_s) if tap is not None else _ASR_BLOCK_S


def _floor2(p: float) -> str:
    """Two decimals, rounded down: 0.4996 is "0.49", never "0.50" beside "under 0.50"."""
    return f"{math.floor(p * 100) / 100:.2f}"


def _finish(said: list[str], english: list[str] | None, bad: dict[int, str], language: str,
            probability: float | None) -> HeardWords:
    """Drop the pieces with bad or looping words, and say why."""
    reasons = dict(bad)
    for k in range(len(said)):
        if k in reasons:
            continue
        reason = hallucination_reason(said[k]) or (hallucination_reason(english[k]) if english else "")
        if reason:
            reasons[k] = reason
    keep = [k not in reasons for k in range(len(said))]
    said = [t if ok else "" for t, ok in zip(said, keep)]
    judged = [t if ok else "" for t, ok in zip(english if english is not None else said, keep)]
    note = ""
    with_words = [k for k in range(len(said)) if k in reasons]
    if with_words:
        why = "; ".join(dict.fromkeys(reasons[k] for k in with_words))
        spoken = sum(1 for k in range(len(keep)) if keep[k] and said[k]) + len(with_words)
        if len(with_words) == spoken:
            note = f"words not used: {why}; the voice alone sets the mood"
        else:
            note = f"words of {len(with_words)} of {spoken} speech pieces not used: {why}"
    return HeardWords(
        transcript=" ".join(t for t in said if t),
        translation=" ".join(t for t in judged if t) if english is not None else "",
        texts=tuple(judged),
        language=language,
        language_probability=probability,
        note=note,
    )
