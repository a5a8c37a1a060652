"""Abuse the service and see whether it holds (issue 13): resource bombs, bad forms, slow and many clients, Redis
down, tokens in logs, a worker killed mid-job.

Runs a local stack on loopback: a private ``redis-server`` (append-only, so it can be killed and restarted), the
API under uvicorn (``--log-level info``: the access log is captured) and one ``celery worker --concurrency 1``.
Every case prints one line:

    case                      outcome                                   worker MB  disk MB  recover s

- outcome: ``refused <status>`` (4xx before queueing), ``held`` (what the case checks for holds), or what went
  wrong (accepted and then failed, not cut off, a traceback, ...);
- worker MB: peak resident memory of the worker process tree during the case (sampled every 0.25 s);
- disk MB: peak disk the jobs hold: the jobs folder plus the worker's open unlinked temporary files;
- recover s: from the end of the case until a normal 4 s job queued after it is done (a wedged worker is
  killed and restarted after ``--recover-timeout`` s: then the figure is that limit plus the restart).

    .venv/bin/python benchmarks/abuse.py                       # this checkout
    .venv/bin/python benchmarks/abuse.py --code /tmp/before    # another checkout (git worktree), same venv
    .venv/bin/python benchmarks/abuse.py --cases sr1 ch9 kill  # some cases only

Writes benchmarks/out/abuse-<label>.json (label: --label, default the code's short commit).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
MEDIA = Path(tempfile.gettempdir()) / "moodmix-abuse-media"


# ---- media -----------------------------------------------------------------------------------------------
def ffmpeg_exe() -> str:
    sys.path.insert(0, str(REPO))
    from mixer.ffmpeg import ffmpeg_exe as exe

    return exe()


def make_media() -> dict[str, Path]:
    MEDIA.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    # the 14 KB WAV that declares 1 Hz: 3,599 s of "audio"
    n = 14396
    fmt = np.array([1, 2], "<u2").tobytes() + np.array([1, 4], "<u4").tobytes() + np.array([4, 16], "<u2").tobytes()
    body = b"WAVE" + b"fmt " + (16).to_bytes(4, "little") + fmt + b"data" + n.to_bytes(4, "little") + bytes(n)
    p = MEDIA / "sr1.wav"
    p.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    out["sr1"] = p
    p = MEDIA / "flac384k8ch.flac"  # 3,500 s of 384 kHz 8-channel silence, FLAC
    if not p.exists():
        part = p.with_name("part-" + p.name)
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=384000:cl=7.1",
                        "-t", "3500", "-c:a", "flac", str(part)], check=True)
        part.rename(p)
    out["flac384"] = p
    sr = 48000
    t = np.arange(sr) / sr
    x = np.round(0.3 * np.sin(2 * np.pi * 300 * t) * 32767).astype("<i2")
    p = MEDIA / "ch9.wav"  # 9 channels, no channel mask
    with wave.open(str(p), "wb") as w:
        w.setnchannels(9)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(np.repeat(x[:, None], 9, axis=1).tobytes())
    out["ch9"] = p
    p = MEDIA / "voice4.flac"  # a normal job: the first 4 s of the sample voice
    if not p.exists():
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(REPO / "samples" / "voice.flac"), "-t", "4",
                        str(p)], check=True)
    out["voice4"] = p
    out["voice40"] = REPO / "samples" / "voice.flac"
    return out


# ---- processes -------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(k) for k in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return out


def rss_mb(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except (OSError, ValueError):
            continue
    return total


def disk_mb(jobs: Path, pid: int | None) -> float:
    """The jobs folder's files plus the open, unlinked temporary files of the worker tree."""
    total = 0
    for dirpath, _d, names in os.walk(jobs):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    seen: set[tuple[int, int]] = set()
    for p in tree(pid) if pid else []:
        try:
            fds = os.listdir(f"/proc/{p}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{p}/fd/{fd}")
                if not link.endswith("(deleted)") or not link.startswith("/"):
                    continue
                st = os.stat(f"/proc/{p}/fd/{fd}")
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
            except OSError:
                pass
    return total / 1e6


class Stack:
    def __init__(self, code: Path, home: Path, tmp: Path) -> None:
        self.code, self.home, self.tmp = code, home, tmp
        self.jobs = tmp / "jobs"
        self.redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        self.env.update({
            "PYTHONPATH": str(code), "MOODMIX_HOME": str(home), "MOODMIX_JOBS_PATH": str(self.jobs),
            "MOODMIX_REDIS_URL": self.redis_url, "MOODMIX_QUEUE": f"abuse-{secrets.token_hex(3)}",
            "MOODMIX_WARM_MODELS": "false", "MOODMIX_HEARTBEAT_INTERVAL_S": "2", "MOODMIX_HEARTBEAT_TIMEOUT_S": "15",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        })
        self.redis: subprocess.Popen[bytes] | None = None
        self.api: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.api_log = tmp / "api.log"

    def _start(self, cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(cmd, cwd=self.code, env=self.env, stdout=open(log, "ab"),
                                stderr=subprocess.STDOUT, start_new_session=True)

    def start_redis(self) -> None:
        exe = shutil.which("redis-server") or "redis-server"
        self.redis = subprocess.Popen(
            [exe, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(self.tmp), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        t0 = time.monotonic()
        while time.monotonic() - t0 < 20:
            try:
                if redis.Redis.from_url(self.redis_url, socket_connect_timeout=1).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    def kill_redis(self) -> None:
        if self.redis is not None:
            self.redis.kill()
            self.redis.wait()

    def start_api(self) -> None:
        import httpx

        self.api = self._start([sys.executable, "-m", "uvicorn", "workers.http_api:app", "--host", "127.0.0.1",
                                "--port", str(self.port), "--log-level", "info", *self.http_args()], self.api_log)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            try:
                httpx.get(self.url + "/health", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise TimeoutError(f"API not up: {self.api_log.read_text()[-2000:]}")

    def http_args(self) -> list[str]:
        """uvicorn's protocol as ``moodmix serve`` chooses it in that checkout."""
        if (self.code / "workers" / "server.py").exists():
            return ["--http", "workers.server:GuardedH11Protocol"]
        return []

    def start_worker(self) -> None:
        log = self.tmp / "worker.log"
        mark = log.stat().st_size if log.exists() else 0
        self.worker = self._start([sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
                                   "--pool=prefork", "--concurrency=1", "-Q", self.env["MOODMIX_QUEUE"],
                                   "--loglevel=info", f"--hostname=abuse-{secrets.token_hex(3)}@%h",
                                   "--without-gossip", "--without-mingle"], log)
        t0 = time.monotonic()
        while b" ready." not in log.read_bytes()[mark:]:
            if time.monotonic() - t0 > 120:
                raise TimeoutError("worker not ready")
            time.sleep(0.2)

    @staticmethod
    def stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()

    def close(self) -> None:
        self.stop(self.worker)
        self.stop(self.api)
        self.kill_redis()


class Monitor:
    """Peak worker memory and job disk, sampled in a thread."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.worker_mb = self.api_mb = self.disk_mb = 0.0
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def reset(self) -> None:
        self.worker_mb = self.api_mb = self.disk_mb = 0.0

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            w = self.stack.worker.pid if self.stack.worker and self.stack.worker.poll() is None else None
            if w:
                self.worker_mb = max(self.worker_mb, rss_mb(w))
            if self.stack.api and self.stack.api.poll() is None:
                self.api_mb = max(self.api_mb, rss_mb(self.stack.api.pid))
            self.disk_mb = max(self.disk_mb, disk_mb(self.stack.jobs, w))

    def close(self) -> None:
        self._stop.set()


# ---- HTTP helpers ----------------------------------------------------------------------------------------
def post_file(url: str, path: Path, timeout: float = 300, **fields: str) -> Any:
    import httpx

    with open(path, "rb") as f:
        return httpx.post(url + "/jobs", files={"file": (path.name, f)}, data=fields, timeout=timeout)


def wait_job(url: str, job: dict[str, Any], timeout_s: float, *, query: bool = False) -> dict[str, Any]:
    import httpx

    t0 = time.monotonic()
    st: dict[str, Any] = {"state": "?"}
    while time.monotonic() - t0 < timeout_s:
        try:
            if query:
                r = httpx.get(f"{url}/jobs/{job['id']}?token={job['token']}", timeout=10)
            else:
                r = httpx.get(f"{url}/jobs/{job['id']}", headers={"Authorization": f"Bearer {job['token']}"},
                              timeout=10)
            st = r.json() if r.headers.get("content-type", "").startswith("application/json") else {"state": "?"}
        except (httpx.HTTPError, ValueError):
            pass
        if st.get("state") in ("done", "failed"):
            return st
        time.sleep(0.5)
    return st


def raw_post(port: int, parts: list[bytes], *, delay_s: float = 0.0, read_timeout_s: float = 30.0,
             finish: bool = True) -> tuple[bytes, int, float]:
    """POST /jobs over a raw socket, chunked: returns (first response bytes, body bytes sent, seconds until
    the answer or the end). ``finish=False`` never sends the body's last chunk (a client that stalls)."""
    t0 = time.monotonic()
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout_s) as s:
        s.sendall(b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        s.setblocking(False)
        try:
            for part in parts:
                data = b"%x\r\n%s\r\n" % (len(part), part)
                view = memoryview(data)
                while view:
                    try:
                        k = s.send(view)
                        view = view[k:]
                    except BlockingIOError:
                        time.sleep(0.001)
                    try:
                        answer += s.recv(65536)
                    except BlockingIOError:
                        pass
                    if answer:
                        break
                sent += len(part)
                if answer:
                    break
                if delay_s:
                    time.sleep(delay_s)
            if finish and not answer:
                s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.setblocking(True)
        s.settimeout(read_timeout_s)
        try:
            while b"\r\n\r\n" not in answer:
                more = s.recv(65536)
                if not more:
                    break
                answer += more
        except (TimeoutError, OSError):
            pass
    return answer, sent, time.monotonic() - t0


def status_of(answer: bytes) -> int:
    try:
        return int(answer.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


FORM_END = b"\r\n--B--\r\n"


def file_part(path: Path) -> bytes:
    return (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + path.name.encode()
            + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n" + path.read_bytes())


def field(name: str, value: str) -> bytes:
    return f"\r\n--B\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}".encode()


# ---- cases -----------------------------------------------------------------------------------------------
Result = dict[str, Any]


def upload_outcome(r: Any, stack: Stack, job_timeout_s: float) -> tuple[str, dict[str, Any] | None]:
    if r.status_code != 201:
        detail = r.json().get("detail", "") if r.headers.get("content-type", "").startswith("application/json") \
            else r.text[:80]
        return f"refused {r.status_code}: {str(detail)[:70]}", None
    job = r.json()
    st = wait_job(stack.url, job, job_timeout_s)
    if st.get("state") == "failed":
        return f"accepted 201, then failed: {str(st.get('error'))[:60]}", job
    if st.get("state") == "done":
        return "accepted 201, done", job
    return f"accepted 201, still {st.get('state')} after {job_timeout_s:.0f} s", job


def make_cases(stack: Stack, media: dict[str, Path], args: argparse.Namespace) -> dict[str, Callable[[], str]]:
    import httpx

    url = stack.url

    def bomb(name: str) -> Callable[[], str]:
        def run() -> str:
            out, job = upload_outcome(post_file(url, media[name], mood="calm", analyse_emotion="false"), stack,
                                      args.job_timeout)
            if job is not None and "still" in out:
                httpx.delete(f"{url}/jobs/{job['id']}", headers={"Authorization": f"Bearer {job['token']}"})
            return out
        return run

    def ch9() -> str:
        out, _ = upload_outcome(post_file(url, media["ch9"], mood="calm", analyse_emotion="false"), stack,
                                args.job_timeout)
        return "held: " + out if out.endswith("done") else out

    def bad_mood() -> str:
        out, _ = upload_outcome(post_file(url, media["voice4"], mood="zzz", analyse_emotion="false"), stack,
                                args.job_timeout)
        return out

    def excess_fields() -> str:
        parts = [file_part(media["voice4"])] + [field(f"x{i}", "1") for i in range(20)]
        parts += [field("preset", "bogus"), FORM_END]
        answer, _, _ = raw_post(stack.port, [b"".join(parts)])
        return f"{'refused' if 400 <= status_of(answer) < 500 else 'accepted'} {status_of(answer)}"

    def tail_100mb() -> str:
        parts = [file_part(media["voice4"]) + field("mood", "calm") + field("analyse_emotion", "false") + FORM_END]
        parts += [b"\0" * (1 << 20)] * 100  # after the form's end
        answer, sent, _secs = raw_post(stack.port, parts)
        code = status_of(answer)
        return f"{'refused' if 400 <= code < 500 else 'accepted'} {code} after {sent / 1e6:.0f} MB"

    def small_fields_80mb() -> str:
        chunk = b"".join(field(f"f{i}", "v" * 200) for i in range(5000))  # ~1.2 MB of small fields
        parts = [file_part(media["voice4"])] + [chunk] * 66 + [FORM_END]
        answer, sent, _secs = raw_post(stack.port, parts)
        code = status_of(answer)
        return f"{'refused' if 400 <= code < 500 else 'accepted'} {code} after {sent / 1e6:.0f} MB"

    def slow_body() -> str:
        head = file_part(media["voice4"])[:200]
        parts = [head] + [b"\1"] * int(args.slow_s)
        t0 = time.monotonic()
        answer, sent, _ = raw_post(stack.port, parts, delay_s=1.0, read_timeout_s=5, finish=False)
        secs = time.monotonic() - t0
        code = status_of(answer)
        if code and sent < sum(map(len, parts)):
            return f"held: cut off with {code} after {secs:.0f} s"
        return f"not cut off in {secs:.0f} s" + (f" (then {code})" if code else "")

    def slow_clients() -> str:
        n = args.slow_clients
        socks: list[socket.socket] = []
        head = (b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n"
                b"Content-Length: 10000000\r\n\r\n") + file_part(media["voice4"])[:100]
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", stack.port), timeout=5)
            s.sendall(head)
            socks.append(s)
        t_end = time.monotonic() + 20
        health_ms: list[float] = []
        refused = 0
        while time.monotonic() < t_end:
            for s in socks:
                try:
                    s.send(b"\1")
                except OSError:
                    pass
            t0 = time.monotonic()
            try:
                httpx.get(url + "/health", timeout=10)
                health_ms.append(1000 * (time.monotonic() - t0))
            except httpx.HTTPError:
                health_ms.append(10000.0)
            time.sleep(1.0)
        r = post_file(url, media["voice4"], timeout=30, mood="calm", analyse_emotion="false")
        for s in socks:
            s.setblocking(False)
            try:
                data = s.recv(100)
                refused += data.startswith((b"HTTP/1.1 429", b"HTTP/1.1 408"))
            except OSError:
                pass
            s.close()
        return (f"{refused}/{n} answered 429/408; /health max {max(health_ms):.0f} ms; "
                f"one more from the same address {r.status_code}")

    def idle_flood() -> str:
        """A second API process under ``ulimit -n 256``; 300 connections that never send a request."""
        port = free_port()
        log = stack.tmp / "api_idle.log"
        cmd = (f"ulimit -n 256; exec {sys.executable} -m uvicorn workers.http_api:app --host 127.0.0.1 --port {port} "
               f"--log-level info {' '.join(stack.http_args())}")
        proc = subprocess.Popen(["bash", "-c", cmd], cwd=stack.code, env=stack.env,
                                stdout=open(log, "ab"),  # noqa: SIM115 - the child holds it; closed with it
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            t0 = time.monotonic()
            while time.monotonic() - t0 < 60:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            socks = []
            for _ in range(300):
                try:
                    socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                except OSError:
                    break
            answered, t_end = 0, time.monotonic() + 20
            tries = 0
            while time.monotonic() < t_end:
                tries += 1
                try:
                    httpx.get(f"http://127.0.0.1:{port}/health", timeout=3)
                    answered += 1
                except httpx.HTTPError:
                    pass
                time.sleep(1.0)
            size_kb = log.stat().st_size / 1024
            emfile = log.read_text(errors="replace").count("Too many open files")
            for s in socks:
                s.close()
            time.sleep(1.0)
            try:
                after = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code
            except httpx.HTTPError as exc:
                after = type(exc).__name__
            return (f"/health answered {answered}/{tries} during, {after} after; log {size_kb:.0f} KB, "
                    f"{emfile} 'Too many open files'")
        finally:
            Stack.stop(proc)

    def library_storm() -> str:
        Stack.stop(stack.api)  # a cold cache
        stack.start_api()
        t0 = time.monotonic()
        with ThreadPoolExecutor(40) as pool:
            codes = list(pool.map(lambda _: httpx.get(url + "/library", timeout=300).status_code, range(40)))
        secs = time.monotonic() - t0
        return (f"40 GETs in {secs:.1f} s: {codes.count(200)}x200 {codes.count(429)}x429; "
                f"API tree peak {monitor_ref[0].api_mb:.0f} MB")

    def done_job() -> dict[str, Any]:
        job = post_file(url, media["voice4"], mood="calm", analyse_emotion="false").json()
        wait_job(url, job, args.job_timeout)
        return job

    def redis_down() -> str:
        job = done_job()
        stack.kill_redis()
        h = {"Authorization": f"Bearer {job['token']}"}
        got = []
        for method, path in (("GET", ""), ("GET", "/result"), ("GET", "/report"), ("DELETE", "")):
            try:
                r = httpx.request(method, f"{url}/jobs/{job['id']}{path}", headers=h, timeout=30)
                is_json = r.headers.get("content-type", "").startswith("application/json")
                got.append(f"{r.status_code}{'json' if is_json else 'text'}")
            except httpx.HTTPError as exc:
                got.append(type(exc).__name__)
        stack.start_redis()
        ok = all(g == "503json" for g in got)
        return f"{'held' if ok else 'not held'}: {' '.join(got)}"

    def tokens_in_logs() -> str:
        mark = stack.api_log.stat().st_size
        job = post_file(url, media["voice4"], mood="calm", analyse_emotion="false").json()
        st = wait_job(url, job, args.job_timeout, query=True)  # polled as a link would: ?token=
        q = f"token={job['token']}"
        httpx.get(f"{url}/jobs/{job['id']}/report?{q}", timeout=30)
        httpx.get(f"{url}/jobs/{job['id']}/result?{q}&download=false", timeout=30)
        st = httpx.get(f"{url}/jobs/{job['id']}", headers={"Authorization": f"Bearer {job['token']}"}).json()
        for key in ("result_url", "download_url"):  # the page's player and download link, when signed
            if st.get(key):
                httpx.get(url + st[key], timeout=30)
        if not st.get("result_url"):
            httpx.get(f"{url}/jobs/{job['id']}/result?{q}&download=true", timeout=30)
        time.sleep(0.5)
        lines = stack.api_log.read_bytes()[mark:].decode("utf-8", "replace").splitlines()
        leaked = sum(job["token"] in line for line in lines)
        return f"{'held: no token in' if not leaked else f'token in {leaked} of'} {len(lines)} log lines"

    def kill_worker() -> str:
        job = post_file(url, media["voice40"], mood="calm", analyse_emotion="false").json()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            st = httpx.get(f"{url}/jobs/{job['id']}", headers={"Authorization": f"Bearer {job['token']}"}).json()
            if st["state"] != "queued":
                break
            time.sleep(0.05)
        if st["state"] != "running":
            return f"job was {st['state']} before the kill"
        Stack.stop(stack.worker, signal.SIGKILL)
        killed = time.monotonic()
        stack.start_worker()
        st = wait_job(url, job, args.kill_timeout)
        secs = time.monotonic() - killed
        if st.get("state") != "done":
            return f"not recovered: still {st.get('state')} {secs:.0f} s after the kill"
        runs = (st.get("report") or {}).get("job", {}).get("runs", "?")
        return f"held: done {secs:.0f} s after the kill (runs in report: {runs})"

    monitor_ref: list[Monitor] = []
    stack.monitor_ref = monitor_ref  # type: ignore[attr-defined]
    return {
        "sr1": bomb("sr1"), "flac384": bomb("flac384"), "ch9": ch9, "mood": bad_mood, "fields": excess_fields,
        "tail": tail_100mb, "smallfields": small_fields_80mb, "slow": slow_body, "slowclients": slow_clients,
        "idle": idle_flood, "library": library_storm, "redis": redis_down, "tokens": tokens_in_logs, "kill": kill_worker,
    }


CASE_NAMES = {
    "sr1": "14 KB WAV at 1 Hz", "flac384": "FLAC 384 kHz 8 ch 3500 s", "ch9": "WAV 9 channels",
    "mood": "mood=zzz", "fields": "20 fields + bad preset", "tail": "100 MB after the form",
    "smallfields": "80 MB of small fields", "slow": "1 byte/s upload", "slowclients": "40 slow uploads",
    "idle": "300 idle conns, nofile 256",
    "library": "40 x GET /library cold", "redis": "Redis down: job routes", "tokens": "tokens in access log",
    "kill": "kill -9 worker mid-job",
}


def recover(stack: Stack, media: dict[str, Path], timeout_s: float) -> float:
    """Seconds until a normal job queued now is done; a wedged worker is killed and restarted."""
    import httpx

    t0 = time.monotonic()
    for attempt in range(2):
        try:
            r = post_file(stack.url, media["voice4"], timeout=60, mood="calm", analyse_emotion="false")
            job = r.json() if r.status_code == 201 else None
        except httpx.HTTPError:
            job = None
        if job is not None:
            st = wait_job(stack.url, job, timeout_s)
            if st.get("state") == "done":
                return time.monotonic() - t0
        if attempt == 0:  # wedged: restart the worker (and the API if it stopped answering)
            Stack.stop(stack.worker, signal.SIGKILL)
            stack.start_worker()
            try:
                httpx.get(stack.url + "/health", timeout=5)
            except httpx.HTTPError:
                Stack.stop(stack.api, signal.SIGKILL)
                stack.start_api()
    return float("inf")


def build_catalog(code: Path, home: Path) -> None:
    env = dict(os.environ, MOODMIX_HOME=str(home), PYTHONPATH=str(code))
    code_s = ("from library.select import choose_tracks; from models.types import neutral_estimate; "
              "choose_tracks(neutral_estimate(), n=1)")
    subprocess.run([sys.executable, "-c", code_s], cwd=code, env=env, check=True, capture_output=True, timeout=900)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--code", type=Path, default=REPO, help="the checkout to run (default this one)")
    ap.add_argument("--label", default=None)
    ap.add_argument("--home", type=Path, default=Path(tempfile.gettempdir()) / "moodmix-abuse-home",
                    help="MOODMIX_HOME with the built-in catalog (built on first use)")
    ap.add_argument("--cases", nargs="+", default=list(CASE_NAMES), choices=list(CASE_NAMES))
    ap.add_argument("--job-timeout", type=float, default=150.0, help="wait at most this long for a job")
    ap.add_argument("--recover-timeout", type=float, default=90.0)
    ap.add_argument("--kill-timeout", type=float, default=240.0)
    ap.add_argument("--slow-s", type=float, default=75.0, help="how long the 1 byte/s upload keeps sending")
    ap.add_argument("--slow-clients", type=int, default=40)
    args = ap.parse_args()

    code = args.code.resolve()
    label = args.label or subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"],
                                         capture_output=True, text=True, check=False).stdout.strip() or "code"
    media = make_media()
    args.home.mkdir(parents=True, exist_ok=True)
    build_catalog(code, args.home)
    tmp = Path(tempfile.mkdtemp(prefix="moodmix-abuse-"))
    stack = Stack(code, args.home, tmp)
    results: list[Result] = []
    monitor = None
    try:
        stack.start_redis()
        stack.start_api()
        stack.start_worker()
        monitor = Monitor(stack)
        cases = make_cases(stack, media, args)
        stack.monitor_ref.append(monitor)  # type: ignore[attr-defined]
        print(f"# abuse.py on {label} ({code}); {os.cpu_count()} CPUs", flush=True)
        print(f"{'case':<26} {'outcome':<78} {'worker MB':>9} {'disk MB':>8} {'recover s':>9}", flush=True)
        for name in args.cases:
            monitor.reset()
            t0 = time.monotonic()
            try:
                outcome = cases[name]()
            except Exception as exc:  # noqa: BLE001 - a case that breaks the client is a result too
                outcome = f"client error: {type(exc).__name__}: {str(exc)[:60]}"
            case_s = time.monotonic() - t0
            peak_w, peak_d = monitor.worker_mb, monitor.disk_mb
            rec = recover(stack, media, args.recover_timeout)
            row = {"case": name, "what": CASE_NAMES[name], "outcome": outcome, "worker_peak_mb": round(peak_w),
                   "disk_peak_mb": round(peak_d), "recover_s": round(rec, 1), "case_s": round(case_s, 1),
                   "api_peak_mb": round(monitor.api_mb)}
            results.append(row)
            print(f"{CASE_NAMES[name]:<26} {outcome[:78]:<78} {peak_w:>9.0f} {peak_d:>8.0f} {rec:>9.1f}", flush=True)
        log = stack.api_log.read_text(errors="replace")
        tracebacks = log.count("Traceback (most recent call last)")
        print(f"# API log: {len(log.splitlines())} lines, {tracebacks} tracebacks, "
              f"{log.count('Too many open files')} 'Too many open files'", flush=True)
    finally:
        if monitor is not None:
            monitor.close()
        stack.close()
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"abuse-{label}.json"
    out.write_text(json.dumps({"label": label, "code": str(code), "cpus": os.cpu_count(), "cases": results},
                              indent=2))
    print(f"# wrote {out}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
