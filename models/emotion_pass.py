"""The emotion pass as one call: speech segments → voice and word emotions → fused timeline and overall mood.

Contract (kept stable for the pipeline, the CLI and the workers):

- :class:`EmotionSettings` — which models to use (names, paths or hub ids).
- :func:`analyse_speech(audio, sr, segments, *, settings=None, progress=None) -> EmotionAnalysis`
  audio is float32 (channels, samples) or (samples,); segments are the VAD's speech segments in seconds.
- :func:`analyse_text(texts, *, settings=None) -> list[EmotionEstimate]`
- :func:`check_text_language(text, *, settings=None)` — refuses typed text the English text model cannot read.

Words in any spoken language: :mod:`models.words` detects the language, keeps English on the fast ASR model, and
has other languages transcribed and translated to English for the text model; hallucinated words are dropped with
a note (``EmotionAnalysis.words_note``) and the voice alone counts there.

Every model is loaded once per process (the loaders are cached), so workers calling this many times pay the
load once. No speech (no segments, or only silence) and empty text give a neutral result flagged
``neutral=True``, never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from models.fusion import VOICE_COVERS, FusionMethod, as_timeline, fuse, overall, timeline_pieces
from models.types import EmotionAnalysis, EmotionEstimate, neutral_estimate
from models.voice_emotion import PACK_MAX_S, EncoderVoiceModel, load_voice_model
from models.voice_input import SR, VoiceEmotionModel, as_mono16k
from models.words import EncoderTap, HeardWords, hear_words

__all__ = ["EmotionSettings", "analyse_speech", "analyse_text", "check_text_language", "load_models"]


@dataclass(frozen=True)
class EmotionSettings:
    voice_model: str = "default"  # "default" (shipped), "none", a transformers audio-classification id or path
    text_model: str = "default"  # "default" (MiniLM + GoEmotions head), "none", a text-classification id or path
    asr_model: str = "default"  # English speech → words: "default" (Whisper tiny.en), "base", "none", an id or path
    # spoken-language detection, and transcription + English translation of other languages: a multilingual
    # Whisper ("base", an id or path); "none": every input is taken as English. Unused (not loaded) when asr_model
    # is itself multilingual: that model then detects, transcribes and translates.
    language_model: str = "base"
    use_text: bool = True
    device: str = "cpu"
    fusion: FusionMethod = "weighted"  # or "complement" (the seed's rule); see models.fusion
    max_piece_s: float = 10.0  # timeline resolution: long speech segments are judged in pieces this long


def _off(name: str) -> bool:
    return (name or "").strip().lower() in ("none", "off", "")


def _voice_covers(model: VoiceEmotionModel) -> frozenset[str]:
    covers = getattr(model, "covers", None)
    return frozenset(covers) if covers else VOICE_COVERS


def load_models(settings: EmotionSettings | None = None) -> dict[str, object]:
    """Load (once per process) every model the settings ask for; useful to warm a worker.

    Raises
    ------
    ModelLoadError
        A setting that cannot be loaded, named in the message.
    """
    s = settings or EmotionSettings()
    out: dict[str, object] = {}
    if not _off(s.voice_model):
        out["voice"] = load_voice_model(s.voice_model)
    if s.use_text and not _off(s.text_model):
        from models.text_emotion import load_text_model

        out["text"] = load_text_model(s.text_model, device=s.device)
        if not _off(s.asr_model):
            from models.asr import load_asr

            asr = load_asr(s.asr_model, device=s.device)
            out["asr"] = asr
            if not asr.multilingual and not _off(s.language_model):
                language = load_asr(s.language_model, device=s.device)
                if not language.multilingual:
                    from core.errors import ModelLoadError

                    raise ModelLoadError(
                        f"language model setting {s.language_model!r} is English-only; it must detect and "
                        "translate other languages: use 'base', a multilingual Whisper id or path, or 'none'"
                    )
                out["language"] = language
    return out


def analyse_speech(
    audio: np.ndarray,
    sr: int,
    segments: Sequence[tuple[float, float]],
    *,
    settings: EmotionSettings | None = None,
    progress: Callable[[float], None] | None = None,
) -> EmotionAnalysis:
    """Emotion of the speech in one input.

    Parameters
    ----------
    audio : np.ndarray [shape=(channels, samples) or (samples,)]
        Float voice audio; channels are averaged and it is resampled to 16 kHz.
    sr : int
        Sample rate of ``audio`` in Hz.
    segments : sequence of (start_s, end_s)
        Speech segments (the VAD's); long ones are judged in pieces of ``settings.max_piece_s``.
    settings : EmotionSettings, optional
    progress : callable(fraction), optional
        Called with fractions in [0, 1] as the pass advances.

    Returns
    -------
    EmotionAnalysis
        ``overall`` (duration × confidence weighted), ``sources`` (voice, text overall), ``transcript`` (in the
        spoken language), ``language``, ``language_probability``, ``translation`` (English, when the speech was
        not), ``words_note`` (why words were dropped), ``timeline`` (one fused entry per piece, with the English
        text judged) and ``models``. No speech → flagged neutral.

    Raises
    ------
    InvalidAudioError
        Bad shape, non-finite samples or ``sr <= 0``.
    ModelLoadError
        A model setting that cannot be loaded.
    """
    s = settings or EmotionSettings()
    report = progress or (lambda f: None)
    x = as_mono16k(audio, sr)
    duration_s = x.size / SR
    pieces = timeline_pieces(segments, duration_s, max_piece_s=s.max_piece_s)
    models = load_models(s)
    names = {k: str(getattr(m, "name", "")) or k for k, m in models.items()}
    report(0.0)
    if not pieces or float(np.max(np.abs(x), initial=0.0)) == 0.0:
        report(1.0)
        return EmotionAnalysis(overall=neutral_estimate(), sources={"voice": None, "text": None}, models=names)

    # words first (the slowest step), only over the speech pieces, in English for the text model
    # One Whisper encoder pass per window serves both the transcript and the voice model when they share an encoder
    # (tiny.en by default): the words step transcribes the voice model's windows and keeps their encoder output.
    vm = models.get("voice")
    tap = None
    if isinstance(vm, EncoderVoiceModel):
        tap = EncoderTap(model=vm.encoder.model, max_s=PACK_MAX_S, frames={})
    words = HeardWords(texts=("",) * len(pieces))
    if "asr" in models:
        words = hear_words(x, pieces, asr=models["asr"], language_model=models.get("language"),  # type: ignore[arg-type]
                           tap=tap)
    texts = list(words.texts)
    report(0.6)

    voice_est: list[EmotionEstimate | None] = [None] * len(pieces)
    covers = VOICE_COVERS
    if vm is not None:
        assert isinstance(vm, VoiceEmotionModel)
        covers = _voice_covers(vm)
        chunks = [x[int(a * SR):int(b * SR)] for a, b in pieces]
        if isinstance(vm, EncoderVoiceModel):
            voice_est = list(vm.predict_many(chunks, SR, known=tap.frames if tap is not None else None))
        else:
            voice_est = list(vm.predict_many(chunks, SR))
    report(0.85)

    text_est: list[EmotionEstimate | None] = [None] * len(pieces)
    if "text" in models and any(t.strip() for t in texts):
        text_est = list(models["text"].predict(texts))  # type: ignore[attr-defined]
    report(0.95)

    fused = [fuse(v, t, method=s.fusion, voice_covers=covers) for v, t in zip(voice_est, text_est)]
    durs = [b - a for a, b in pieces]
    voice_overall = overall([(d, e) for d, e in zip(durs, voice_est) if e is not None]) if "voice" in models else None
    text_overall = None
    if "text" in models:
        text_overall = overall([(d, e) for d, e in zip(durs, text_est) if e is not None])
    result = EmotionAnalysis(
        overall=overall(list(zip(durs, fused))),
        sources={"voice": voice_overall, "text": text_overall},
        transcript=words.transcript,
        timeline=as_timeline(pieces, fused, texts),
        models=names,
        language=words.language,
        language_probability=words.language_probability,
        translation=words.translation,
        words_note=words.note,
    )
    report(1.0)
    return result


def analyse_text(texts: Sequence[str], *, settings: EmotionSettings | None = None) -> list[EmotionEstimate]:
    """Emotion of typed text, one estimate per text in order; empty text → flagged neutral.

    Raises
    ------
    ModelLoadError
        The text model setting cannot be loaded.
    """
    if isinstance(texts, str):
        texts = [texts]
    s = settings or EmotionSettings()
    if _off(s.text_model):
        return [neutral_estimate() for _ in texts]
    from models.text_emotion import load_text_model

    return load_text_model(s.text_model, device=s.device).predict(list(texts))


def check_text_language(text: str, *, settings: EmotionSettings | None = None) -> None:
    """Refuse typed text that the English text model would only guess at.

    Only the default text model reads English alone; any other setting (a multilingual text-classification model)
    accepts every text. Empty and English text pass; see :mod:`models.text_language` for what counts as English.

    Raises
    ------
    UnsupportedLanguageError
        The text is in another language (named in the message) and the text model is the default English one.
    """
    s = settings or EmotionSettings()
    if (s.text_model or "").strip() != "default" or not text.strip():
        return
    from core.errors import UnsupportedLanguageError
    from models.text_language import detect_text_language, language_name

    found = detect_text_language(text)
    if found.english:
        return
    name = f"{language_name(found.language)} ({found.language}"
    if found.script == "Latin":
        seen = f"looks {name}, probability {found.probability:.2f})"
    elif found.probability >= 0.5:
        seen = f"looks {name}, {found.script} script)"
    else:  # short text: the script is certain, the language only a guess
        seen = f"is in {found.script} script (perhaps {name}, {found.probability:.2f}))"
    raise UnsupportedLanguageError(
        f"the text {seen}, but the default text model reads English only; translate it to English, or pass "
        "--text-model NAME with a multilingual text-classification model (a transformers id or local path)"
    )
