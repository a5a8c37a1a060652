"""The ``moodmix`` command line: thin front end over the library functions.

Each command group lives in :mod:`moodmix.commands` and registers itself here. Any
:class:`~moodmix.errors.MoodmixError` becomes one line on stderr and exit status 1 — never a traceback.
"""

from __future__ import annotations

import sys

import typer

try:  # typer >= 0.29 vendors its own click; older typer uses the click package
    from typer._click import exceptions as _click_exc  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    from click import exceptions as _click_exc

from moodmix.errors import MoodmixError

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
    from moodmix.commands import batch, emotions, library, mix, service, suggest

    for module in (mix, emotions, suggest, library, batch, service):
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
    except _click_exc.ClickException as exc:  # usage errors: one line, exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except (_click_exc.Abort, KeyboardInterrupt):
        typer.echo("moodmix: interrupted", err=True)
        sys.exit(130)
    except OSError as exc:  # disk full, permission denied...: still one line
        typer.echo(f"moodmix: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
