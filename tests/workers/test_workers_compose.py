"""docker-compose.yml and the Dockerfile, checked structurally (no Docker engine runs here).

``docker compose config`` validates the file too when the compose plugin is installed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import Any

import pytest
import yaml
from svc_helpers import REPO

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())  # resolves the x-* anchors and << merges
    assert isinstance(doc, dict)
    return doc


def test_services_and_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"redis", "api", "worker", "flower"} <= set(services)
    declared = set(compose["volumes"])
    for name, svc in services.items():
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0]
            assert source in declared, f"{name} mounts undeclared volume {source}"
    # API and workers see the same job files and catalog, at the same paths
    assert sorted(services["api"]["volumes"]) == sorted(services["worker"]["volumes"])
    env_api, env_worker = services["api"]["environment"], services["worker"]["environment"]
    assert env_api == env_worker
    assert env_api["MOODMIX_REDIS_URL"].startswith("redis://redis:6379")
    mounts = dict(v.split(":")[::-1] for v in services["worker"]["volumes"])
    assert env_api["MOODMIX_JOBS_PATH"] in mounts and env_api["MOODMIX_HOME"] in mounts
    # the visibility timeout must exceed the hard limit (the settings refuse it otherwise)
    from workers.config import Settings

    s = Settings(**{k[len("MOODMIX_"):].lower(): v for k, v in env_api.items()})
    assert s.visibility_timeout_s > s.hard_time_limit_s > s.soft_time_limit_s


def test_worker_is_scalable_and_redis_persists(compose: dict[str, Any]) -> None:
    services = compose["services"]
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker  # `--scale worker=4` needs both absent
    assert worker["command"][:2] == ["moodmix", "worker"]
    assert services["api"]["command"][:2] == ["moodmix", "serve"]
    assert "0.0.0.0" in services["api"]["command"]
    assert any(p.endswith(":8000") for p in services["api"]["ports"])
    assert services["flower"]["command"][:4] == ["celery", "-A", "workers.celery_app", "flower"]
    redis_cmd = services["redis"]["command"]
    assert "--appendonly" in redis_cmd and redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes"
    for name in ("api", "worker", "flower"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert services[name]["image"] == "moodmix:latest" and services[name]["build"] == "."


def test_the_commands_exist() -> None:
    for cmd, flags in ((["serve"], ["--host", "--port"]), (["worker"], ["--concurrency", "--loglevel"]),
                       (["batch"], ["--jobs", "--queue", "-o"])):
        out = subprocess.run([sys.executable, "-m", "moodmix", *cmd, "--help"], cwd=REPO, capture_output=True,
                             text=True, timeout=120, check=False)
        assert out.returncode == 0, out.stderr
        for flag in flags:
            assert flag in out.stdout, (cmd, flag)


def test_dockerfile_installs_ffmpeg_cpu_torch_and_the_package() -> None:
    text = DOCKERFILE.read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert lines[:2] == ["ARG BASE_IMAGE=python:3.11-slim", "FROM ${BASE_IMAGE}"]  # the public base by default
    assert "ffmpeg" in text and "apt-get install" in text
    assert "download.pytorch.org/whl/cpu" in text and "-c constraints.txt" in text
    for package in ("moodmix", "mixer", "models", "library", "workers"):
        assert f"COPY {package} ./{package}" in text
        assert (REPO / package / "__init__.py").exists()
    assert "EXPOSE 8000" in text
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")  # Debian's docker-compose package
    return [legacy] if legacy else None


def test_docker_compose_config_when_available() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed; the structural checks above "
                    "stand in for `docker compose config`")
    out = subprocess.run([*cli, "-f", str(COMPOSE), "config", "--quiet"], cwd=REPO,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    scaled = subprocess.run([*cli, "-f", str(COMPOSE), "config", "--services"], cwd=REPO,
                            capture_output=True, text=True, timeout=60, check=False)
    assert set(scaled.stdout.split()) == {"redis", "api", "worker", "flower", "bot"}
