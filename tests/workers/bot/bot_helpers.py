"""Helpers of the bot's end-to-end tests (and benchmarks/bench_bot.py): telegram-test-api (npm, started with node
on loopback) with the small fake for the files it lacks (fake_bot_api.py), the real ``moodmix bot`` process, and a
chat client that plays the user through the emulator's client API.

The emulator is installed with npm into ``tests/workers/bot/node/node_modules`` (a folder these tests own) the first time;
without node or npm the tests skip, saying so. A failed install fails them. (A module of its own, not conftest.py:
``from conftest import`` would find another folder's conftest when the whole suite runs.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from svc_helpers import (
    REPO,
    free_port,
    settings_env,
)

NODE_DIR = HERE / "node"
#: A Redis DB of these tests' own: the service tests flush theirs (15) when their session starts.
TEST_REDIS_URL = os.environ.get("MOODMIX_TEST_BOT_REDIS_URL", "redis://127.0.0.1:6379/13")
TOKEN = "123456789:AAmoodmix-test-token-not-real"


def _wait_line(proc: subprocess.Popen[bytes], log: Path, needle: bytes, timeout_s: float = 60.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited ({proc.returncode}): {log.read_bytes()[-2000:]!r}")
        if needle in log.read_bytes():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{proc.args}: no {needle!r} in {timeout_s} s: {log.read_bytes()[-2000:]!r}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def install_emulator() -> Path:
    """``tests/workers/bot/node/node_modules/telegram-test-api``, installed with npm when missing."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are needed for the Bot API emulator (telegram-test-api); install Node.js")
    pkg = NODE_DIR / "node_modules" / "telegram-test-api"
    if not (pkg / "package.json").exists():
        proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR,
                              capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0:
            pytest.fail(f"npm install telegram-test-api failed: {proc.stderr[-1500:]}")
    return pkg


class Emulator:
    """telegram-test-api and the fake in front of it; ``api_url`` is what the bot talks to."""

    def __init__(self, root: Path) -> None:
        install_emulator()
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.files, self.sent = root / "files", root / "sent"
        self.port, self.fake_port = free_port(), free_port()
        self.emu_log, self.fake_log = root / "emulator.log", root / "fake.log"
        self.emu = subprocess.Popen(["node", "emulator.js", str(self.port)], cwd=NODE_DIR,
                                    stdout=open(self.emu_log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
                                    start_new_session=True)
        _wait_line(self.emu, self.emu_log, b"emulator ready")
        self.fake = subprocess.Popen(
            [sys.executable, str(HERE / "fake_bot_api.py"), "--upstream", f"http://127.0.0.1:{self.port}",
             "--port", str(self.fake_port), "--files", str(self.files), "--sent", str(self.sent)],
            stdout=open(self.fake_log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)  # noqa: SIM115
        _wait_line(self.fake, self.fake_log, b"fake bot api ready")
        self.api_url = f"http://127.0.0.1:{self.fake_port}"
        self.emulator_url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        _stop(self.fake)
        _stop(self.emu)


class Chat:
    """One user in one private chat, through the emulator's client API (what telegram-test-api's own
    TelegramClient does, in Python)."""

    def __init__(self, emulator: Emulator, user_id: int, lang: str = "en", token: str = TOKEN) -> None:
        self.emu, self.user_id, self.lang, self.token = emulator, user_id, lang, token
        self.inbox: list[dict[str, Any]] = []

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(f"{self.emu.emulator_url}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def _common(self) -> dict[str, Any]:
        return {"botToken": self.token, "date": int(time.time()),
                "from": {"id": self.user_id, "is_bot": False, "first_name": "Test", "language_code": self.lang},
                "chat": {"id": self.user_id, "type": "private", "first_name": "Test"}}

    def send(self, text: str | None = None, **fields: Any) -> None:
        msg = {**self._common(), **fields}
        if text is not None:
            msg["text"] = text
            if text.startswith("/"):
                cmd = text.split(" ", 1)[0]
                msg["entities"] = [{"offset": 0, "length": len(cmd), "type": "bot_command"}]
                self._post("/sendCommand", msg)
                return
        self._post("/sendMessage", msg)

    def press(self, data: str, message_id: int) -> None:
        c = self._common()
        self._post("/sendCallback", {"botToken": self.token, "from": c["from"], "data": data,
                                     "message": {"message_id": message_id, "date": c["date"], "chat": c["chat"]}})

    def replies(self, n: int = 1, timeout_s: float = 20.0, until: Any = None) -> list[dict[str, Any]]:
        """Wait for ``n`` new bot messages (or one for which ``until(message)`` is true); return them all."""
        got: list[dict[str, Any]] = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            res = self._post("/getUpdates", {"token": self.token, "chatId": self.user_id}).get("result") or []
            for u in res:
                m = dict(u["message"])
                m["message_id"] = u["messageId"]
                got.append(m)
            self.inbox += got[len(got) - len(res):] if res else []
            if (until is None and len(got) >= n) or (until is not None and any(until(m) for m in got)):
                return got
            time.sleep(0.05)
        raise AssertionError(f"expected {n} bot messages in {timeout_s} s, got {len(got)}: {got}")

    def current(self, message_id: int) -> dict[str, Any]:
        """A bot message as it stands now (after edits)."""
        hist = self._post("/getUpdatesHistory", {"token": self.token}).get("result") or []
        for u in hist:
            if u.get("messageId") == message_id and "chat_id" in u.get("message", {}):
                return dict(u["message"])
        raise AssertionError(f"no bot message {message_id}")


class BotProc:
    def __init__(self, root: Path, settings: Any, api_url: str, token: str = TOKEN, **env: str) -> None:
        self.log = root / "bot.log"
        e = settings_env(settings)
        e.update({"MOODMIX_TELEGRAM_TOKEN": token, "MOODMIX_TELEGRAM_DATABASE_URL": f"sqlite:///{root / 'bot.db'}",
                  "MOODMIX_TELEGRAM_POLL_INTERVAL_S": "0.1", **env})
        self.proc = subprocess.Popen([sys.executable, "-m", "moodmix", "bot", "--api-url", api_url], cwd=REPO,
                                     env=e, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
                                     start_new_session=True)
        _wait_line(self.proc, self.log, b"Run polling", 60)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        _stop(self.proc)
