"""Helpers for the service tests: settings for a test, real worker / API / Redis processes, HTTP helpers.

Kept out of conftest.py so that test modules import them by a unique name (several conftest.py exist).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


TEST_REDIS_URL = os.environ.get("MOODMIX_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2).ping())
    except redis.RedisError:
        return False


_SHARED_HOME: list[Path] = []


def shared_home() -> Path:
    """One ``MOODMIX_HOME`` for the session: the music catalog is built there once and shared by every
    worker the tests start (job directories are per test, see :func:`make_settings`)."""
    if not _SHARED_HOME:
        import atexit
        import shutil
        import tempfile

        d = Path(tempfile.mkdtemp(prefix="moodmix-svc-home-"))
        atexit.register(shutil.rmtree, d, ignore_errors=True)
        _SHARED_HOME.append(d)
    return _SHARED_HOME[0]


def make_settings(root: Path, redis_url: str, **overrides: Any) -> Any:
    """Settings for one test: job directories under ``root``, the shared home, a queue of its own."""
    from workers.config import Settings

    values: dict[str, Any] = {
        "redis_url": redis_url,
        "home": shared_home(),
        "jobs_path": root / "jobs",
        "queue": f"moodmix-test-{secrets.token_hex(4)}",
        "max_upload_bytes": 8 * 1024 * 1024,
        "max_duration_s": 120.0,
        "soft_time_limit_s": 120,
        "hard_time_limit_s": 130,
        "visibility_timeout_s": 140,
        "cleanup_interval_s": 3600,
        "progress_interval_s": 0.1,
        "warm_models": False,  # each test's jobs load only the models they use
    }
    values.update(overrides)
    return Settings(**values)


def settings_env(settings: Any) -> dict[str, str]:
    """The environment that gives a subprocess the same settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"MOODMIX_{name.upper()}"] = str(value)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    return env


class WorkerProc:
    """A real ``celery worker`` subprocess (own process group, so ``kill -9`` takes its pool too)."""

    def __init__(self, settings: Any, log_path: Path, concurrency: int = 1, name: str = "w") -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        cmd = [
            sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--pool=prefork",
            f"--concurrency={concurrency}", "-Q", settings.queue, "--loglevel=info",
            f"--hostname={name}-{secrets.token_hex(3)}@%h", "--without-gossip", "--without-mingle",
        ]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=settings_env(settings), stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited ({self.proc.returncode}):\n{self.log_tail()}")
            if b" ready." in self.log_path.read_bytes():
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready after {timeout_s} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")

    def kill9(self) -> None:
        """SIGKILL the whole worker (main process and pool), like a crashed machine."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill9()
        self._log.close()


def wait_for_state(client: Any, job_id: str, token: str, states: tuple[str, ...] = ("done", "failed"),
                   timeout_s: float = 120.0, poll_s: float = 0.2) -> dict[str, Any]:
    t0 = time.monotonic()
    body: dict[str, Any] = {}
    while time.monotonic() - t0 < timeout_s:
        r = client.get(f"/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        body = r.json()
        if body["state"] in states:
            return body
        time.sleep(poll_s)
    raise TimeoutError(f"job {job_id} still {body.get('state')}/{body.get('stage')} after {timeout_s} s")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def upload(client: Any, path: Path, filename: str | None = None, **fields: Any) -> Any:
    with open(path, "rb") as f:
        return client.post("/jobs", files={"file": (filename or path.name, f, "application/octet-stream")},
                           data={k: str(v) for k, v in fields.items()})


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ApiServer:
    """``uvicorn workers.http_api:app`` in a subprocess, configured through the environment like production."""

    def __init__(self, settings: Any, log_path: Path, log_level: str = "warning",
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.log_path = log_path
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "workers.http_api:app", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", log_level, "--http", "workers.server:GuardedH11Protocol"],
            cwd=REPO, env={**settings_env(settings), **(env or {})}, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        import httpx

        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            if self.proc.poll() is not None:
                raise RuntimeError(f"API exited: {log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"API not up: {log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


class PrivateRedis:
    """A redis-server of our own on a free port (so it can be restarted), optionally with an append-only file."""

    def __init__(self, workdir: Path, *, appendonly: bool) -> None:
        import shutil as _sh

        exe = _sh.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        self.exe = exe
        self.port = free_port()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.appendonly = appendonly
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        args = [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir), "--save", "",
                "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always",
                "--logfile", str(self.dir / "redis.log")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.monotonic()
        while not redis_answers(self.url):
            if time.monotonic() - t0 > 20:
                raise TimeoutError(f"redis-server did not start on {self.port}")
            time.sleep(0.05)

    def kill9(self) -> None:
        """Crash it (SIGKILL): only what reached the append-only file survives."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class LiveService:
    """One worker (2 pool processes) and one uvicorn API for the session's end-to-end tests: the models each
    pool process loads are paid for once, not once per test."""

    def __init__(self, settings: Any, worker: WorkerProc, api: ApiServer) -> None:
        self.settings, self.worker, self.api = settings, worker, api
