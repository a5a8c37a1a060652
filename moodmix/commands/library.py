"""``moodmix library``: add, list, show, remove, prune, stats — a thin front end over :mod:`library.catalog`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from library.types import FEATURES

DatabaseOpt = typer.Option(None, "--database", help="SQLAlchemy URL of the catalog (default: MOODMIX_DATABASE_URL, "
                                                    "else a SQLite file under MOODMIX_HOME).")


def _catalog(database: str | None, *, builtin: bool = True) -> Any:
    from library.catalog import default_catalog, open_catalog
    from moodmix.settings import env_setting

    url = database or env_setting("MOODMIX_DATABASE_URL")
    return default_catalog(url) if builtin else open_catalog(url)


def _fmt(v: Any, nd: int = 2) -> str:
    return "-" if v is None else f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def _instrumentals(cat: Any, summary: Any, *, mode: str, quiet: bool) -> Any:
    """Separate the instrumentals of the tracks of one ``add`` into ``MOODMIX_HOME/derived``."""
    from library.instrumentals import add_instrumentals
    from moodmix.settings import moodmix_home

    def progress(track: Any, outcome: str) -> None:
        if not quiet and outcome == "made":
            typer.echo(f"  instrumental of {Path(track.path).name} added", err=True)

    ids = [*summary.added, *summary.updated, *summary.unchanged]
    return add_instrumentals(cat, ids, derived_dir=moodmix_home() / "derived", mode=mode,  # type: ignore[arg-type]
                             progress=progress)


def _add_exit_code(summary: Any) -> int:
    """1 when nothing given could be catalogued (every path missing, unreadable or not audio); a folder with some
    bad files among good ones, or files already in the catalog under another path, is not a failure."""
    if summary.added or summary.updated or summary.unchanged:
        return 0
    failed = [r for _, r in summary.skipped if not r.startswith("duplicate of track")]
    return 1 if failed else 0


def register(app: typer.Typer) -> None:
    """Add the ``library`` command group to the root app."""
    lib = typer.Typer(help="The music library: index folders, list, inspect and cluster tracks.",
                      no_args_is_help=True)

    @lib.command("add")
    def add(
        paths: list[Path] = typer.Argument(..., help="Music files or folders (searched recursively)."),
        instrumental: bool = typer.Option(
            False, "--instrumental", help="Also make an instrumental of each track (vocals/accompaniment "
            "separation, Spleeter 2 stems) under MOODMIX_HOME/derived, added as a derived track; the originals "
            "are only read."),
        auto_instrumental: bool = typer.Option(
            False, "--auto-instrumental", help="Make instrumentals only of the tracks whose measured vocal "
            "presence is above the selection's threshold (those that selection would skip)."),
        tag: list[str] = typer.Option([], "--tag", help="Extra tag(s) for every added track."),
        jobs: int | None = typer.Option(None, "--jobs", "-j", help="Analysis processes (default: up to 4)."),
        json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
        database: str | None = DatabaseOpt,
    ) -> None:
        """Analyse and add music files (only new or changed files are analysed)."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        cat = _catalog(database)
        tags = tuple(tag)
        err = Console(stderr=True)
        with Progress(TextColumn("analysing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      TextColumn("{task.description}"), console=err, transient=True,
                      disable=json_out or not err.is_terminal) as bar:
            task = bar.add_task("", total=None)

            def progress(done: int, total: int, path: str) -> None:
                bar.update(task, completed=done, total=total, description=Path(path).name if path else "")

            summary = cat.add_paths(paths, jobs=jobs, progress=progress, tags=tags)
        made = None
        if instrumental or auto_instrumental:
            made = _instrumentals(cat, summary, mode="all" if instrumental else "auto", quiet=json_out)
        if json_out:
            d = summary.to_dict()
            if made is not None:
                d["instrumentals"] = made.to_dict()
            typer.echo(json.dumps(d))
            raise typer.Exit(_add_exit_code(summary))
        typer.echo(f"added {len(summary.added)}, updated {len(summary.updated)}, unchanged "
                   f"{len(summary.unchanged)}, skipped {len(summary.skipped)} ({summary.seconds:.1f} s)")
        if made is not None:
            typer.echo(f"instrumentals: made {len(made.made)}, already there {len(made.existing)}, failed "
                       f"{len(made.failed)} ({made.seconds:.1f} s)")
        for p, reason in summary.skipped:
            typer.echo(f"  skipped {p}: {reason}", err=True)
        if made is not None:
            for p, reason in made.failed:
                typer.echo(f"  no instrumental for {p}: {reason}", err=True)
        if summary.missing:
            typer.echo(f"{len(summary.missing)} track(s) whose file is gone: {', '.join(summary.missing)}; "
                       "`moodmix library prune` removes them", err=True)
        raise typer.Exit(_add_exit_code(summary))

    @lib.command("list")
    def list_(
        json_out: bool = typer.Option(False, "--json", help="One JSON object per track (JSON Lines)."),
        database: str | None = DatabaseOpt,
    ) -> None:
        """List the tracks."""
        tracks = _catalog(database).tracks()
        if json_out:
            for t in tracks:
                typer.echo(json.dumps({**t.to_dict(), "derived_from": t.derived_from}))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(tracks)} tracks (E energy, D danceability, A acousticness, V valence; "
                            "mc/ec music/emotion cluster; from: the original of a derived instrumental)")
        table.add_column("id", no_wrap=True, min_width=12)
        table.add_column("title", overflow="fold", max_width=28)
        for name in ("s", "tags", "bpm", "key", "E", "D", "A", "V", "vocal", "mc", "ec", "from"):
            table.add_column(name, no_wrap=name not in ("tags",))
        for t in tracks:
            f = t.features
            key = f"{t.key}{'' if f.get('mode', 1) else 'm'}" if t.key else "-"
            table.add_row(t.id, t.title, f"{t.duration_s:.0f}", ",".join(t.tags), _fmt(f.get("tempo"), 0), key,
                          _fmt(f.get("energy")), _fmt(f.get("danceability")), _fmt(f.get("acousticness")),
                          _fmt(f.get("valence")), _fmt(t.vocal), _fmt(t.music_cluster), _fmt(t.emotion_cluster),
                          t.derived_from or "")
        Console().print(table)

    @lib.command("show")
    def show(
        track_id: str = typer.Argument(..., help="Track id (or a unique prefix)."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
        database: str | None = DatabaseOpt,
    ) -> None:
        """Show one track's analysis."""
        cat = _catalog(database)
        t = cat.get(track_id)
        d = t.to_dict()
        d.update({"content_hash": t.content_hash, "derived_from": t.derived_from, "emotion": t.emotion,
                  "beats": list(t.beats), "downbeats": list(t.downbeats), "analysis": cat.analysis(t.id)})
        if json_out:
            typer.echo(json.dumps(d))
            return
        for k in ("id", "title", "path", "duration_s", "tags", "music_cluster", "emotion_cluster", "derived_from"):
            typer.echo(f"{k:16s} {d[k]}")
        for k, v in d["features"].items():
            typer.echo(f"{k:16s} {v}")
        typer.echo(f"{'beats':16s} {len(t.beats)} (first {', '.join(f'{b:.2f}' for b in t.beats[:4])})")
        typer.echo(f"{'downbeats':16s} {len(t.downbeats)}")

    @lib.command("remove")
    def remove(track_id: str = typer.Argument(...), database: str | None = DatabaseOpt) -> None:
        """Forget a track (its file is not touched)."""
        cat = _catalog(database, builtin=False)
        t = cat.get(track_id)
        cat.remove(t.id)
        typer.echo(f"removed {t.id} ({t.title})")

    @lib.command("prune")
    def prune(database: str | None = DatabaseOpt) -> None:
        """Remove the tracks whose file no longer exists."""
        gone = _catalog(database, builtin=False).prune()
        typer.echo(f"pruned {len(gone)} track(s){': ' + ', '.join(gone) if gone else ''}")

    @lib.command("stats")
    def stats(
        plot: Path | None = typer.Option(None, "--plot", help="Draw the clusters to this PNG."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
        database: str | None = DatabaseOpt,
    ) -> None:
        """Counts and the table of cluster means (reference corpus and this library)."""
        from library.clusters import cluster_means_table

        cat = _catalog(database)
        st = cat.stats()
        st["reference_cluster_means"] = cluster_means_table()
        if plot is not None:
            from library.plots import plot_clusters

            st["plot"] = str(plot_clusters(cat.tracks(), plot))
        if json_out:
            typer.echo(json.dumps(st))
            return
        typer.echo(f"{st['tracks']} tracks ({st['derived']} derived, {st['missing']} missing), "
                   f"{st['duration_s'] / 60:.1f} min; tags: {st['tags']}")
        for title, rows in (("reference corpus (spotify_songs.csv)", st["reference_cluster_means"]),
                            ("this library", st["cluster_means"])):
            typer.echo(f"\ncluster means — {title}")
            typer.echo(f"{'cluster':>7} {'n':>6} " + " ".join(f"{f[:12]:>12}" for f in FEATURES))
            for r in rows:
                typer.echo(f"{r['cluster']:>7} {r['n']:>6} " + " ".join(f"{r[f]:>12.3f}" for f in FEATURES))
        if plot is not None:
            typer.echo(f"\nwrote {st['plot']}")

    app.add_typer(lib, name="library")
