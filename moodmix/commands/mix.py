"""`moodmix mix`: one input → the mixed audio or video (+ report, stems). A thin front end over
:func:`moodmix.pipeline.mix_file`; every :class:`~core.errors.MoodmixError` becomes one line and exit 1
(:func:`moodmix.cli.main` does that)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from core.errors import MoodmixError, OutputPathError
from moodmix.settings import DEFAULT_PRESET, DEFAULT_TARGET_LUFS, PRESETS, RANGES, JobSettings

_DEFAULTS = JobSettings(database=None)

#: The flag that sets each option, for messages (``--target-lufs expects ...``).
FLAGS: dict[str, str] = {
    "music": "--music", "library": "--library", "mood": "--mood", "preset": "--preset",
    "target_lufs": "--target-lufs", "duck_db": "--duck-db", "stems_dir": "--stems", "report_path": "--report",
    "follow_mood": "--follow-mood", "separate": "--separate", "keep_ambience_db": "--keep-ambience",
    "separator": "--separator", "seed": "--seed", "intro_s": "--intro", "outro_s": "--outro",
    "analyse_emotion": "--emotion", "music_db": "--music-db", "database": "--database", "leveller": "--leveller",
}

#: Inputs at least this long get a progress bar on stderr.
PROGRESS_MIN_S = 60.0


def _progress_bar(skip: set[str]):  # type: ignore[no-untyped-def]
    """A rich progress bar on stderr and the ``progress(stage, fraction)`` callback that drives it (stages in
    ``skip`` do not run and do not count)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from moodmix.pipeline import STAGES

    bar = Progress(
        TextColumn("[bold]{task.description:<8}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(), console=Console(stderr=True), transient=True,
    )
    task = bar.add_task("decode", total=1.0)
    done: dict[str, float] = {}

    weights = {k: v for k, v in STAGES.items() if k not in skip}
    total = sum(weights.values())

    def progress(stage: str, fraction: float) -> None:
        done[stage] = weights.get(stage, 0.0) * fraction
        bar.update(task, description=stage, completed=min(1.0, sum(done.values()) / total))

    return bar, progress


def _heard(rep: dict[str, Any], mood: str | None) -> str:
    """The mood in plain words for the summary: ``joy (voice + words)``, ``mood 'calm'``, ``your music``."""
    if rep["music"].get("rule") == "forced":
        return "your music"
    if mood:
        return f"mood '{mood}'"
    emo = rep.get("emotion")
    if not emo or not emo.get("labels"):
        return "no mood heard (neutral)"
    top = max(emo["labels"], key=emo["labels"].get)
    src = emo.get("sources") or {}
    heard = [name for key, name in (("voice", "voice"), ("text", "words")) if src.get(key)]
    return f"{top} ({' + '.join(heard)})" if heard else top


def _catalog_track(track: str, library: str | None, database: str | None) -> Path:
    """``--track ID``: the id, checked against the catalog it will be read from."""
    from library.catalog import default_catalog, open_catalog

    if library is not None and "://" not in library:
        raise MoodmixError("--track picks from a catalog (the default one, --database, or a --library URL), "
                           "not a folder; give the file with --music instead")
    catalog = open_catalog(library) if library is not None else default_catalog(database)
    try:
        catalog.get(track)
    except MoodmixError:
        raise MoodmixError(f"--track {track!r} is not in the music catalog; `moodmix suggest INPUT` or "
                           "`moodmix library list` show the ids") from None
    return Path(track)


def mix(
    input: Path = typer.Argument(..., help="Voice recording or video (wav, mp3, m4a, ogg, opus, flac, mp4, mov, "
                                           "mkv, webm)."),
    output: Path | None = typer.Option(None, "-o", "--output",
                                          help="Output file; default <input stem>.moodmix.<ext> beside the input."),
    music: Path | None = typer.Option(None, "--music", help="Use this music file instead of choosing one."),
    track: str | None = typer.Option(None, "--track", help="Use this catalog track (an id from `moodmix suggest` "
                                                           "or `moodmix library list`) instead of choosing one."),
    music_db: float = typer.Option(_DEFAULTS.music_db, "--music-db",
                                   help="The music louder (+) or softer (-) than the preset puts it, in dB "
                                        f"({RANGES['music_db'][0]:+g}..{RANGES['music_db'][1]:+g})."),
    library: str | None = typer.Option(None, "--library", help="Catalog name/URL or a folder of music."),
    mood: str | None = typer.Option(None, "--mood", help="Override the detected mood."),
    preset: str = typer.Option(DEFAULT_PRESET, "--preset",
                               help="Music depth under speech: " + ", ".join(f"{k} {v:g} dB" for k, v in PRESETS.items())
                                    + "."),
    target_lufs: float = typer.Option(DEFAULT_TARGET_LUFS, "--target-lufs",
                                      help="Integrated loudness of the mix (LUFS)."),
    duck_db: float | None = typer.Option(None, "--duck-db", help="Music depth under speech in dB (overrides "
                                                                    "the preset)."),
    stems: Path | None = typer.Option(None, "--stems", help="Write DIR/voice.wav and DIR/music.wav."),
    report: Path | None = typer.Option(None, "--report", help="Write the JSON report here."),
    follow_mood: bool = typer.Option(False, "--follow-mood/--no-follow-mood",
                                     metavar="", help="Let the music follow mood changes."),
    separate: bool = typer.Option(False, "--separate/--no-separate",
                                  metavar="", help="Isolate the voice from its background first."),
    keep_ambience: float | None = typer.Option(None, "--keep-ambience",
                                                  help="With --separate: keep the original background this many "
                                                       "dB down."),
    separator: str = typer.Option("deepfilternet", "--separator", help="Voice separator model name."),
    seed: int | None = typer.Option(None, "--seed", help="Seed for the track choice among equals."),
    intro: float = typer.Option(_DEFAULTS.intro_s, "--intro",
                                help="Audio input: seconds of music before the voice starts."),
    outro: float = typer.Option(_DEFAULTS.outro_s, "--outro", help="Audio input: seconds of music after the voice ends."),
    emotion_flag: bool | None = typer.Option(
        None, "--emotion/--no-emotion",
        metavar="", help="Hear the mood. Default: yes, except with --music; --emotion hears it with --music too (the report "
             "gets the emotion section); --no-emotion skips it (faster)."),
    analyse_emotion: bool = typer.Option(False, "--analyse-emotion", metavar="", hidden=True,
                                         help="With --music: hear the mood anyway (the report gets the emotion "
                                              "section; by default a given track needs no emotion pass)."),
    database: str | None = typer.Option(None, "--database",
                                        help="SQLAlchemy URL of the catalog to choose from (default: "
                                             "MOODMIX_DATABASE_URL, else a SQLite file under MOODMIX_HOME)."),
    leveller: str = typer.Option(_DEFAULTS.leveller, "--leveller",
                                 help="Voice leveller: auto (the preset's: podcast/clear medium, vlog firm), "
                                      "gentle, medium, firm, or off (one integrated gain for the whole voice)."),
) -> None:
    """Put background music under the voice of INPUT and write the mixed audio or video."""
    from mixer.decode import probe
    from moodmix.pipeline import mix_file

    # option errors are MoodmixErrors: one line and exit 1 through moodmix.cli.main
    no_emotion = emotion_flag is False
    analyse_emotion = analyse_emotion or emotion_flag is True
    if music is not None and track is not None:
        raise MoodmixError("give either --music (a file) or --track (a catalog id), not both")
    if analyse_emotion and no_emotion:
        raise MoodmixError("give either --analyse-emotion or --no-emotion, not both")
    if report is not None and report.resolve() == input.resolve():
        raise OutputPathError(f"--report {report} is the input file; choose another path")
    settings = JobSettings.from_options({
        "music": music, "library": library, "mood": mood, "preset": preset, "target_lufs": target_lufs,
        "duck_db": duck_db, "stems_dir": stems, "report_path": report, "follow_mood": follow_mood,
        "separate": separate, "keep_ambience_db": keep_ambience, "separator": separator, "seed": seed,
        "analyse_emotion": not no_emotion, "intro_s": intro, "outro_s": outro, "music_db": music_db,
        "leveller": leveller, "emotion_with_music": analyse_emotion, "database": database,
    }, labels=FLAGS)
    if track is not None:
        settings = settings.with_(music=_catalog_track(track, library, settings.database))
    info = probe(input)  # bad inputs fail here with one line, before any bar is drawn
    if info.audio is not None:  # rate, channels and work limits (mixer.limits), before any work
        from mixer.limits import check_input

        check_input(sample_rate=info.audio.sample_rate, channels=info.audio.channels,
                    duration_s=max(info.audio.duration_s, info.duration_s), name=input.name)
    if info.duration_s >= PROGRESS_MIN_S:
        skip = (set() if settings.runs_emotion else {"emotion"}) | (set() if separate else {"separate"})
        bar, progress = _progress_bar(skip)
        with bar:
            rep = mix_file(input, output, settings=settings, progress=progress)
    else:
        rep = mix_file(input, output, settings=settings)
    m = rep["mix"]
    sp = rep["speech"]
    speech = (f"{len(sp['segments'])} speech segments ({100 * sp['speech_ratio']:.0f}% speech, {sp['method']})"
              if sp["found"] else "no speech found")
    music = rep["music"]
    others = len({seg["track"] for seg in music.get("segments") or ()} - {music["track"]})
    credit = (f"{music.get('credit') or repr(music['title'])}"  # e.g. 'Title' by Artist, CC-BY-3.0
              + (f" + {others} more (credits in the report)" if others else ""))
    typer.echo(
        f"{rep['output']['path']}: {_heard(rep, mood)} · {credit} · {speech} · "
        f"{m['integrated_lufs']:.1f} LUFS, true peak {m['true_peak_dbtp']:.1f} dBTP · "
        f"{rep['timings_s']['total']:.1f} s", err=True,
    )
    if report is None and stems is None:
        return
    if report is not None:
        typer.echo(f"report: {report}", err=True)
    if stems is not None:
        typer.echo(f"stems: {json.dumps(rep['output']['stems'])}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``mix`` to the root app."""
    app.command("mix")(mix)
