"""The page keeps the creator in control (issue 14), in headless Chromium: upload → done → the mood (six bars,
the labelled mood map with the six emotions, the timeline) → alternatives with previews → "Use this one" →
version 2 → the music level slider at -6 dB (by keyboard) → version 3 → download; the downloaded file is the
re-mixed one: its music, alone before the words, sits ~6 dB lower against the voice than in version 2.
At phone width nothing scrolls sideways."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.signals import loudness_lufs

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow, pytest.mark.ffmpeg]


def _shot(browser: Any, name: str) -> None:
    """MOODMIX_SCREENSHOTS=DIR keeps full-page screenshots of the states checked (for reviewing the page)."""
    out = os.environ.get("MOODMIX_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        h = browser.execute_script("return document.body.scrollHeight")
        w = browser.get_window_size()["width"]
        browser.set_window_size(w, max(900, h + 100))
        browser.save_screenshot(str(Path(out) / f"{name}.png"))


def _bed_vs_mix_db(path: Path, t0: float = 0.3, t1: float = 1.6) -> float:
    """The music alone before the words (the intro), RMS dBFS, against the whole mix's integrated loudness."""
    import soundfile as sf

    y, sr = sf.read(path, dtype="float32", always_2d=True)
    seg = y[int(t0 * sr): int(t1 * sr)]
    rms = float(np.sqrt(np.mean(seg.astype(np.float64) ** 2)))
    return 20 * np.log10(rms + 1e-12) - loudness_lufs(path)


def test_page_alternatives_level_and_versioned_download(browser: Any, live_service: Any, media_dir: Path,
                                                        tmp_path: Path) -> None:
    import httpx
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    url = live_service.api.url
    browser.get(url + "/")
    browser.find_element(By.ID, "file").send_keys(str(media_dir / "voice4.wav"))
    Select(browser.find_element(By.ID, "format")).select_by_value("wav")
    browser.find_element(By.ID, "upload-button").click()
    WebDriverWait(browser, 180).until(lambda d: d.find_element(By.ID, "result-card").is_displayed()
                                      or d.find_element(By.ID, "job-error").is_displayed())
    assert not browser.find_element(By.ID, "job-error").is_displayed(), browser.find_element(By.ID, "job-error").text

    # the mood: six bars, the map with labelled axes and the six emotions' places, the timeline
    assert len(browser.find_elements(By.CSS_SELECTOR, "#emotion-bars rect.bar")) == 6
    va = browser.find_element(By.ID, "va-plot").text
    for words in ("negative", "positive", "calm", "excited", "sadness", "joy", "love", "anger", "fear", "surprise"):
        assert words in va, va
    assert len(browser.find_elements(By.CSS_SELECTOR, "#va-plot circle.ref")) == 6
    assert browser.find_elements(By.CSS_SELECTOR, "#mood-timeline rect.seg")
    assert browser.find_elements(By.CSS_SELECTOR, "#mood-timeline-list li")
    assert "The voice sounds" in browser.find_element(By.ID, "va-text").text
    assert browser.find_element(By.ID, "track-credit").text.startswith("Music: ")
    assert "music_cluster" not in browser.find_element(By.ID, "result-card").text

    # the alternatives: 3-5 besides the one in use, each with a preview that plays and "Use this one"
    WebDriverWait(browser, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#alternatives li")) >= 4)
    items = browser.find_elements(By.CSS_SELECTOR, "#alternatives li")
    assert 4 <= len(items) <= 6 and "in-use" in items[0].get_attribute("class")
    buttons = browser.find_elements(By.CSS_SELECTOR, "#alternatives button.use-track")
    assert [b.text for b in buttons[1:]] == ["Use this one"] * (len(buttons) - 1)
    preview = items[1].find_element(By.TAG_NAME, "audio")
    browser.execute_script("arguments[0].preload = 'auto'; arguments[0].load();", preview)
    try:
        WebDriverWait(browser, 60).until(lambda d: d.execute_script("return arguments[0].readyState", preview) >= 1)
    except Exception:  # say why: the preview request's status and body, not a bare timeout
        why = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0].currentSrc || arguments[0].src).then(r => r.text().then(t => done(r.status + ' ' + "
            "t.slice(0, 200)))).catch(e => done('fetch failed: ' + e));", preview)
        state = browser.execute_script("const a = arguments[0]; return [a.networkState, a.readyState, "
                                       "a.error && a.error.code, a.error && a.error.message, a.src.slice(0, 80), "
                                       "a.preload]", preview)
        raise AssertionError(f"the preview did not load: {why[:12]!r}; media state {state}") from None
    assert 5.0 <= browser.execute_script("return arguments[0].duration", preview) <= 12.5
    first_src = browser.find_element(By.CSS_SELECTOR, "#player audio").get_attribute("src")
    _shot(browser, "1-done")

    # "Use this one" (keyboard: focus + Enter) → version 2, the player reloads, the download name carries it
    chosen = buttons[1].get_attribute("data-track")
    buttons[1].send_keys(Keys.ENTER)
    WebDriverWait(browser, 120).until(lambda d: "Version 2 is ready" in d.find_element(By.ID, "remix-status").text
                                      or "Could not" in d.find_element(By.ID, "remix-status").text)
    assert "Version 2 is ready" in browser.find_element(By.ID, "remix-status").text
    assert "voice4.moodmix.v2.wav" in browser.find_element(By.ID, "download").text
    assert browser.find_element(By.CSS_SELECTOR, "#player audio").get_attribute("src") != first_src
    in_use = browser.find_element(By.CSS_SELECTOR, "#alternatives li.in-use button").get_attribute("data-track")
    assert in_use == chosen

    # the music level, by keyboard: six steps down → one re-mix at -6 dB → version 3
    slider = browser.find_element(By.ID, "music-level")
    for _ in range(6):
        slider.send_keys(Keys.ARROW_LEFT)
    assert browser.find_element(By.ID, "music-level-value").text == "-6 dB"
    WebDriverWait(browser, 120).until(lambda d: "Version 3 is ready" in d.find_element(By.ID, "remix-status").text
                                      or "Could not" in d.find_element(By.ID, "remix-status").text)
    assert "Version 3 is ready" in browser.find_element(By.ID, "remix-status").text
    link = browser.find_element(By.ID, "download")
    assert "voice4.moodmix.v3.wav" in link.text and "(-6 dB from the preset)" in \
        browser.find_element(By.ID, "mix-figures").text
    _shot(browser, "2-v3-music-minus-6")
    link.click()
    target = browser.downloads / "voice4.moodmix.v3.wav"
    WebDriverWait(browser, 30).until(lambda d: target.exists() and not list(browser.downloads.glob("*.crdownload")))

    # the downloaded file is the re-mixed one: the music ~6 dB lower against the voice than in version 2
    job_id, token = browser.execute_script("return [job.id, job.token]")
    r = httpx.get(f"{url}/jobs/{job_id}/result?version=2", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    (tmp_path / "v2.wav").write_bytes(r.content)
    st = httpx.get(f"{url}/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"}).json()
    assert [v["music_db"] for v in st["versions"]] == [0.0, 0.0, -6.0] and st["versions"][2]["track"] == chosen
    drop = _bed_vs_mix_db(target) - _bed_vs_mix_db(tmp_path / "v2.wav")
    assert drop == pytest.approx(-6.0, abs=1.5), drop

    # phone width: nothing scrolls sideways, the controls are still there
    browser.set_window_size(390, 900)
    time.sleep(0.3)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 392
    assert browser.find_element(By.ID, "music-level").is_displayed()
    _shot(browser, "3-phone")


def test_page_library_pick_and_own_music(browser: Any, live_service: Any, media_dir: Path, tmp_path: Path) -> None:
    """The upload form's music choice: a track from the searchable library list, then the creator's own file."""
    import soundfile as sf
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live_service.api.url + "/")
    browser.find_element(By.CSS_SELECTOR, "input[name=music-mode][value=library]").click()
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#library-list input"))
    everything = len(browser.find_elements(By.CSS_SELECTOR, "#library-list li"))
    browser.find_element(By.ID, "library-search").send_keys("calm")
    items = browser.find_elements(By.CSS_SELECTOR, "#library-list li")
    assert 0 < len(items) < everything
    assert "mood:" in items[0].text and "BPM" in items[0].text
    pick = items[0].find_element(By.TAG_NAME, "input")
    title = items[0].text.splitlines()[0].strip()
    pick.click()
    browser.find_element(By.ID, "file").send_keys(str(media_dir / "voice4.wav"))
    browser.find_element(By.ID, "upload-button").click()
    WebDriverWait(browser, 180).until(lambda d: d.find_element(By.ID, "result-card").is_displayed()
                                      or d.find_element(By.ID, "job-error").is_displayed())
    assert browser.find_element(By.ID, "track-title").text == title
    assert len(browser.find_elements(By.CSS_SELECTOR, "#emotion-bars rect.bar")) == 6  # the mood is still heard

    # their own music
    sr = 44100
    t = np.arange(12 * sr) / sr
    y = (0.1 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * (np.sin(2 * np.pi * 2 * t) > 0))).astype(np.float32)
    mine = tmp_path / "my song.wav"
    sf.write(mine, np.stack([y, y], axis=1), sr)
    browser.find_element(By.ID, "again").click()
    browser.find_element(By.CSS_SELECTOR, "input[name=music-mode][value=own]").click()
    browser.find_element(By.ID, "music-file").send_keys(str(mine))
    browser.find_element(By.ID, "file").send_keys(str(media_dir / "voice4.wav"))
    browser.find_element(By.ID, "upload-button").click()
    WebDriverWait(browser, 180).until(lambda d: d.find_element(By.ID, "track-title").text == "your music"
                                      or d.find_element(By.ID, "job-error").is_displayed())
    assert browser.find_element(By.ID, "track-credit").text == "Music: your own"
