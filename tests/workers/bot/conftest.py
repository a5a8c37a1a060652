"""Fixtures of the bot's end-to-end tests: the emulator, a Redis DB of their own, a real Celery worker, the bot
process (see bot_helpers.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bot_helpers import REPO, TEST_REDIS_URL, BotProc, Emulator
from svc_helpers import WorkerProc, make_settings, redis_answers, shared_home


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = Emulator(tmp_path_factory.mktemp("tg"))
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def bot_settings(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not redis_answers(TEST_REDIS_URL):
        pytest.skip(f"no Redis answers at {TEST_REDIS_URL}; run scripts/services.sh (it starts one)")
    return make_settings(tmp_path_factory.mktemp("botjobs"), TEST_REDIS_URL, max_upload_bytes=30 * 1024 * 1024)


@pytest.fixture(scope="session")
def worker(bot_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProc]:
    env = dict(os.environ, MOODMIX_HOME=str(shared_home()), PYTHONPATH=str(REPO))
    code = ("from library.select import choose_tracks; from models.types import neutral_estimate; "
            "choose_tracks(neutral_estimate(), n=1)")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, capture_output=True, timeout=600)
    w = WorkerProc(bot_settings, tmp_path_factory.mktemp("botworker") / "worker.log", concurrency=1, name="bot")
    w.wait_ready()
    yield w
    w.stop()


@pytest.fixture(scope="session")
def bot(emulator: Emulator, bot_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProc]:
    b = BotProc(tmp_path_factory.mktemp("bot"), bot_settings, emulator.api_url,
                MOODMIX_TELEGRAM_REQUESTS_PER_MIN="8")
    yield b
    b.stop()
