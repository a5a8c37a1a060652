"""Fixtures for the service tests: a real Redis (a dedicated DB, flushed alone), real media, worker processes.

Redis: ``MOODMIX_TEST_REDIS_URL``, default ``redis://127.0.0.1:6379/15`` (scripts/services.sh starts a server
when none answers). Only that DB is flushed. Each test gets its own queue name and job directory; the music
catalog is built once per session in a shared ``MOODMIX_HOME``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from svc_helpers import (
    REPO,
    TEST_REDIS_URL,
    ApiServer,
    LiveService,
    PrivateRedis,
    WorkerProc,
    make_settings,
    redis_answers,
    shared_home,
)

from tests import signals


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not redis_answers(TEST_REDIS_URL):
        pytest.skip(f"no Redis answers at {TEST_REDIS_URL}; run scripts/services.sh (it starts one)")
    import redis

    redis.Redis.from_url(TEST_REDIS_URL).flushdb()  # this DB only
    return TEST_REDIS_URL


@pytest.fixture
def svc_settings(tmp_path: Path, redis_url: str) -> Any:
    return make_settings(tmp_path, redis_url)


@pytest.fixture
def client(svc_settings: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from workers.http_api import create_app

    with TestClient(create_app(svc_settings)) as c:
        yield c


# ---- media ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory, emodb_dir: Path) -> Path:
    d = tmp_path_factory.mktemp("media")
    audio, sr = signals.emodb_voice(emodb_dir, 4.0)
    wav = signals.write_wav(d / "voice4.wav", audio, sr)
    signals.make_m4a(wav, d / "voice4.m4a")
    signals.make_mp4(wav, d / "clip4.mp4", 4.0)
    long, sr = signals.emodb_voice(emodb_dir, 20.0, offset=7)
    signals.write_wav(d / "voice20.wav", long, sr)
    return d


# ---- worker processes ------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def catalog_ready() -> Path:
    """Build the default music catalog in the shared home once, before any worker needs it."""
    env = dict(os.environ, MOODMIX_HOME=str(shared_home()))
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    code = ("from library.select import choose_tracks; from models.types import neutral_estimate; "
            "choose_tracks(neutral_estimate(), n=1)")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, capture_output=True, timeout=600)
    return shared_home()


@pytest.fixture
def start_worker(tmp_path: Path, catalog_ready: Path) -> Iterator[Callable[..., WorkerProc]]:
    started: list[WorkerProc] = []

    def start(settings: Any, concurrency: int = 1, wait: bool = True) -> WorkerProc:
        w = WorkerProc(settings, tmp_path / f"worker{len(started)}.log", concurrency, name=f"w{len(started)}")
        started.append(w)
        if wait:
            w.wait_ready()
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture
def start_api(tmp_path: Path) -> Iterator[Callable[[Any], ApiServer]]:
    servers: list[ApiServer] = []

    def start(settings: Any, **kwargs: Any) -> ApiServer:
        s = ApiServer(settings, tmp_path / f"api{len(servers)}.log", **kwargs)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Callable[..., PrivateRedis]]:
    servers: list[PrivateRedis] = []

    def start(appendonly: bool) -> PrivateRedis:
        r = PrivateRedis(tmp_path / f"redis{len(servers)}", appendonly=appendonly)
        servers.append(r)
        return r

    yield start
    for r in servers:
        r.stop()


@pytest.fixture(scope="session")
def live_service(tmp_path_factory: pytest.TempPathFactory, redis_url: str, catalog_ready: Path) -> Iterator[LiveService]:
    root = tmp_path_factory.mktemp("live")
    settings = make_settings(root, redis_url)
    worker = WorkerProc(settings, root / "worker.log", concurrency=2, name="live")
    try:
        worker.wait_ready()
        api = ApiServer(settings, root / "api.log", log_level="info")  # the access log too: no token may be in it
    except BaseException:
        worker.stop()
        raise
    yield LiveService(settings, worker, api)
    api.stop()
    worker.stop()


def _chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("Chromium or chromedriver is not installed (apt-get install -y chromium chromium-driver, "
                    "or run scripts/services.sh)")
    return browser, driver


@pytest.fixture
def browser(tmp_path: Path) -> Any:
    """Headless Debian Chromium driven by selenium, downloading into ``tmp_path/downloads`` (the page tests).
    Skipped, saying so, without Chromium, its driver or selenium."""
    pytest.importorskip("selenium", reason="selenium is not installed (pip install selenium)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = _chromium()
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1200,1600", "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False,
        "safebrowsing.enabled": False,
    })
    drv = webdriver.Chrome(service=Service(driver), options=opts)
    drv.downloads = downloads  # type: ignore[attr-defined]
    try:
        yield drv
    finally:
        drv.quit()
