"""The ``moodmix`` command line: thin front end over the library functions.

Each command group lives in :mod:`moodmix.commands` and registers itself here. Any
:class:`~core.errors.MoodmixError` becomes one line on stderr and exit status 1 — never a traceback.
"""

from __future__ import annotations

import os
import sys

import typer

# Only typer's public names: typer >= 0.29 vendors its own click, whose exceptions derive from
# typer.TyperException (usage errors carry .show() and .exit_code); typer.Abort is Ctrl-C at a prompt.
_USAGE_ERRORS: tuple[type[BaseException], ...] = (getattr(typer, "TyperException", Exception),)
try:  # typer < 0.29 raises the click package's exceptions
    import click

    _USAGE_ERRORS += (click.ClickException,)
except ImportError:  # pragma: no cover
    pass

from core.errors import MoodmixError

app = typer.Typer(
    name="moodmix",
    help="Put the right background music under a voice: hear its emotion, pick a track, duck, level, render.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """moodmix: emotion-aware background music for voice and video."""


def _register() -> None:
    from moodmix.commands import batch, bot, emotions, library, mix, service, suggest

    for module in (mix, emotions, suggest, library, batch, service, bot):
        module.register(app)


def fail(message: str, code: int = 1) -> "typer.Exit":
    """Print ``moodmix: error: <message>`` on one line and return an Exit to raise."""
    typer.echo(f"moodmix: error: {message}", err=True)
    return typer.Exit(code)


def main(argv: list[str] | None = None) -> None:
    _register()
    try:
        rv = app(args=argv, standalone_mode=False)
    except MoodmixError as exc:
        typer.echo(f"moodmix: error: {exc}", err=True)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("moodmix: interrupted", err=True)
        sys.exit(130)
    except _USAGE_ERRORS as exc:  # usage errors: one line, exit 2
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"moodmix: error: {exc}", err=True)
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except BrokenPipeError:  # `moodmix --help | head -1`: the reader left; say nothing more (Python's docs recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except OSError as exc:  # disk full, permission denied...: still one line
        typer.echo(f"moodmix: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
