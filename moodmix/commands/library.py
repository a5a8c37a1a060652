"""``moodmix library``: add, list, show, remove, prune, stats, packs, add-pack — a thin front end over
:mod:`library.catalog` and :mod:`library.packs`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from library.types import FEATURES

DatabaseOpt = typer.Option(None, "--database", help="SQLAlchemy URL of the catalog (default: MOODMIX_DATABASE_URL, "
                                                    "else a SQLite file under MOODMIX_HOME).")


def _catalog(database: str | None, *, builtin: bool = True) -> Any:
    from core.env import env_setting
    from library.catalog import default_catalog, open_catalog

    url = database or env_setting("MOODMIX_DATABASE_URL")
    return default_catalog(url) if builtin else open_catalog(url)


def _fmt(v: Any, nd: int = 2) -> str:
    return "-" if v is None else f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def _instrumentals(cat: Any, summary: Any, *, mode: str, quiet: bool) -> Any:
    """Separate the instrumentals of the tracks of one ``add`` into ``MOODMIX_HOME/derived``."""
    from core.env import moodmix_home
    from library.derived_instrumentals import add_instrumentals

    def progress(track: Any, outcome: str) -> None:
        if not quiet and outcome == "made":
            typer.echo(f"  instrumental of {Path(track.path).name} added", err=True)

    ids = [*summary.added, *summary.updated, *summary.unchanged]
    return add_instrumentals(cat, ids, derived_dir=moodmix_home() / "derived", mode=mode,  # type: ignore[arg-type]
                             progress=progress)


def _credit_cell(t: Any) -> str:
    """``Artist, CC-BY-3.0`` for the list table (SA marked); ``-`` when the track has no credit."""
    if not (t.artist or t.licence):
        return "-"
    who = t.artist or (t.source or "").split(" ")[0]
    return f"{who}, {t.licence or '?'}{' SA' if t.share_alike else ''}"


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
            False, "--instrumental", metavar="", help="Also make an instrumental of each track (vocals/accompaniment "
            "separation, Spleeter 2 stems) under MOODMIX_HOME/derived, added as a derived track; the originals "
            "are only read."),
        auto_instrumental: bool = typer.Option(
            False, "--auto-instrumental", metavar="", help="Make instrumentals only of the tracks whose measured vocal "
            "presence is above the selection's threshold (those that selection would skip)."),
        tag: list[str] = typer.Option([], "--tag", help="Extra tag(s) for every added track."),
        jobs: int | None = typer.Option(None, "--jobs", "-j", help="Analysis processes (default: up to 4)."),
        json_out: bool = typer.Option(False, "--json", metavar="", help="Print the summary as JSON."),
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
        json_out: bool = typer.Option(False, "--json", metavar="", help="One JSON object per track (JSON Lines)."),
        database: str | None = DatabaseOpt,
    ) -> None:
        """List the tracks."""
        tracks = _catalog(database).tracks()
        if json_out:
            for t in tracks:
                typer.echo(json.dumps({**t.to_dict(), "derived_from": t.derived_from}))
            return
        from rich import box
        from rich.console import Console
        from rich.table import Table

        from library.select import describe_track

        # readable at 80 columns: title first, then what a creator chooses by; every number is in --json / show
        table = Table(title=f"{len(tracks)} tracks (`library show ID` or --json for every measured value)",
                      box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("title", overflow="fold", max_width=24, ratio=3)
        table.add_column("sound", overflow="fold", ratio=3)
        table.add_column("min", justify="right", no_wrap=True)
        table.add_column("credit", overflow="ellipsis", max_width=18, ratio=2)
        table.add_column("id", no_wrap=True, style="dim")
        for t in tracks:
            sound = describe_track(t) if t.features else "not analysed"
            if t.derived_from:
                sound += f" (instrumental of {t.derived_from})"
            table.add_row(t.title, sound, f"{t.duration_s / 60:.1f}", _credit_cell(t), t.id)
        Console().print(table)

    @lib.command("show")
    def show(
        track_id: str = typer.Argument(..., help="Track id (or a unique prefix)."),
        json_out: bool = typer.Option(False, "--json", metavar="", help="Print JSON."),
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
        for k in ("credit", "artist", "licence", "source", "share_alike"):
            typer.echo(f"{k:16s} {'-' if d[k] is None else d[k]}")
        for k, v in d["features"].items():
            typer.echo(f"{k:16s} {v}")
        typer.echo(f"{'beats':16s} {len(t.beats)} (first {', '.join(f'{b:.2f}' for b in t.beats[:4])})")
        typer.echo(f"{'downbeats':16s} {len(t.downbeats)}")

    @lib.command("credit")
    def credit(
        track_id: str = typer.Argument(..., help="Track id (or a unique prefix)."),
        artist: str | None = typer.Option(None, "--artist", help="Who made it."),
        licence: str | None = typer.Option(None, "--licence", help="SPDX-like licence, e.g. CC-BY-4.0, CC0-1.0."),
        source: str | None = typer.Option(None, "--source", help="Where it came from (a URL)."),
        title: str | None = typer.Option(None, "--title", help="The title to show (default: the current one)."),
        share_alike: bool | None = typer.Option(None, "--share-alike/--no-share-alike",
                                                metavar="", help="The licence is share-alike (default: from the licence name)."),
        database: str | None = DatabaseOpt,
    ) -> None:
        """Set the credit of one of your tracks (shown wherever the track is: summary, report, web page)."""
        from core.errors import MoodmixError
        from library.types import format_credit

        if not any(v is not None for v in (artist, licence, source, title, share_alike)):
            raise MoodmixError("give at least one of --artist, --licence, --source, --title, --share-alike")
        cat = _catalog(database, builtin=False)
        t = cat.get(track_id)
        new = {"artist": artist if artist is not None else t.artist,
               "licence": licence if licence is not None else t.licence,
               "source": source if source is not None else t.source,
               "title": title if title is not None else t.title}
        sa = share_alike if share_alike is not None else (
            "-SA" in (new["licence"] or "").upper() if licence is not None else t.share_alike)
        cat.update(t.id, **new, share_alike=sa,
                   credit=format_credit(new["title"], artist=new["artist"], licence=new["licence"], share_alike=sa))
        typer.echo(f"{t.id}: {cat.get(t.id).credit}")

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
        plot: Path | None = typer.Option(None, "--plot", help="Draw the library on its mood plane to this PNG (and the reference clusters beside it)."),
        json_out: bool = typer.Option(False, "--json", metavar="", help="Print JSON."),
        database: str | None = DatabaseOpt,
    ) -> None:
        """Counts and the table of cluster means (reference corpus and this library)."""
        from library.music_clusters import cluster_means_table

        cat = _catalog(database)
        st = cat.stats()
        st["reference_cluster_means"] = cluster_means_table()
        if plot is not None:
            from core.errors import MoodmixError
            from library.plots import plot_clusters, plot_library

            try:
                st["plot"] = str(plot_library(cat.tracks(), plot))
            except ValueError as exc:
                raise MoodmixError(str(exc)) from None
            clusters_png = plot.with_name(plot.stem + ".clusters" + plot.suffix)
            st["plot_clusters"] = str(plot_clusters(cat.tracks(), clusters_png))
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
            typer.echo(f"\nwrote {st['plot']} (the mood plane) and {st['plot_clusters']} (the reference clusters)")

    @lib.command("packs")
    def packs(json_out: bool = typer.Option(False, "--json", metavar="", help="One JSON object per pack (JSON Lines).")) -> None:
        """List the music packs that `add-pack` can add: licences, tracks, minutes, share-alike, installed."""
        from library.packs import default_packs_dir, list_packs

        rows = list_packs(default_packs_dir())
        if json_out:
            for r in rows:
                typer.echo(json.dumps(r, ensure_ascii=False))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title="music packs: `moodmix library add-pack NAME` (+ --share-alike for the SA tracks)")
        for col in ("pack", "licences", "tracks", "min", "SA opt-in", "MB", "installed"):
            table.add_column(col, overflow="fold", no_wrap=col in ("pack", "MB"))
        for r in rows:
            sa = f"{r['share_alike_tracks']} ({r['share_alike_minutes']:.0f} min)" if r["share_alike_tracks"] else "-"
            installed = r["installed"] + (f" +{r['installed_share_alike']} SA" if r["installed_share_alike"] else "")
            lic = ", ".join(x.replace("public-domain", "PD") for x in r["licences"])
            table.add_row(r["name"], lic, str(r["tracks"]), f"{r['minutes']:.0f}", sa, str(r["download_mb"]),
                          installed)
        Console().print(table)
        typer.echo("SA: share-alike (CC-BY-SA-3.0) tracks; MB: the Debian package(s) downloaded "
                   f"({', '.join(p for r in rows for p in r['packages'] if ';' not in p and len(r['packages']) == 1)})")

    @lib.command("add-pack")
    def add_pack_cmd(
        name: str = typer.Argument(..., help="A pack from `moodmix library packs`, e.g. free, naev, ufoai."),
        share_alike: bool = typer.Option(False, "--share-alike", metavar="", help="Also add the pack's share-alike "
                                         "(CC-BY-SA) tracks; a mix using one must carry the same licence."),
        from_: list[Path] = typer.Option([], "--from", help="A .deb file, or a folder holding the package's "
                                         "files (e.g. from `dpkg-deb -x`), used instead of apt-get."),
        jobs: int | None = typer.Option(None, "--jobs", "-j", help="Analysis processes (default: up to 4)."),
        json_out: bool = typer.Option(False, "--json", metavar="", help="Print the summary as JSON."),
        database: str | None = DatabaseOpt,
    ) -> None:
        """Fetch a pack of credited free music (Debian packages, via apt-get) and add it to the catalog.

        Safe to repeat: files in place are not fetched again, catalogued tracks are not analysed again."""
        from library.packs import add_pack, default_packs_dir

        for f in from_:
            if not f.exists():
                raise typer.BadParameter(f"{f} does not exist", param_hint="--from")
        cat = _catalog(database)
        last = {"step": ""}
        is_tty = not json_out and typer.get_text_stream("stderr").isatty()

        def progress(step: str, done: int, total: int, what: str) -> None:
            if json_out:
                return
            if step != "analyse":
                typer.echo(f"{'fetching' if step == 'fetch' else 'extracting'} {what}", err=True)
            elif is_tty:
                typer.echo(f"\ranalysing {done}/{total} {what[:50]:50s}", err=True, nl=False)
            elif done == total or done % 5 == 0 or last["step"] != step:
                typer.echo(f"analysing {done}/{total} {what}", err=True)
            last["step"] = step

        summary = add_pack(cat, name, packs_dir=default_packs_dir(), share_alike=share_alike,
                           sources=[f.resolve() for f in from_], jobs=jobs, progress=progress)
        if is_tty and last["step"] == "analyse":
            typer.echo("", err=True)
        sc = summary.catalog
        if json_out:
            typer.echo(json.dumps(summary.to_dict(), ensure_ascii=False))
        else:
            typer.echo(f"pack {summary.pack}: {len(summary.placed)} files in place; catalog: added "
                       f"{len(sc.get('added', []))}, updated {len(sc.get('updated', []))}, unchanged "
                       f"{len(sc.get('unchanged', []))}; {len(summary.problems)} not added "
                       f"({summary.seconds:.1f} s)")
            for name_, reason in summary.problems:
                typer.echo(f"  not added {name_}: {reason}", err=True)
        raise typer.Exit(1 if summary.problems and not summary.placed else 0)

    app.add_typer(lib, name="library")
