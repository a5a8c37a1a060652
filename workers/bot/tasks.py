"""The worker side of the bot: ``moodmix.bot_emo`` (a text's mood and three tracks), ``moodmix.bot_emo_media``
(its panel and the tracks' excerpts; a task of its own so the words go out first) and ``moodmix.bot_panel`` (the
emotions panel of a finished job). Thin adapters over library calls; arguments are
strings and paths, answers JSON; files go to a folder the bot names under the jobs directory and removes after
its reply.

The bot process sends these by name (:mod:`workers.bot.bridge`), so it loads no model: the text model, the
selection and matplotlib live in the workers, which load them once per process.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from workers.celery_app import app
from workers.storage import read_json

__all__ = ["analysis_from_report", "bot_emo", "bot_emo_media", "bot_panel", "emo_media", "emo_text", "panel"]

log = logging.getLogger("moodmix.worker.bot")


def _excerpt(src: str, dst: Path, *, duration_s: float, excerpt_s: float) -> Path:
    """``excerpt_s`` of a track as MP3, from a third of the way in (past the intro), faded in and out."""
    from mixer.ffmpeg import run_ffmpeg

    start = max(0.0, min(duration_s / 3.0, duration_s - excerpt_s)) if duration_s > 0 else 0.0
    fade = min(1.0, excerpt_s / 4)
    run_ffmpeg(["-y", "-ss", f"{start:.2f}", "-t", f"{excerpt_s:.2f}", "-i", src, "-vn", "-ac", "2",
                "-af", f"afade=t=in:d={fade},afade=t=out:st={excerpt_s - fade:.2f}:d={fade}",
                "-c:a", "libmp3lame", "-b:a", "128k", str(dst)], what="cutting a track excerpt")
    return dst


def emo_text(text: str, *, mood: str | None = None, n: int = 3) -> dict[str, Any]:
    """Text → emotion (the text model) → ``n`` tracks (:func:`library.select.choose_tracks`), each with its
    reasons and credit (and its path and duration, for :func:`emo_media`). A bad input gives ``{"error": ...}``."""
    from core.env import env_setting
    from core.errors import MoodmixError, UnsupportedLanguageError
    from library.select import choose_tracks
    from models.emotion_pass import analyse_text, check_text_language
    from moodmix.pipeline import catalog_for
    from moodmix.settings import emotion_settings_from_env

    settings = emotion_settings_from_env()
    try:
        check_text_language(text, settings=settings)
    except UnsupportedLanguageError as exc:
        return {"error": str(exc), "kind": "language"}
    try:
        est = analyse_text([text], settings=settings)[0]
        catalog = catalog_for(None, env_setting("MOODMIX_DATABASE_URL"))
        choices = choose_tracks(est, library=catalog, mood=mood or None, n=n, source="text")
    except MoodmixError as exc:
        return {"error": str(exc), "kind": "input"}
    tracks = []
    for c in choices:
        d = c.to_dict()
        tracks.append({**{k: d.get(k) for k in ("track", "title", "reasons", "credit", "licence", "path")},
                       "duration_s": float(c.track.duration_s or 0.0)})
    return {"emotion": est.to_dict(), "tracks": tracks}


def emo_media(emotion: dict[str, Any], tracks: list[dict[str, Any]], out_dir: Path, *,
              excerpt_s: float = 15.0) -> dict[str, Any]:
    """The dashboard the CLI draws for a text (``emotions --plot``) and an excerpt of each track of
    :func:`emo_text`'s answer, in ``out_dir``."""
    from core.errors import MoodmixError
    from models.dashboard import plot_dashboard

    est = _estimate(emotion)
    if est is None:
        return {"error": "no emotion to draw"}
    out_dir.mkdir(parents=True, exist_ok=True)
    picture = plot_dashboard(est, out_dir / "emotions.png", title="")
    excerpts: list[str | None] = []
    for i, t in enumerate(tracks):
        try:
            excerpts.append(str(_excerpt(str(t["path"]), out_dir / f"track{i + 1}.mp3",
                                         duration_s=float(t.get("duration_s") or 0.0), excerpt_s=excerpt_s)))
        except (MoodmixError, KeyError) as exc:  # a track that cannot be cut still comes with its words
            log.warning("no excerpt of track %s: %s", t.get("track"), exc)
            excerpts.append(None)
    return {"picture": str(picture), "excerpts": excerpts}


def _estimate(d: dict[str, Any] | None) -> Any:
    from models.types import LABELS, EmotionEstimate

    if not d or "labels" not in d:
        return None
    return EmotionEstimate({k: float(d["labels"].get(k, 0.0)) for k in LABELS}, float(d.get("valence", 0)),
                           float(d.get("arousal", 0)), float(d.get("confidence", 0)),
                           neutral=bool(d.get("neutral", False)))


def analysis_from_report(emotion: dict[str, Any]) -> Any:
    """The :class:`~models.types.EmotionAnalysis` a report's ``emotion`` section was written from."""
    from models.types import EmotionAnalysis, TimedEmotion

    overall = _estimate(emotion)
    assert overall is not None
    timeline = tuple(TimedEmotion(float(t["start"]), float(t["end"]), _estimate(t) or overall,
                                  str(t.get("text", ""))) for t in emotion.get("timeline") or [])
    sources = {k: _estimate(v) for k, v in (emotion.get("sources") or {}).items()}
    return EmotionAnalysis(overall=overall, sources=sources, transcript=str(emotion.get("transcript") or ""),
                           timeline=timeline, language=str(emotion.get("language") or ""),
                           translation=str(emotion.get("translation") or ""))


def panel(report_path: Path, out_png: Path) -> dict[str, Any]:
    """The dashboard of a finished job, drawn from its report (no re-analysis)."""
    from models.dashboard import plot_dashboard

    report = read_json(report_path)
    if not isinstance(report, dict) or not isinstance(report.get("emotion"), dict):
        return {"error": "the job has no emotion report"}
    out_png.parent.mkdir(parents=True, exist_ok=True)
    plot_dashboard(analysis_from_report(report["emotion"]), out_png)
    return {"picture": str(out_png)}


@app.task(name="moodmix.bot_emo", acks_late=True)  # type: ignore[untyped-decorator]
def bot_emo(text: str, mood: str | None = None, n: int = 3) -> dict[str, Any]:
    return emo_text(text, mood=mood, n=n)


@app.task(name="moodmix.bot_emo_media", acks_late=True)  # type: ignore[untyped-decorator]
def bot_emo_media(emotion: dict[str, Any], tracks: list[dict[str, Any]], out_dir: str,
                  excerpt_s: float = 15.0) -> dict[str, Any]:
    return emo_media(emotion, tracks, Path(out_dir), excerpt_s=excerpt_s)


@app.task(name="moodmix.bot_panel", acks_late=True)  # type: ignore[untyped-decorator]
def bot_panel(report_path: str, out_png: str) -> dict[str, Any]:
    return panel(Path(report_path), Path(out_png))
