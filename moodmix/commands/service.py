"""``moodmix serve`` (the HTTP API and web page) and ``moodmix worker`` (a Celery worker).

Both read ``MOODMIX_HOME`` and ``MOODMIX_REDIS_URL`` (and the other ``MOODMIX_*`` settings of
:mod:`workers.config`); the flags here only choose where to listen and how many jobs run at once.
"""

from __future__ import annotations

import os

import typer


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    workers: int = typer.Option(1, "--workers", min=1, help="API processes (uploads are I/O bound; 1-4)."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Run the upload API and its web page (http://HOST:PORT/, docs at /docs)."""
    import uvicorn

    from workers.config import get_settings

    get_settings()  # fail early, with pydantic's message, on a bad MOODMIX_* setting
    # h11 with a header timeout and a connection cap (workers.server): idle sockets cannot exhaust descriptors
    uvicorn.run("workers.http_api:app", host=host, port=port, workers=workers, log_level=log_level,
                proxy_headers=True, http="workers.server:GuardedH11Protocol")


def worker(
    concurrency: int = typer.Option(
        0, "--concurrency", "-c", min=0, help="Jobs at once (pool processes); 0: one per CPU core."
    ),
    loglevel: str = typer.Option("info", "--loglevel", "-l", help="Celery log level."),
    hostname: str = typer.Option("", "--hostname", "-n", help="Worker name (default moodmix@<host>)."),
    beat: bool = typer.Option(False, "--beat", "-B", metavar="", help="Also run the periodic cleanup (one worker only)."),
) -> None:
    """Run a Celery worker that takes mix jobs from the queue (models load once per pool process)."""
    from workers.celery_app import app as celery_app
    from workers.config import get_settings

    settings = get_settings()
    argv = ["worker", "--pool=prefork", f"--loglevel={loglevel}", "-Q", settings.queue, "-E"]
    argv.append(f"--concurrency={concurrency or os.cpu_count() or 1}")
    if hostname:
        argv.append(f"--hostname={hostname}")
    if beat:
        argv.append("--beat")
    celery_app.worker_main(argv)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``worker`` to the root app."""
    app.command("serve")(serve)
    app.command("worker")(worker)
