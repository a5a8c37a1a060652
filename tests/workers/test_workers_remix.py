"""Re-mix without re-analysis (issue 14): alternatives with previews, ``POST /jobs/{id}/remix`` → versions,
the music level, the bounds. A real worker, a real Redis, real media."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from svc_helpers import auth, upload, wait_for_state

from tests.signals import decoded_duration_s

pytestmark = [pytest.mark.redis, pytest.mark.ffmpeg]


def _client(settings: Any) -> Any:
    from fastapi.testclient import TestClient

    from workers.http_api import create_app

    return TestClient(create_app(settings))


def _wait_version(c: Any, job: dict[str, Any], version: int, timeout_s: float = 120.0) -> dict[str, Any]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        st = c.get(f"/jobs/{job['id']}", headers=auth(job["token"])).json()
        entry = next(v for v in st["versions"] if v["version"] == version)
        if entry["state"] in ("done", "failed"):
            return st
        time.sleep(0.1)
    raise TimeoutError(f"version {version} not done after {timeout_s} s")


@pytest.mark.slow
def test_remix_versions_level_and_alternatives(live_service: Any, media_dir: Path, tmp_path: Path) -> None:
    with _client(live_service.settings) as c:
        job = upload(c, media_dir / "voice20.wav").json()
        st = wait_for_state(c, job["id"], job["token"])
        assert st["state"] == "done" and st["version"] == 1 and st["remixes_left"] == 20, st
        first = st["report"]

        alts = c.get(f"/jobs/{job['id']}/alternatives", headers=auth(job["token"])).json()
        assert 4 <= len(alts) <= 6 and alts[0]["in_use"] and alts[0]["track"] == first["music"]["track"]
        assert all(a["title"] and a["reasons"] and a["credit"] for a in alts), alts
        # a preview: a few seconds of the track itself, through a signed link (no token)
        r = c.get(alts[1]["preview_url"])
        assert r.status_code == 200 and r.headers["content-type"] == "audio/mp4"
        (tmp_path / "p.m4a").write_bytes(r.content)
        assert 5.0 <= decoded_duration_s(tmp_path / "p.m4a") <= 12.5
        assert c.get(alts[1]["preview_url"].replace("sig=", "sig=0")).status_code == 404

        # re-mix: the second-ranked track, then the same 6 dB softer
        alt = alts[1]["track"]
        r = c.post(f"/jobs/{job['id']}/remix", json={"track": alt}, headers=auth(job["token"]))
        assert r.status_code == 202, r.text
        assert r.json()["version"] == 2
        r3 = c.post(f"/jobs/{job['id']}/remix", json={"track": alt, "music_db": -6}, headers=auth(job["token"]))
        assert r3.status_code == 202 and r3.json()["version"] == 3, r3.text
        st = _wait_version(c, job, 3)
        st = _wait_version(c, job, 2)
        assert st["state"] == "done" and st["version"] == 3, st["versions"]
        assert [v["state"] for v in st["versions"]] == ["done"] * 3
        assert st["download_name"] == "voice20.moodmix.v3.wav"
        v2 = c.get(f"/jobs/{job['id']}/report?version=2", headers=auth(job["token"])).json()
        v3 = st["report"]
        # no re-analysis: the same words and mood, no VAD or emotion time; the track asked for, with its reasons
        for rep in (v2, v3):
            assert rep["speech"]["segments"] == first["speech"]["segments"]
            assert rep["emotion"] == first["emotion"]
            assert "vad" not in rep["timings_s"] or rep["timings_s"]["vad"] < 0.01
            assert "emotion" not in rep["timings_s"]
            assert rep["music"]["track"] == alt and rep["music"]["reasons"] == alts[1]["reasons"]
            assert rep["music"]["credit"] == alts[1]["credit"]
            assert first["music"]["track"] in [a["track"] for a in rep["music"]["alternatives"]]
        # the music level: 6 dB softer against the voice
        assert v3["mix"]["music_db"] == -6.0
        diff = v3["mix"]["speech_to_music_db"] - v2["mix"]["speech_to_music_db"]
        assert diff == pytest.approx(6.0, abs=1.0), (v2["mix"], v3["mix"])

        # the latest by default, an older one by ?version=, each named with its version
        r = c.get(f"/jobs/{job['id']}/result", headers=auth(job["token"]))
        assert 'filename="voice20.moodmix.v3.wav"' in r.headers["content-disposition"]
        r1 = c.get(f"/jobs/{job['id']}/result?version=1", headers=auth(job["token"]))
        assert r1.status_code == 200 and 'filename="voice20.moodmix.wav"' in r1.headers["content-disposition"]
        assert r1.content != r.content
        # the status's signed links serve version 3, and a link's version cannot be changed
        got = c.get(st["download_url"])
        assert got.status_code == 200 and got.content == r.content
        assert c.get(st["download_url"].replace("version=3", "version=2")).status_code == 404
        assert c.get(f"/jobs/{job['id']}/result?version=9", headers=auth(job["token"])).status_code == 404
        assert str(live_service.settings.jobs_dir) not in json.dumps(v3)


def test_remix_bounds(client: Any, svc_settings: Any, media_dir: Path) -> None:
    """Refusals, with a reason: wrong token, job not done, unknown track, music_db out of range, the cap."""
    from workers.jobs import JobStore
    from workers.storage import atomic_write_json

    job = upload(client, media_dir / "voice4.wav").json()
    url, h = f"/jobs/{job['id']}/remix", auth(job["token"])
    assert client.post(url, json={"track": "x"}, headers=auth("wrong" * 9)).status_code == 404
    assert client.post(url, json={"track": "x"}).status_code == 404
    assert client.get(f"/jobs/{job['id']}/alternatives", headers=auth("wrong" * 9)).status_code == 404
    r = client.post(url, json={"track": "x"}, headers=h)
    assert r.status_code == 409 and "queued" in r.json()["detail"]
    # make it look done (no worker here): a report, the record's state
    store = JobStore(svc_settings)
    files = store.files(job["id"])
    atomic_write_json(files.report, {"speech": {"segments": []}, "music": {"track": "a", "alternatives": []}})
    store.mark_done(job["id"])
    tracks = client.get("/library").json()
    known = tracks[0]["id"]
    for body, status, words in [
        ({"track": known, "music_db": 13}, 422, "music_db"),
        ({"track": known, "music_db": "loud"}, 422, "music_db"),
        ({"track": "no-such-track"}, 422, "no track"),
        ({"track": known, "preset": "loud"}, 422, "preset"),
        ({"track": known, "format": "mp4"}, 422, "video"),
        ({"track": known, "speed": 2}, 422, "speed"),
    ]:
        r = client.post(url, json=body, headers=h)
        assert r.status_code == status, (body, r.text)
        assert words in r.text and str(svc_settings.home) not in r.text
    # no track: the track in use, another level (queued only: no worker here)
    from workers.remix import queue_remix, versions

    v = queue_remix(store, job["id"], music_db=-3, track_title=lambda t: t, enqueue=False)
    assert v == 2 and versions(store, job["id"])[1]["track"] == "a"
    # a version whose worker died (no claim, no beat for longer than the timeout) reads as failed, saying so
    store.update(job["id"], v2_stage="mix", v2_at=f"{time.time() - svc_settings.heartbeat_timeout_s - 5:.3f}")
    lost = client.get(f"/jobs/{job['id']}", headers=h).json()["versions"][1]
    assert lost["state"] == "failed" and "ask for this re-mix again" in lost["error"]
    big = client.post(url, content=b'{"track": "' + b"x" * 8000 + b'"}', headers={**h, "Content-Type": "application/json"})
    assert big.status_code == 413 and "KB" in big.text
    store.redis.hset(store.key(job["id"]), "remixes", 20)
    r = client.post(url, json={"track": known}, headers=h)
    assert r.status_code == 409 and "20 re-mixes" in r.json()["detail"]
    schema = client.get("/openapi.json").json()["paths"]
    assert {"/jobs/{job_id}/remix", "/jobs/{job_id}/alternatives", "/jobs/{job_id}/preview"} <= set(schema)


def _music_wav(path: Path, seconds: float = 20.0) -> Path:
    """A small piece of 'music': chords of sines with a pulse, 44.1 kHz stereo."""
    import numpy as np
    import soundfile as sf

    sr = 44100
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * (0.6 + 0.4 * (np.sin(2 * np.pi * 2 * t) > 0))
    y = (0.1 * y).astype(np.float32)
    sf.write(path, np.stack([y, y], axis=1), sr, subtype="PCM_16")
    return path


def _upload2(c: Any, voice: Path, music: Path | None = None, **fields: Any) -> Any:
    files: dict[str, Any] = {"file": (voice.name, voice.read_bytes(), "application/octet-stream")}
    if music is not None:
        files["music"] = (music.name, music.read_bytes(), "application/octet-stream")
    return c.post("/jobs", files=files, data={k: str(v) for k, v in fields.items()})


def test_own_music_and_track_refusals(client: Any, svc_settings: Any, media_dir: Path, tmp_path: Path) -> None:
    voice = media_dir / "voice4.wav"
    garbage = tmp_path / "song.mp3"
    garbage.write_bytes(bytes(range(256)) * 80)
    r = _upload2(client, voice, garbage)
    assert r.status_code in (415, 422) and r.json()["detail"].startswith("music:"), r.text
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    r = _upload2(client, voice, empty)
    assert r.status_code == 422 and "music file is empty" in r.text
    r = _upload2(client, voice, _music_wav(tmp_path / "m.wav"), track="abc")
    assert r.status_code == 422 and "not both" in r.text
    r = _upload2(client, voice, track="no-such-track")
    assert r.status_code == 422 and "no track" in r.text
    assert str(svc_settings.home) not in r.text
    assert not any(p.is_dir() for p in svc_settings.jobs_dir.iterdir()) if svc_settings.jobs_dir.exists() else True


@pytest.mark.slow
def test_own_music_and_catalog_track(live_service: Any, media_dir: Path, tmp_path: Path) -> None:
    with _client(live_service.settings) as c:
        known = c.get("/library").json()[3]["id"]
        by_id = _upload2(c, media_dir / "voice4.wav", track=known).json()
        own = _upload2(c, media_dir / "voice4.wav", _music_wav(tmp_path / "mine.wav")).json()
        st = wait_for_state(c, by_id["id"], by_id["token"])
        assert st["state"] == "done", st
        assert st["report"]["music"]["track"] == known and st["report"]["emotion"] is not None
        st = wait_for_state(c, own["id"], own["token"])
        assert st["state"] == "done", st
        rep = st["report"]
        assert rep["music"]["track"] == "own-music" and rep["music"]["title"] == "your music"
        assert str(live_service.settings.jobs_dir) not in json.dumps(rep) and rep["emotion"] is not None
        # their own music 6 dB softer: a re-mix with the id own-music
        r = c.post(f"/jobs/{own['id']}/remix", json={"track": "own-music", "music_db": -6}, headers=auth(own["token"]))
        assert r.status_code == 202, r.text
        st = _wait_version(c, own, 2)
        assert st["version"] == 2 and st["report"]["music"]["track"] == "own-music", st["versions"]
        diff = st["report"]["mix"]["speech_to_music_db"] - rep["mix"]["speech_to_music_db"]
        assert diff == pytest.approx(6.0, abs=1.0)
