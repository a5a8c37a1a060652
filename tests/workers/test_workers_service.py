"""The service end to end with real parts: Redis, ``celery worker`` processes, the API (in process and uvicorn).

- upload → poll → download, the output decoded and measured;
- 20 concurrent uploads, all complete with their own outputs;
- ``kill -9`` of a worker mid-job, a new worker → the job completes (acks_late + reject_on_worker_lost; Redis
  redelivers the unacknowledged message after the visibility timeout, short here);
- Redis crashed while jobs are queued: with an append-only file they complete; without persistence the
  job directories bring them back (re-queued), never lost silently;
- the upload size limit stops a real server reading the body.
"""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from svc_helpers import auth, make_settings, upload, wait_for_state

from tests.signals import decoded_duration_s, emodb_voice, loudness_lufs, write_wav

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.ffmpeg]


def _client(settings: Any) -> Any:
    from fastapi.testclient import TestClient

    from workers.http_api import create_app

    return TestClient(create_app(settings))


def test_upload_poll_download(live_service: Any, media_dir: Path, tmp_path: Path) -> None:
    import av

    svc_settings = live_service.settings
    with _client(svc_settings) as c:
        audio_job = upload(c, media_dir / "voice4.m4a", target_lufs="-18", preset="vlog").json()
        video_job = upload(c, media_dir / "clip4.mp4").json()
        stages: set[str] = set()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 120:
            st = c.get(f"/jobs/{audio_job['id']}", headers=auth(audio_job["token"])).json()
            stages.add(st["stage"])
            assert 0.0 <= st["progress"] <= 1.0
            if st["state"] in ("done", "failed"):
                break
            time.sleep(0.05)
        assert st["state"] == "done", st
        assert st["progress"] == 1.0 and st["error"] is None
        assert len(stages - {"queued", "done"}) >= 2, stages  # the stages were visible while it ran

        # the report: in the status, at /report, without server paths
        report = c.get(f"/jobs/{audio_job['id']}/report", headers=auth(audio_job["token"])).json()
        assert report == st["report"]
        assert str(svc_settings.home) not in json.dumps(report) and str(svc_settings.jobs_dir) not in json.dumps(report)
        assert report["input"]["path"] == "voice4.m4a"
        assert report["mix"]["preset"] == "vlog"
        assert set(report["timings_s"]) >= {"decode", "mix", "render", "total"}

        # the download: named like the CLI names its output, decodable, right length and loudness
        r = c.get(f"/jobs/{audio_job['id']}/result", headers=auth(audio_job["token"]))
        assert r.status_code == 200
        assert 'filename="voice4.moodmix.m4a"' in r.headers["content-disposition"]
        assert r.headers["content-type"] == "audio/mp4"
        out = tmp_path / "got.m4a"
        out.write_bytes(r.content)
        expected_s = report["output"]["duration_s"]
        assert expected_s == pytest.approx(4.0 + 2.0 + 2.0, abs=0.1)  # voice + intro + outro
        assert decoded_duration_s(out) == pytest.approx(expected_s, abs=0.1)
        assert loudness_lufs(out) == pytest.approx(-18.0, abs=1.0)
        inline = c.get(f"/jobs/{audio_job['id']}/result?token={audio_job['token']}&download=false")
        assert inline.headers["content-disposition"].startswith("inline")

        # the video keeps its picture, same length as the input
        vst = wait_for_state(c, video_job["id"], video_job["token"])
        assert vst["state"] == "done", vst
        v = c.get(f"/jobs/{video_job['id']}/result", headers=auth(video_job["token"]))
        assert 'filename="clip4.moodmix.mp4"' in v.headers["content-disposition"]
        vout = tmp_path / "got.mp4"
        vout.write_bytes(v.content)
        with av.open(str(vout)) as cont:
            assert len(cont.streams.video) == 1 and len(cont.streams.audio) == 1
        assert decoded_duration_s(vout) == pytest.approx(4.0, abs=0.15)

        # DELETE removes everything
        assert c.delete(f"/jobs/{audio_job['id']}", headers=auth(audio_job["token"])).status_code == 204
        assert not (svc_settings.jobs_dir / audio_job["id"]).exists()
        assert c.get(f"/jobs/{audio_job['id']}/result", headers=auth(audio_job["token"])).status_code == 404


def test_input_the_library_refuses_fails_the_job_once_without_retry(
    svc_settings: Any, start_worker: Any, media_dir: Path
) -> None:
    """The probe passed, then the input went bad on disk (as if corrupted): the library raises DecodeError, the
    job fails with that one-line message, and it is not retried (bad input never is)."""
    with _client(svc_settings) as c:
        job = upload(c, media_dir / "voice4.wav").json()
        (svc_settings.jobs_dir / job["id"] / "input").write_bytes(b"garbage" * 100)
        start_worker(svc_settings)
        st = wait_for_state(c, job["id"], job["token"])
        assert st["state"] == "failed"
        assert st["error"] and "internal error" not in st["error"]
        import redis

        rec = redis.Redis.from_url(svc_settings.redis_url, decode_responses=True).hgetall(
            "moodmix:job:" + job["id"])
        assert rec["attempts"] == "1"
        assert json.loads((svc_settings.jobs_dir / job["id"] / "error.json").read_text())["error"] == st["error"]
        assert c.get(f"/jobs/{job['id']}/result", headers=auth(job["token"])).status_code == 409


def test_twenty_concurrent_uploads_all_complete(live_service: Any, emodb_dir: Path, tmp_path: Path) -> None:
    import httpx

    inputs = []
    for i in range(20):  # 3.0 .. 4.9 s: each output's length tells whose it is
        seconds = 3.0 + 0.1 * i
        audio, sr = emodb_voice(emodb_dir, seconds, offset=i)
        inputs.append((write_wav(tmp_path / f"in{i:02d}.wav", audio, sr), seconds))
    api = live_service.api

    def send(item: tuple[Path, float]) -> tuple[dict[str, Any], float]:
        path, seconds = item
        with open(path, "rb") as f:
            r = httpx.post(api.url + "/jobs", files={"file": (path.name, f)}, data={"format": "flac", "mood": "calm", "analyse_emotion": "false"}, timeout=60)
        assert r.status_code == 201, r.text
        return r.json(), seconds

    with ThreadPoolExecutor(20) as pool:
        jobs = list(pool.map(send, inputs))
    assert len({j["id"] for j, _ in jobs}) == 20
    pending = {j["id"]: (j, s) for j, s in jobs}
    t0 = time.monotonic()
    with httpx.Client(base_url=api.url, timeout=30) as c:
        while pending and time.monotonic() - t0 < 200:
            for job_id, (job, seconds) in list(pending.items()):
                st = c.get(f"/jobs/{job_id}", headers=auth(job["token"])).json()
                if st["state"] == "failed":
                    pytest.fail(f"job failed: {st['error']}")
                if st["state"] == "done":
                    r = c.get(f"/jobs/{job_id}/result", headers=auth(job["token"]))
                    out = tmp_path / f"{job_id}.flac"
                    out.write_bytes(r.content)
                    # its own input (the length tells) and its own output: the whole voice, with at most the
                    # intro and outro (2 s each) around its words (d736db2: the music frames the words)
                    out_s = st["report"]["output"]["duration_s"]
                    assert st["report"]["input"]["duration_s"] == pytest.approx(seconds, abs=0.05)
                    assert decoded_duration_s(out) == pytest.approx(out_s, abs=0.06), job_id
                    assert seconds - 0.05 <= out_s <= seconds + 4.06, job_id
                    del pending[job_id]
            time.sleep(0.5)
    assert not pending, f"{len(pending)} jobs never finished"


def test_kill9_worker_mid_job_then_new_worker_completes_it(
    tmp_path: Path, redis_url: str, start_worker: Any, media_dir: Path
) -> None:
    """Regression (issue 13): the job stayed "running" until Redis redelivered it after the visibility timeout
    (2,100 s by default). Now its heartbeat stops, the new worker's sweep re-queues it, and it is done within
    3 minutes; the visibility timeout here is left far above that."""
    settings = make_settings(tmp_path, redis_url, soft_time_limit_s=600, hard_time_limit_s=660,
                             visibility_timeout_s=2100, heartbeat_interval_s=1.0, heartbeat_timeout_s=6.0)
    first = start_worker(settings)
    with _client(settings) as c:
        job = upload(c, media_dir / "voice20.wav", mood="calm", analyse_emotion="false").json()
        st = wait_for_state(c, job["id"], job["token"], states=("running", "done", "failed"), poll_s=0.02)
        assert st["state"] == "running", "the job finished before it could be killed"
        killed_at = time.monotonic()
        first.kill9()
        time.sleep(1.0)
        assert not (settings.jobs_dir / job["id"] / "report.json").exists()
        start_worker(settings)
        st = wait_for_state(c, job["id"], job["token"], timeout_s=180)
        assert st["state"] == "done", st
        took = time.monotonic() - killed_at
        assert took < 180
        r = c.get(f"/jobs/{job['id']}/result", headers=auth(job["token"]))
        out = tmp_path / "after_kill.wav"
        out.write_bytes(r.content)
        out_s = st["report"]["output"]["duration_s"]
        assert decoded_duration_s(out) == pytest.approx(out_s, abs=0.1)
        assert 20.0 - 0.05 <= out_s <= 24.1  # the whole voice, intro and outro around its words
        files = sorted(p.name for p in (settings.jobs_dir / job["id"]).iterdir())
        assert files == ["input", "job.json", "report.json", "result.wav"]  # no partial or temporary left
        assert st["report"]["job"]["runs"] == 2 and st["report"]["job"]["requeues"] == 1
        import redis

        rec = redis.Redis.from_url(redis_url, decode_responses=True).hgetall("moodmix:job:" + job["id"])
        assert int(rec["attempts"]) == 2 and rec["requeues"] == "1"


@pytest.mark.parametrize("appendonly", [True, False], ids=["aof", "no-persistence"])
def test_redis_crash_with_queued_jobs_loses_none(tmp_path: Path, private_redis: Any, start_worker: Any,
                                                 media_dir: Path, appendonly: bool) -> None:
    """Jobs queued, no worker yet; Redis is SIGKILLed and restarted. With ``appendonly yes`` (the compose file's
    setting) the queue and records survive. Without persistence both are gone, and the job directories bring
    the jobs back: the first worker (its startup sweep) or the owner's next GET re-queues them."""
    server = private_redis(appendonly=appendonly)
    settings = make_settings(tmp_path, server.url)
    with _client(settings) as c:
        jobs = [upload(c, media_dir / name, mood="calm", analyse_emotion="false").json()
                for name in ("voice4.wav", "voice4.m4a", "voice4.wav")]
        server.kill9()
        assert c.get("/health").status_code == 503
        server.start()
        import redis

        r = redis.Redis.from_url(server.url)
        survived = sum(bool(r.exists("moodmix:job:" + j["id"])) for j in jobs)
        assert (survived, r.llen(settings.queue)) == ((3, 3) if appendonly else (0, 0))
        assert c.get("/health").status_code == 200  # ... and its sweep re-queues the lost jobs from disk
        assert r.llen(settings.queue) == 3
        start_worker(settings)
        for job in jobs:
            st = wait_for_state(c, job["id"], job["token"], timeout_s=120)
            assert st["state"] == "done", st
            assert c.get(f"/jobs/{job['id']}/result", headers=auth(job["token"])).status_code == 200


def test_size_limit_stops_a_real_server_reading(tmp_path: Path, redis_url: str, start_api: Any) -> None:
    settings = make_settings(tmp_path, redis_url, max_upload_bytes=200_000)
    api = start_api(settings)
    head = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.wav\"\r\n"
            b"Content-Type: audio/wav\r\n\r\n")
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as s:
        s.sendall(b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        s.setblocking(False)
        chunk = b"\1" * 32768
        try:
            for part in [head] + [chunk] * 600:  # up to 20 MB, in chunked encoding, no Content-Length
                s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
                sent += len(part)
                time.sleep(0.002)
                try:
                    answer += s.recv(65536)
                except BlockingIOError:
                    pass
                if answer:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.setblocking(True)
        s.settimeout(10)
        while b"\r\n\r\n" not in answer:
            more = s.recv(65536)
            if not more:
                break
            answer += more
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 2_000_000, f"the server read {sent} bytes before refusing"
    time.sleep(0.3)
    jobs = settings.jobs_dir
    assert not jobs.exists() or list(jobs.iterdir()) == []


def test_library_lists_the_catalog(live_service: Any) -> None:
    import httpx

    r = httpx.get(live_service.api.url + "/library", timeout=120)
    assert r.status_code == 200
    tracks = r.json()
    assert tracks and len({t["id"] for t in tracks}) == len(tracks)
    assert {"id", "title", "duration_s", "tags", "features"} <= set(tracks[0])
    assert "path" not in tracks[0]  # no server paths to clients
    assert {"danceability", "energy", "mode", "acousticness", "valence", "tempo"} <= set(tracks[0]["features"])
