"""Holding under abuse (issue 13): each test reproduces one line of the issue.

Resource bombs refused before queueing, with the limit and the value named; every form field validated,
unknown and repeated fields refused, the whole body bounded; slow bodies cut off and uploads capped per client;
Redis down answers 503 JSON on every job route; low disk is unhealthy; tokens never reach a log; a full disk
during a job says so without a server path; a re-run never replaces a finished result.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import subprocess
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from svc_helpers import auth, make_settings, upload, wait_for_state

from mixer.ffmpeg import ffmpeg_exe

pytestmark = [pytest.mark.redis, pytest.mark.ffmpeg]


def _client(settings: Any) -> Any:
    from fastapi.testclient import TestClient

    from workers.http_api import create_app

    return TestClient(create_app(settings))


def job_dirs(settings: Any) -> list[Path]:
    d = settings.jobs_dir
    return sorted(p for p in d.iterdir() if p.is_dir()) if d.exists() else []


def queued(settings: Any) -> int:
    import redis

    return int(redis.Redis.from_url(settings.redis_url).llen(settings.queue))


def sr1_wav(path: Path) -> Path:
    n = 14396
    fmt = struct.pack("<HHIIHH", 1, 2, 1, 4, 4, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", n) + bytes(n)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def maskless_wav(path: Path, channels: int, seconds: float = 1.0, sr: int = 48000) -> Path:
    t = np.arange(int(sr * seconds)) / sr
    x = np.round(0.3 * np.sin(2 * np.pi * 300 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(np.repeat(x[:, None], channels, axis=1).tobytes())
    return path


def silent_flac(path: Path, sr: int, layout: str, seconds: float) -> Path:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"anullsrc=r={sr}:cl={layout}",
                    "-t", str(seconds), "-c:a", "flac", str(path)], check=True)
    return path


# ---- resource bombs --------------------------------------------------------------------------------------
def test_the_14kb_wav_at_1_hz_is_refused_before_queueing(client: Any, svc_settings: Any, tmp_path: Path) -> None:
    """Regression: 201 with duration_s 3599, then 3.8 GB of memory and 1 GB of disk for a 14 KB upload."""
    r = upload(client, sr1_wav(tmp_path / "sr1.wav"), mood="calm")
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("the upload declares a sample rate of 1 Hz; moodmix takes 8000 to 192000")
    assert job_dirs(svc_settings) == [] and queued(svc_settings) == 0


def test_a_384_khz_8_channel_flac_is_refused(client: Any, svc_settings: Any, tmp_path: Path) -> None:
    r = upload(client, silent_flac(tmp_path / "big.flac", 384000, "7.1", 2.0))
    assert r.status_code == 422 and "sample rate of 384000 Hz" in r.json()["detail"]
    assert job_dirs(svc_settings) == []


def test_work_over_the_budget_is_refused_naming_it(client: Any, svc_settings: Any, tmp_path: Path) -> None:
    # budget: max_duration_s (120 s here) of 48 kHz 8-channel audio = 46 M samples; 40 s at 192 kHz x 8 is 61 M
    r = upload(client, silent_flac(tmp_path / "hd.flac", 192000, "7.1", 40.0))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "40 s × 192000 Hz × 8 channels = 0.06 G samples" in detail and "work limit of 0.05 G" in detail
    assert job_dirs(svc_settings) == []


def test_channels_any_count_up_to_the_limit_and_no_more(client: Any, svc_settings: Any, tmp_path: Path) -> None:
    """A valid 9-channel WAV (no channel mask) is accepted (it is folded); 40 channels are refused by name."""
    ok = upload(client, maskless_wav(tmp_path / "ch9.wav", 9), mood="calm")
    assert ok.status_code == 201, ok.text
    manifest = json.loads((svc_settings.jobs_dir / ok.json()["id"] / "job.json").read_text())
    assert manifest["channels"] == 9 and manifest["sample_rate"] == 48000
    r = upload(client, maskless_wav(tmp_path / "ch40.wav", 40, seconds=0.2))
    assert r.status_code == 422 and "40 audio channels; moodmix folds up to 32" in r.json()["detail"]


def test_a_job_that_would_not_fit_its_disk_cap_is_refused(tmp_path: Path, redis_url: str, media_dir: Path) -> None:
    settings = make_settings(tmp_path, redis_url, max_job_bytes=1_000_000)
    with _client(settings) as c:
        r = upload(c, media_dir / "voice4.wav", mood="calm")
    assert r.status_code == 422
    assert "over the decoded-size limit of 0.00 GB" in r.json()["detail"]
    assert job_dirs(settings) == []


# ---- every field checked, the whole body bounded ----------------------------------------------------------
def _raw_form(parts: list[tuple[str, bytes]], file_bytes: bytes, tail: bytes = b"") -> bytes:
    out = b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"v.wav\"\r\n\r\n" + file_bytes
    for name, value in parts:
        out += b"\r\n--B\r\nContent-Disposition: form-data; name=\"" + name.encode() + b"\"\r\n\r\n" + value
    return out + b"\r\n--B--\r\n" + tail


def test_unknown_excess_and_repeated_fields_are_refused(client: Any, svc_settings: Any, media_dir: Path) -> None:
    """Regression: with 20 fields before preset=bogus only 16 were read and the bad preset was ignored (201)."""
    wav = (media_dir / "voice4.wav").read_bytes()
    headers = {"Content-Type": "multipart/form-data; boundary=B"}
    junk = [(f"x{i}", b"1") for i in range(20)] + [("preset", b"bogus")]
    r = client.post("/jobs", content=_raw_form(junk, wav), headers=headers)
    assert r.status_code == 422 and r.json()["detail"].startswith("unknown form field 'x0'; the form takes file,")
    twice = [("mood", b"calm"), ("preset", b"vlog"), ("preset", b"bogus")]
    r2 = client.post("/jobs", content=_raw_form(twice, wav), headers=headers)
    assert r2.status_code == 422 and "'preset' is sent twice" in r2.json()["detail"]
    r3 = client.post("/jobs", content=_raw_form([("preset", b"bogus")], wav), headers=headers)
    assert r3.status_code == 422 and "preset must be one of" in r3.json()["detail"]
    assert job_dirs(svc_settings) == [] and queued(svc_settings) == 0


def test_the_whole_body_is_bounded_not_only_the_file(tmp_path: Path, redis_url: str, media_dir: Path) -> None:
    """Regression: a chunked body with a 100 MB tail after the form was accepted (under the 512 MB file limit).
    Whatever the file limit, no more than 64 KB may come besides the file: a tail after the form is 413."""
    settings = make_settings(tmp_path, redis_url, max_upload_bytes=8_000_000)
    wav = (media_dir / "voice4.wav").read_bytes()[:100_000]
    sent: list[int] = []

    def body() -> Any:
        yield _raw_form([("mood", b"calm")], wav)
        for i in range(64):  # 4 MB after the form's end
            sent.append(i)
            yield b"\0" * 65536

    with _client(settings) as c:
        r = c.post("/jobs", content=body(), headers={"Content-Type": "multipart/form-data; boundary=B"})
    assert r.status_code == 413, r.text
    assert r.json()["detail"].startswith("the request body holds more than 64 KB besides the file (form fields, "
                                         "or data after the form's end)")
    assert sent  # (TestClient sends the whole body; benchmarks/abuse.py measures what a real server reads)
    assert job_dirs(settings) == []


# ---- Redis down, disk low, no server paths ----------------------------------------------------------------
def test_job_routes_answer_503_json_when_redis_is_down(tmp_path: Path) -> None:
    """Regression: GET /jobs/{id}, /result, /report and DELETE answered a plain-text 500."""
    from workers.config import Settings
    from workers.storage import new_job_id

    settings = Settings(redis_url="redis://127.0.0.1:1/0", home=tmp_path / "home")
    job_id = new_job_id()
    with _client(settings) as c:
        for method, path in (("GET", ""), ("GET", "/result"), ("GET", "/report"), ("DELETE", "")):
            r = c.request(method, f"/jobs/{job_id}{path}", headers=auth("t" * 43))
            assert r.status_code == 503, (method, path, r.text)
            assert r.headers["content-type"] == "application/json"
            assert r.json()["detail"] == "the job store (Redis) does not answer; try again in a minute"
        h = c.get("/health")
        assert h.status_code == 503 and "Redis" in h.json()["reason"]


def test_low_disk_is_unhealthy_and_uploads_answer_507(tmp_path: Path, redis_url: str, media_dir: Path) -> None:
    """Regression: /health said 200 with 2 MB free. Below one job's worth of free disk it says why, and uploads
    are refused at once without leaving anything."""
    settings = make_settings(tmp_path, redis_url, min_free_bytes=10**18)
    with _client(settings) as c:
        h = c.get("/health")
        assert h.status_code == 503 and h.json()["storage"] is False
        assert "GB free, under the 1000000000.00 GB one more job may need" in h.json()["reason"]
        r = upload(c, media_dir / "voice4.wav", mood="calm")
        assert r.status_code == 507 and r.json()["detail"] == "the server is out of space; try again later"
    assert job_dirs(settings) == []


def test_client_messages_name_no_server_paths(tmp_path: Path, redis_url: str) -> None:
    from workers.storage import JobFiles, new_job_id
    from workers.tasks import client_message

    settings = make_settings(tmp_path, redis_url)
    files = JobFiles.of(settings.jobs_dir, new_job_id())
    msg = client_message(f"cannot write {files.root}/result.partial.wav: No space left on device; see "
                         "/usr/lib/x86_64-linux-gnu/libsndfile.so", settings, files)
    assert msg == "cannot write result.partial.wav: No space left on device; see libsndfile.so"


# ---- a job on the worker side: disk full, disk cap, finished results ---------------------------------------
@pytest.fixture
def store(tmp_path: Path, redis_url: str) -> Any:
    from workers.jobs import JobStore

    return JobStore(make_settings(tmp_path, redis_url, max_job_bytes=1_000_000, heartbeat_interval_s=0.2,
                                  heartbeat_timeout_s=5))


def _job(store: Any) -> tuple[str, str]:
    from workers.storage import hash_token, new_job_id, new_token

    job_id, token = new_job_id(), new_token()
    files = store.files(job_id)
    files.root.mkdir(parents=True)
    files.input.write_bytes(b"x")
    store.create(job_id, {"id": job_id, "token_hash": hash_token(token), "format": "wav", "created_at": time.time(),
                          "original_name": "a.wav", "options": {"mood": "calm", "analyse_emotion": False}})
    return job_id, token


def test_disk_full_during_a_job_is_retried_then_says_out_of_space(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: a full disk failed the job at once with the server's path in the message."""
    import moodmix.pipeline
    from core.errors import DecodeError
    from workers.tasks import OUT_OF_SPACE, OutOfSpaceError, mix_job, run_job

    job_id, token = _job(store)
    where = store.files(job_id).root / "result.partial.wav"

    def full(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise DecodeError(f"cannot render {where}: No space left on device")

    monkeypatch.setattr(moodmix.pipeline, "mix_file", full)
    with pytest.raises(OutOfSpaceError, match="out of space"):  # transient: the task retries it with backoff
        run_job(job_id, settings=store.settings, store=store)
    monkeypatch.setattr("workers.tasks.get_settings", lambda: store.settings)
    mix_job.apply(args=[job_id], retries=store.settings.max_retries)  # the last try
    rec = store.authorize(job_id, token)
    assert rec["state"] == "failed" and rec["error"] == f"{OUT_OF_SPACE} (tried {store.settings.max_retries + 1} times)"
    assert str(store.settings.jobs_dir) not in json.dumps(rec)


def test_a_job_whose_files_grow_past_the_cap_fails_and_cleans_up(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    import moodmix.pipeline
    from workers.tasks import run_job

    job_id, _token = _job(store)
    held: list[Any] = []

    def grows(src: Path, out: Path, **kwargs: Any) -> dict[str, Any]:
        f = tempfile.TemporaryFile()  # noqa: SIM115 - kept open: an unlinked file counted through the process's fds
        f.write(b"\0" * 1_500_000)
        f.flush()
        held.append(f)
        time.sleep(0.5)  # the watch measures it
        kwargs["progress"]("mix", 0.5)
        raise AssertionError("the progress callback should have stopped the job")

    monkeypatch.setattr(moodmix.pipeline, "mix_file", grows)
    out = run_job(job_id, settings=store.settings, store=store)
    assert out["state"] == "failed"
    assert "grew past 0.00 GB, over the 0.00 GB limit of one job (MOODMIX_MAX_JOB_BYTES)" in out["error"]
    assert sorted(p.name for p in store.files(job_id).root.iterdir()) == ["error.json", "input", "job.json"]


def test_a_second_run_never_replaces_a_finished_result(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs of one job (the message redelivered after a requeue): the one that finishes second keeps its
    partial to itself."""
    import moodmix.pipeline
    from workers.storage import atomic_write_json
    from workers.tasks import run_job

    job_id, _ = _job(store)
    files = store.files(job_id)

    def other_run_finishes_first(src: Path, out: Path, **kwargs: Any) -> dict[str, Any]:
        out.write_bytes(b"partial of the second run")
        files.result("wav").write_bytes(b"the finished result")
        atomic_write_json(files.report, {"done": 1})
        return {"input": {}, "output": {}, "music": {}}

    monkeypatch.setattr(moodmix.pipeline, "mix_file", other_run_finishes_first)
    out = run_job(job_id, settings=store.settings, store=store)
    assert out == {"id": job_id, "state": "done", "redelivered": True}
    assert files.result("wav").read_bytes() == b"the finished result"
    assert json.loads(files.report.read_text()) == {"done": 1}
    assert not list(files.root.glob("result.partial*")) and not (files.root / "tmp").exists()


def test_the_report_counts_runs_and_requeues(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import moodmix.pipeline
    from workers.tasks import run_job

    job_id, _ = _job(store)
    store.update(job_id, requeues=1, attempts=1)
    (store.files(job_id).root / "result.partial-deadbeef.wav").write_bytes(b"left by a lost run")

    def ok(src: Path, out: Path, **kwargs: Any) -> dict[str, Any]:
        out.write_bytes(b"RIFF")
        return {"input": {"path": str(src)}, "output": {"path": str(out)}, "music": {}}

    monkeypatch.setattr(moodmix.pipeline, "mix_file", ok)
    assert run_job(job_id, settings=store.settings, store=store)["state"] == "done"
    report = json.loads(store.files(job_id).report.read_text())
    assert report["job"]["runs"] == 2 and report["job"]["requeues"] == 1
    assert report["input"]["path"] == "a.wav"
    assert sorted(p.name for p in store.files(job_id).root.iterdir()) == ["input", "job.json", "report.json",
                                                                         "result.wav"]


# ---- logs ----------------------------------------------------------------------------------------------------
def test_access_log_lines_lose_their_tokens() -> None:
    from workers.http_api import OncePerInterval, RedactTokens

    rec = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                            ("127.0.0.1:5", "GET", "/jobs/abc/result?token=SECRET&download=false", "1.1", 200), None)
    RedactTokens().filter(rec)
    assert rec.getMessage() == '127.0.0.1:5 - "GET /jobs/abc/result?token=***&download=false HTTP/1.1" 200'
    rec2 = logging.LogRecord("x", logging.INFO, "", 0, "GET /r?download=true&exp=1&sig=abcdef", None, None)
    RedactTokens().filter(rec2)
    assert rec2.getMessage() == "GET /r?download=true&exp=1&sig=***"
    once = OncePerInterval(interval_s=0.3)
    records = [logging.LogRecord("asyncio", logging.ERROR, "", 0, "socket.accept() out of system resource", None,
                                 (OSError, OSError(24, "Too many open files"), None)) for _ in range(100)]
    assert sum(once.filter(r) for r in records) == 1
    assert records[0].exc_info is None  # one line, no traceback
    time.sleep(0.35)
    later = logging.LogRecord("asyncio", logging.ERROR, "", 0, "Too many open files", None, None)
    assert once.filter(later) and "(99 more like it" in later.getMessage()


# ---- slow and many clients (a real server) -------------------------------------------------------------------
def _open_upload(port: int, declared: int = 1_000_000) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n"
              b"Content-Length: %d\r\n\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; "
              b"filename=\"v.wav\"\r\n\r\nRIFF" % declared)
    return s


def _answer(s: socket.socket, timeout_s: float) -> bytes:
    """The response (head and body) if one comes within ``timeout_s``, else b""."""
    s.settimeout(timeout_s)
    got = b""
    try:
        while True:
            more = s.recv(4096)
            if not more:
                return got
            got += more
            head, sep, body = got.partition(b"\r\n\r\n")
            if sep:
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                if len(body) >= length:
                    return got
                s.settimeout(5)
    except (TimeoutError, OSError):
        return got


def test_slow_bodies_are_cut_off_and_uploads_capped_per_client(tmp_path: Path, redis_url: str,
                                                               start_api: Any) -> None:
    """Regression: an upload at 1 byte/s was never cut off, and 520 of them stopped the API answering."""
    settings = make_settings(tmp_path, redis_url, upload_idle_timeout_s=2.0, upload_grace_s=1.0,
                             upload_min_bytes_per_s=1000, max_uploads_per_client=2, max_concurrent_uploads=16)
    api = start_api(settings)
    # stalled: nothing after the first bytes → 408 after the idle timeout
    t0 = time.monotonic()
    stalled = _open_upload(api.port)
    a = _answer(stalled, 10)
    assert a.startswith(b"HTTP/1.1 408"), a[:200]
    assert b"sent nothing for 2 s" in a
    assert time.monotonic() - t0 < 6
    # a trickle: one byte a second → 408 once it falls under the minimum rate after the grace period
    trickle = _open_upload(api.port)
    got = b""
    t0 = time.monotonic()
    while not got and time.monotonic() - t0 < 10:
        trickle.sendall(b"\1")
        got = _answer(trickle, 1.0)
    assert got.startswith(b"HTTP/1.1 408") and b"too slow" in got, got[:300]
    # a third upload from one address while two are in progress → 429 at once; others still served
    socks = [_open_upload(api.port) for _ in range(2)]
    time.sleep(0.3)
    third = _open_upload(api.port)
    a3 = _answer(third, 5)
    assert a3.startswith(b"HTTP/1.1 429") and b"2 uploads from your address" in a3
    import httpx

    assert httpx.get(api.url + "/health", timeout=5).status_code == 200
    for s in [stalled, trickle, third, *socks]:
        s.close()
    time.sleep(2.5)
    assert job_dirs(settings) == []  # every cut-off upload removed its partial file


@pytest.mark.slow
def test_library_is_cached_and_rate_limited(tmp_path: Path, redis_url: str, catalog_ready: Path) -> None:
    """Regression: 40 concurrent GET /library ran 40 subprocesses (2.66 GB). Now one child lists the catalog
    while the others wait for its answer, and a client past its rate gets 429."""
    from concurrent.futures import ThreadPoolExecutor

    settings = make_settings(tmp_path, redis_url, library_requests_per_min=100)
    with _client(settings) as c:
        with ThreadPoolExecutor(20) as pool:
            bodies = list(pool.map(lambda _: c.get("/library"), range(20)))
        assert {r.status_code for r in bodies} == {200}
        assert len({r.content for r in bodies}) == 1 and bodies[0].json()
    limited = make_settings(tmp_path, redis_url, library_requests_per_min=2)
    with _client(limited) as c:
        codes = [c.get("/library").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


# ---- tokens never logged (the live stack: API with its access log, a worker) ------------------------------
@pytest.mark.slow
def test_a_full_job_leaves_no_token_in_any_log_line(live_service: Any, media_dir: Path, tmp_path: Path) -> None:
    """Regression: 13 access-log lines carried one job's token. The job is followed as the page follows it
    (status with the header, player and download through the signed links) and as a link would (?token=)."""
    import httpx

    url = live_service.api.url
    log = live_service.api.log_path
    mark = log.stat().st_size
    with open(media_dir / "voice4.wav", "rb") as f:
        job = httpx.post(url + "/jobs", files={"file": ("voice4.wav", f)},
                         data={"mood": "calm", "analyse_emotion": "false"}, timeout=60).json()
    token = job["token"]
    with httpx.Client(base_url=url, timeout=60) as c:
        st = wait_for_state(c, job["id"], token)
        assert st["state"] == "done", st
        assert "token" not in st["result_url"] and "sig=" in st["result_url"]
        played = c.get(st["result_url"])  # no token, no header: the signed link alone
        saved = c.get(st["download_url"])
        assert played.status_code == 200 and played.headers["content-disposition"].startswith("inline")
        assert saved.status_code == 200 and saved.content == played.content
        assert c.get(st["result_url"].replace("sig=", "sig=0")).status_code == 404
        assert c.get(f"/jobs/{job['id']}?token={token}").status_code == 200
        assert c.get(f"/jobs/{job['id']}/report?token={token}").status_code == 200
        assert c.get(f"/jobs/{job['id']}/result?token={token}&download=true").status_code == 200
        assert c.get("/").status_code == 200 and "download_url" in c.get("/static/app.js").text
    time.sleep(0.5)
    lines = log.read_bytes()[mark:].decode("utf-8", "replace").splitlines()
    assert any(f"/jobs/{job['id']}/result" in line for line in lines)  # the access log is on
    assert not [line for line in lines if token in line]
    assert any("token=***" in line for line in lines)
    worker_log = live_service.worker.log_path.read_text(errors="replace")
    assert token not in worker_log


def test_the_worker_applies_the_limits_to_jobs_the_api_never_saw(store: Any, tmp_path: Path) -> None:
    """A job queued around the API (an older version, a hand-made queue entry) with the 1 Hz WAV fails at once
    with the limit's message, before any decode."""
    from workers.tasks import run_job

    job_id, _token = _job(store)
    sr1_wav(store.files(job_id).input)
    out = run_job(job_id, settings=store.settings, store=store)
    assert out["state"] == "failed"
    assert out["error"].startswith("the upload declares a sample rate of 1 Hz; moodmix takes 8000 to 192000 Hz")


def test_idle_connections_are_closed_and_capped(tmp_path: Path, redis_url: str, start_api: Any) -> None:
    """Regression: connections that never finish their headers were kept forever (520 of them ran the API out
    of file descriptors). Past the cap they are refused at once with 503; the others close after the header
    timeout; then the API answers again."""
    import httpx

    settings = make_settings(tmp_path, redis_url, max_connections=20, header_timeout_s=1.5)
    api = start_api(settings)
    socks = [socket.create_connection(("127.0.0.1", api.port), timeout=5) for _ in range(30)]
    time.sleep(0.3)
    refused = [s for s in socks if _answer(s, 0.05).startswith(b"HTTP/1.1 503")]
    assert len(refused) == 10
    time.sleep(2.0)
    closed = 0
    for s in socks:
        if s not in refused:
            s.settimeout(0.5)
            try:
                closed += s.recv(10) == b""
            except OSError:
                pass
        s.close()
    assert closed == 20
    assert httpx.get(api.url + "/health", timeout=5).status_code == 200
    log = api.log_path.read_text(errors="replace")
    assert "Traceback" not in log and log.count("more than 20 connections at once") == 2  # the 1st and 10th


def test_a_run_taken_for_lost_stops_when_another_holds_the_job(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that missed its heartbeats (stalled, not dead) and was re-queued stops at its next progress call
    instead of running beside the new run; the job is not failed."""
    import moodmix.pipeline
    from workers.jobs import _RUN_CLAIM
    from workers.tasks import run_job

    job_id, _token = _job(store)

    def stalls(src: Path, out: Path, **kwargs: Any) -> dict[str, Any]:
        store.redis.set(_RUN_CLAIM + job_id, "the-new-run")  # what requeue_lost + the new run's claim do
        time.sleep(0.6)  # a heartbeat (every 0.2 s here) sees it
        kwargs["progress"]("mix", 0.5)
        raise AssertionError("the progress callback should have stopped this run")

    monkeypatch.setattr(moodmix.pipeline, "mix_file", stalls)
    assert run_job(job_id, settings=store.settings, store=store) == {"id": job_id, "state": "superseded"}
    assert store.get(job_id)["state"] == "running" and not store.files(job_id).error.exists()
    assert store.redis.get(_RUN_CLAIM + job_id) == "the-new-run"  # the new run keeps it
