"""``moodmix batch DIR -o OUTDIR [--jobs N] [--queue]``: mix every voice/video file of a folder.

Local processes by default (each loads the models once), or through the service's queue with ``--queue``
(``moodmix worker`` processes do the work; they must see the same ``MOODMIX_HOME``). Resumable: files already
done are skipped. Exit status 0 only when every file succeeded.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer


def batch(
    indir: Path = typer.Argument(..., help="Folder with the voice tracks and videos.", file_okay=False),
    outdir: Path = typer.Option(..., "-o", "--output", help="Folder for the mixes and their reports."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Files at once; 0: one per CPU core (local)."),
    queue: bool = typer.Option(False, "--queue", metavar="", help="Send the files to the Celery workers instead."),
    preset: str | None = typer.Option(None, "--preset", help="podcast | vlog | clear"),
    mood: str | None = typer.Option(None, "--mood", help="Override the detected mood for every file."),
    target_lufs: float | None = typer.Option(None, "--target-lufs", help="Loudness target, LUFS."),
    fmt: str | None = typer.Option(None, "--format", help="Output extension for all files (e.g. m4a)."),
    library: str | None = typer.Option(None, "--library", help="Catalog name, URL or folder."),
    database: str | None = typer.Option(None, "--database",
                                        help="SQLAlchemy URL of the catalog (default: MOODMIX_DATABASE_URL, "
                                             "else a SQLite file under MOODMIX_HOME)."),
    emotion: bool = typer.Option(True, "--emotion/--no-emotion", metavar="", help="Analyse each voice's emotion (off: "
                                 "faster, the music follows --mood or stays neutral)."),
    json_out: bool = typer.Option(False, "--json", metavar="", help="Print one JSON object per file instead of a table."),
) -> None:
    """Mix every voice/video file in INDIR into OUTDIR (resumable; bad files are listed, not fatal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from moodmix.settings import check_option
    from workers.batch import BatchOutcome, run_batch, summary_json

    for name, flag, value in (("preset", "--preset", preset), ("target_lufs", "--target-lufs", target_lufs),
                              ("output_format", "--format", fmt)):
        check_option(name, value, label=flag)  # the one rule; a bad value is one line before any file is read
    options = {"preset": preset, "mood": mood, "target_lufs": target_lufs, "library": library, "database": database,
               "format": fmt.lower().lstrip(".") if fmt else None, "analyse_emotion": emotion}
    n_jobs = jobs or (4 if queue else (os.cpu_count() or 1))
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]mixing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        TimeElapsedColumn(), console=console, transient=False, disable=json_out,
    ) as bar:
        task = bar.add_task("", total=None)

        def on_start(total: int, skipped: int) -> None:
            bar.update(task, total=total, description=f"({skipped} already done)" if skipped else "")

        def on_done(o: BatchOutcome) -> None:
            bar.update(task, advance=1, description=f"{o.source.name}: {o.state}")

        outcomes = run_batch(indir, outdir, jobs=n_jobs, queue=queue, options=options,
                             on_start=on_start, on_done=on_done)
    if json_out:
        if outcomes:
            typer.echo(summary_json(outcomes))
    else:
        table = Table(title=f"moodmix batch: {indir} → {outdir}")
        for col in ("file", "state", "track", "output / error", "s"):
            table.add_column(col, overflow="fold")
        colour = {"done": "green", "skipped": "cyan", "failed": "red"}
        for o in outcomes:
            table.add_row(o.source.name, f"[{colour[o.state]}]{o.state}[/]", o.track or "",
                          o.error if o.state == "failed" else (o.output.name if o.output else ""),
                          f"{o.seconds:.1f}" if o.seconds else "")
        Console().print(table)
    failed = [o for o in outcomes if o.state == "failed"]
    if not outcomes:
        console.print(f"no voice or video files in {indir}")
    if failed:
        console.print(f"[red]{len(failed)} of {len(outcomes)} files failed[/]")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``batch`` to the root app."""
    app.command("batch")(batch)
