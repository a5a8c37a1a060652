"""docker-compose.yml's ``bot`` service: the same image, settings and volumes as the workers, the token from the
environment, and off (exit 0, not restarted) unless a token is set."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]


def _compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_bot_service_shares_the_workers_settings_and_files() -> None:
    services = _compose()["services"]
    bot, worker = services["bot"], services["worker"]
    assert bot["image"] == worker["image"] and sorted(bot["volumes"]) == sorted(worker["volumes"])
    env = bot["environment"]
    assert {k: v for k, v in env.items() if not k.startswith(("MOODMIX_TELEGRAM_", "MOODMIX_PUBLIC"))} == \
        worker["environment"]
    assert env["MOODMIX_TELEGRAM_TOKEN"] == "${MOODMIX_TELEGRAM_TOKEN:-}"
    assert "ports" not in bot and bot["restart"] == "on-failure"


def test_bot_service_is_off_without_a_token() -> None:
    cmd = _compose()["services"]["bot"]["command"]
    assert cmd[:2] == ["sh", "-c"] and cmd[2].endswith("exec moodmix bot")
    script = cmd[2].replace("$$", "$")  # compose's escape for a literal $
    env = {k: v for k, v in os.environ.items() if k != "MOODMIX_TELEGRAM_TOKEN"}
    out = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=10, check=False)
    assert out.returncode == 0 and "MOODMIX_TELEGRAM_TOKEN is not set" in out.stdout
    env["PATH"] = "/nonexistent"  # with a token it goes on to `moodmix bot` (absent here: sh says so)
    env["MOODMIX_TELEGRAM_TOKEN"] = "1:x"
    out = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=10, check=False)
    assert out.returncode == 127 and "moodmix" in out.stderr
