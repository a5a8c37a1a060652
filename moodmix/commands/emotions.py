"""`moodmix emotions`: the emotion of voice recordings, videos or text, as text, JSON Lines and a dashboard.

    moodmix emotions (INPUT... | --text TEXT | --text-file FILE) [--json] [--plot FILE.png]

Models are loaded once for all inputs (flags, then ``MOODMIX_VOICE_MODEL`` / ``MOODMIX_TEXT_MODEL`` /
``MOODMIX_ASR_MODEL`` / ``MOODMIX_LANGUAGE_MODEL``, then the shipped defaults). With ``--json`` each input (or each
line of ``--text-file``) prints one JSON object in order, ``{"input": ..., <the report's emotion fields>}``; a bad
input prints ``{"input": ..., "error": "..."}`` and the others still run (exit status 1 if any failed).

Speech in any language is heard (see :mod:`models.words`). Typed text that is not English is a bad input while the
text model is the default English one: the error names the language seen and points to ``--text-model``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from core.errors import MoodmixError

if TYPE_CHECKING:
    from models.emotion_pass import EmotionSettings

__all__ = ["analyse_file", "plot_path", "register", "settings_from_env"]


def settings_from_env(voice_model: str | None = None, text_model: str | None = None,
                      asr_model: str | None = None, fusion: str | None = None,
                      language_model: str | None = None) -> EmotionSettings:
    """An :class:`~models.emotion_pass.EmotionSettings` from flags, then ``MOODMIX_*_MODEL`` variables, then defaults."""
    from moodmix.settings import emotion_settings_from_env

    return emotion_settings_from_env(voice_model, text_model, asr_model, fusion, language_model)


def analyse_file(path: Path, settings, progress=None):  # type: ignore[no-untyped-def]
    """Decode → VAD → emotion pass for one file (:func:`moodmix.pipeline.analyse_media`, as ``mix`` hears it):
    ``(EmotionAnalysis, speech segments, duration_s)``."""
    from moodmix.pipeline import analyse_media

    heard = analyse_media(path, emotion=settings, progress=progress)
    return heard.emotion, heard.segments, heard.duration_s


def plot_path(base: Path, index: int, count: int) -> Path:
    """``base`` for a single input; ``<stem>.<n><suffix>`` (n from 1) when several inputs share one --plot."""
    if count <= 1:
        return base
    return base.with_name(f"{base.stem}.{index + 1}{base.suffix or '.png'}")


def _summary(name: str, d: dict[str, Any]) -> str:
    labels = d["labels"]
    top = sorted(labels, key=lambda k: -labels[k])
    flag = ""
    if d.get("neutral"):  # nothing to judge (no speech, empty text), or matter-of-fact words
        flag = "  (neutral: nothing to judge)" if d["confidence"] == 0 else "  (neutral: no clear emotion)"
    bars = "  ".join(f"{k} {labels[k]:.2f}" for k in top)
    lines = [f"{name}: {top[0]}{flag}", f"  {bars}",
             f"  valence {d['valence']:+.2f}  arousal {d['arousal']:+.2f}  confidence {d['confidence']:.2f}"]
    if d.get("language") and d.get("language_probability") is not None:
        lines.append(f"  language: {d['language']} (probability {d['language_probability']:.2f})")
    if d.get("transcript"):
        t = d["transcript"]
        lines.append(f"  words: {t[:200]}{'…' if len(t) > 200 else ''}")
    if d.get("translation"):
        t = d["translation"]
        lines.append(f"  in English: {t[:200]}{'…' if len(t) > 200 else ''}")
    if d.get("words_note"):
        lines.append(f"  note: {d['words_note']}")
    if d.get("timeline"):
        lines.append(f"  timeline: {len(d['timeline'])} speech segments")
    return "\n".join(lines)


def emotions(
    inputs: list[Path] = typer.Argument(None, help="Voice recordings or videos (any format ffmpeg reads).",
                                        show_default=False),
    text: list[str] = typer.Option(None, "--text", help="Judge this text (repeatable).", show_default=False),
    text_file: Path | None = typer.Option(None, "--text-file", help="Judge each line of this UTF-8 file."),
    as_json: bool = typer.Option(False, "--json", metavar="", help="One JSON object per input (JSON Lines), in order."),
    plot: Path | None = typer.Option(None, "--plot", help="Draw the dashboard to this PNG (several inputs: "
                                                          "FILE.1.png, FILE.2.png, ...)."),
    voice_model: str | None = typer.Option(None, "--voice-model", help="'default', 'none', a transformers "
                                           "audio-classification id or path [env MOODMIX_VOICE_MODEL]."),
    text_model: str | None = typer.Option(None, "--text-model", help="'default', 'none', a transformers "
                                          "text-classification id or path [env MOODMIX_TEXT_MODEL]."),
    asr_model: str | None = typer.Option(None, "--asr-model", help="English speech → words: 'default' (tiny.en), "
                                         "'base', 'none', a CTranslate2 folder or hub id [env MOODMIX_ASR_MODEL]."),
    language_model: str | None = typer.Option(None, "--language-model", help="Detects the spoken language and "
                                              "translates other languages to English: 'base' (default), a "
                                              "multilingual Whisper folder or hub id, or 'none' (English only) "
                                              "[env MOODMIX_LANGUAGE_MODEL]."),
    fusion: str | None = typer.Option(None, "--fusion", help="'weighted' (default) or 'complement' "
                                      "[env MOODMIX_FUSION]."),
) -> None:
    """Hear the emotion of voice recordings/videos (voice sound + words) or of text."""
    from models.emotion_pass import analyse_text

    inputs = list(inputs or [])
    texts = list(text or [])
    given = sum(bool(x) for x in (inputs, texts, text_file))
    if given != 1:
        raise MoodmixError("give audio/video INPUT files, or --text TEXT, or --text-file FILE (exactly one kind)")
    settings = settings_from_env(voice_model, text_model, asr_model, fusion, language_model)
    if text_file is not None:
        try:
            texts = text_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise MoodmixError(f"cannot read --text-file {text_file}: {exc}; give a UTF-8 text file") from None

    failures = 0
    if texts:
        from models.emotion_pass import check_text_language

        refused: dict[int, str] = {}
        for i, t in enumerate(texts):
            try:
                check_text_language(t, settings=settings)
            except MoodmixError as exc:
                refused[i] = str(exc)
        judged = [i for i in range(len(texts)) if i not in refused]
        ests = dict(zip(judged, analyse_text([texts[i] for i in judged], settings=settings))) if judged else {}
        for i, t in enumerate(texts):
            if i in refused:
                failures += 1
                if as_json:
                    typer.echo(json.dumps({"input": t, "error": refused[i]}, ensure_ascii=False))
                else:
                    typer.echo(f"moodmix: error: {t[:60]!r}: {refused[i]}", err=True)
                continue
            est = ests[i]
            d = est.to_dict()
            if as_json:
                typer.echo(json.dumps({"input": t, **d}, ensure_ascii=False))
            else:
                typer.echo(_summary(repr(t[:60]), d))
            if plot is not None:
                from models.dashboard import plot_dashboard

                plot_dashboard(est, plot_path(plot, i, len(texts)), title=t[:80])
        if failures:
            raise typer.Exit(1)
        return

    from models.emotion_pass import load_models

    load_models(settings)  # a bad model setting fails once, up front, naming the setting
    for i, path in enumerate(inputs):
        try:
            analysis, _, _ = analyse_file(path, settings)
        except MoodmixError as exc:
            failures += 1
            if as_json:
                typer.echo(json.dumps({"input": str(path), "error": str(exc)}, ensure_ascii=False))
            else:
                typer.echo(f"moodmix: error: {path}: {exc}", err=True)
            continue
        d = analysis.to_dict()
        if as_json:
            typer.echo(json.dumps({"input": str(path), **d}, ensure_ascii=False))
        else:
            typer.echo(_summary(str(path), d))
        if plot is not None:
            from models.dashboard import plot_dashboard

            plot_dashboard(analysis, plot_path(plot, i, len(inputs)), title=path.name)
        sys.stdout.flush()
    if failures:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's command(s) to the root app."""
    app.command("emotions")(emotions)
