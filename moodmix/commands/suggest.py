"""`moodmix suggest`: the emotions of voices or texts plus the suggested tracks, each with its reasons.

The seed's ``/emo``. Inputs share one process (models load once). With ``--json``: one JSON object per input (or
per line of ``--text-file``), in order, ``{"input", "emotion", "suggestions": [...]}`` (DESIGN.md); a bad input
gives ``{"input", "error"}`` and the others still run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from core.errors import MoodmixError

__all__ = ["register", "suggest_for_media", "suggest_for_texts"]


def suggest_for_media(path: Path, *, library: str | None, mood: str | None, n: int, seed: int | None,
                      exclude_vocals: bool = True) -> dict[str, Any]:
    """Decode → speech activity → emotions → ``n`` suggested tracks: one JSON-ready result."""
    from library.select import choose_tracks
    from moodmix.pipeline import analyse_media
    from moodmix.settings import emotion_settings_from_env

    analysis = analyse_media(path, emotion=emotion_settings_from_env()).emotion  # as `mix` hears the file
    choices = choose_tracks(analysis.overall, library=library, mood=mood, seed=seed, n=n,
                            exclude_vocals=exclude_vocals)
    return {"input": str(path), "emotion": analysis.to_dict(), "suggestions": [c.to_dict() for c in choices]}


def suggest_for_texts(texts: list[str], *, library: str | None, mood: str | None, n: int,
                      seed: int | None, exclude_vocals: bool = True) -> list[dict[str, Any]]:
    """Text emotions (one batch) → ``n`` suggestions per text."""
    from library.select import choose_tracks
    from models.emotion_pass import analyse_text, check_text_language
    from moodmix.settings import emotion_settings_from_env

    settings = emotion_settings_from_env()
    refused: dict[int, str] = {}
    for i, text in enumerate(texts):
        try:
            check_text_language(text, settings=settings)  # not English for the English model: an error, no guess
        except MoodmixError as exc:
            refused[i] = str(exc)
    judged = [i for i in range(len(texts)) if i not in refused]
    estimates = dict(zip(judged, analyse_text([texts[i] for i in judged], settings=settings))) if judged else {}
    out: list[dict[str, Any]] = []
    for i, text in enumerate(texts):
        if i in refused:
            out.append({"input": text, "error": refused[i]})
            continue
        est = estimates[i]
        try:
            choices = choose_tracks(est, library=library, mood=mood, seed=seed, n=n, exclude_vocals=exclude_vocals,
                                    source="text")
            emotion: dict[str, Any] = {**est.to_dict(), "sources": {"text": est.to_dict()}, "transcript": text,
                                       "timeline": []}
            out.append({"input": text, "emotion": emotion, "suggestions": [c.to_dict() for c in choices]})
        except MoodmixError as exc:
            out.append({"input": text, "error": str(exc)})
    return out


def _print_human(result: dict[str, Any]) -> None:
    if "error" in result:
        typer.echo(f"{result['input']}: error: {result['error']}")
        return
    e = result["emotion"]
    labels = sorted(e["labels"].items(), key=lambda kv: -kv[1])
    top = ", ".join(f"{k} {v:.0%}" for k, v in labels[:3])
    typer.echo(f"{result['input']}")
    typer.echo(f"  emotion: {top}; valence {e['valence']:+.2f}, arousal {e['arousal']:+.2f}")
    for i, s in enumerate(result["suggestions"], 1):
        label = "pick" if i == 1 else "or"
        typer.echo(f"  {i}. {s['title']}  (id {s['track']}, {label})")
        for r in s["reasons"]:
            typer.echo(f"       {r}")
        if s.get("credit"):
            typer.echo(f"       Music: {s['credit']}")


def suggest(
    inputs: list[Path] | None = typer.Argument(None, help="Voice recordings or videos."),
    text: str | None = typer.Option(None, "--text", help="Suggest music for this text instead."),
    text_file: Path | None = typer.Option(None, "--text-file", help="One text per line."),
    n: int = typer.Option(5, "-n", help="How many suggestions per input."),
    as_json: bool = typer.Option(False, "--json", metavar="", help="JSON Lines: one object per input."),
    library: str | None = typer.Option(None, "--library", help="Catalog name/URL or a folder of music."),
    mood: str | None = typer.Option(None, "--mood", help="Target this mood instead of the detected one."),
    seed: int | None = typer.Option(None, "--seed", help="Seed for the order among near-equal tracks."),
    allow_vocals: bool = typer.Option(False, "--allow-vocals", metavar="", help="Also suggest tracks with vocals."),
    database: str | None = typer.Option(None, "--database",
                                        help="SQLAlchemy URL of the catalog (default: MOODMIX_DATABASE_URL, "
                                             "else a SQLite file under MOODMIX_HOME)."),
) -> None:
    """Show the emotions of INPUT... (or --text / --text-file) and the tracks that suit them, with reasons."""
    sources = sum(x is not None and x != [] for x in (inputs or None, text, text_file))
    if sources != 1:
        raise MoodmixError("give voice INPUT files, or --text \"...\", or --text-file FILE (exactly one of them)")
    if n < 1:
        raise MoodmixError(f"-n expects at least 1 suggestion, got {n}")
    from core.env import env_setting
    from moodmix.pipeline import catalog_for

    catalog = catalog_for(library, database or env_setting("MOODMIX_DATABASE_URL"))
    opts = dict(library=catalog, mood=mood, n=n, seed=seed, exclude_vocals=not allow_vocals)
    failed = 0

    def emit(result: dict[str, Any]) -> None:
        nonlocal failed
        failed += "error" in result
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False))
        else:
            _print_human(result)

    if text is not None or text_file is not None:
        if text_file is not None:
            try:
                lines = [ln.strip() for ln in text_file.read_text(encoding="utf-8").splitlines()]
            except OSError as exc:
                raise MoodmixError(f"cannot read --text-file {text_file}: {exc.strerror or exc}") from None
            texts = [ln for ln in lines if ln]
            if not texts:
                raise MoodmixError(f"--text-file {text_file} has no non-empty lines")
        else:
            texts = [text or ""]
        for r in suggest_for_texts(texts, **opts):  # type: ignore[arg-type]
            emit(r)
    else:
        for path in inputs or []:
            try:
                r = suggest_for_media(path, **opts)  # type: ignore[arg-type]
            except MoodmixError as exc:
                r = {"input": str(path), "error": str(exc)}
            emit(r)
    if failed:  # every input was still tried; the status says not all succeeded
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's command(s) to the root app."""
    app.command("suggest")(suggest)
