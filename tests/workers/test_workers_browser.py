"""The web page in a real browser: headless Debian Chromium (selenium) uploads a file, waits for the mix,
sees the dashboard and downloads the result, which must be valid media.

Chromium and its driver come from Debian (``apt-get install chromium chromium-driver``; scripts/services.sh
installs them). Without them this test is skipped, saying so.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.signals import decoded_duration_s

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow, pytest.mark.ffmpeg]


def test_page_uploads_shows_the_dashboard_and_downloads(browser: Any, live_service: Any, media_dir: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(live_service.api.url + "/")
    assert "moodmix" in browser.title
    browser.find_element(By.ID, "file").send_keys(str(media_dir / "voice4.m4a"))
    # the presets and the loudness default come from GET /options: the one definition of each (moodmix.settings)
    from moodmix.settings import DEFAULT_PRESET, DEFAULT_TARGET_LUFS, PRESETS

    WebDriverWait(browser, 20).until(
        lambda d: len(Select(d.find_element(By.ID, "preset")).options) == len(PRESETS))
    preset = Select(browser.find_element(By.ID, "preset"))
    assert [o.get_attribute("value") for o in preset.options] == list(PRESETS)
    assert preset.first_selected_option.get_attribute("value") == DEFAULT_PRESET
    assert float(browser.find_element(By.ID, "target_lufs").get_attribute("value")) == DEFAULT_TARGET_LUFS
    preset.select_by_value("vlog")
    button = browser.find_element(By.ID, "upload-button")
    assert button.is_enabled()
    button.click()

    # the upload progress reaches 100 %, then the stage is shown until the dashboard appears
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "upload-bar").get_attribute("value") == "100")
    WebDriverWait(browser, 30).until(ec.visibility_of_element_located((By.ID, "job-card")))
    seen_stages = set()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 180:
        if browser.find_element(By.ID, "result-card").is_displayed():
            break
        err = browser.find_element(By.ID, "job-error")
        assert not err.is_displayed(), err.text
        seen_stages.add(browser.find_element(By.ID, "job-stage").text)
        time.sleep(0.2)
    assert browser.find_element(By.ID, "result-card").is_displayed(), seen_stages
    assert seen_stages, "the stage was never shown"

    # the dashboard: six bars (or the no-speech note), a valence/arousal point, the track and its reasons
    bars = browser.find_elements(By.CSS_SELECTOR, "#emotion-bars rect.bar")
    note = browser.find_element(By.ID, "emotion-bars").text
    assert len(bars) == 6 or "No speech" in note
    if bars:
        assert len(browser.find_elements(By.CSS_SELECTOR, "#va-plot circle.point")) == 1
    assert browser.find_element(By.ID, "track-title").text not in ("", "—")
    assert browser.find_elements(By.CSS_SELECTOR, "#track-reasons li")
    assert "LUFS" in browser.find_element(By.ID, "mix-figures").text

    # the player has the result, and the browser can play it (metadata loaded, right duration)
    player = browser.find_element(By.CSS_SELECTOR, "#player audio")
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return arguments[0].readyState", player) >= 1)
    assert browser.execute_script("return arguments[0].duration", player) == pytest.approx(8.0, abs=0.2)

    # the download button saves <stem>.moodmix.<ext>, a valid file of the right length
    link = browser.find_element(By.ID, "download")
    assert "voice4.moodmix.m4a" in link.text
    token = browser.execute_script("return job && job.token")  # the page's own (top-level) job
    assert token and "token=" not in link.get_attribute("href") and "sig=" in link.get_attribute("href")
    assert "token=" not in player.get_attribute("src")
    link.click()
    target = browser.downloads / "voice4.moodmix.m4a"
    WebDriverWait(browser, 30).until(lambda d: target.exists() and not list(browser.downloads.glob("*.crdownload")))
    assert decoded_duration_s(target) == pytest.approx(8.0, abs=0.1)

    # the whole visit left the token in no log line (issue 13); the access log is on (live_service)
    time.sleep(0.5)
    api_log = live_service.api.log_path.read_text(errors="replace")
    assert "/result?download=" in api_log and token not in api_log
    assert token not in live_service.worker.log_path.read_text(errors="replace")
