"""Service throughput and latency: jobs per minute for 2-minute voice files with 1 and 2 workers,
upload-to-result latency, memory per worker.

Runs the real stack on this machine: a private ``redis-server`` (or ``--redis-url``), the API under uvicorn,
and N ``moodmix worker --concurrency 1`` processes (warmed before timing). For each worker count it uploads
``--jobs`` files at once over HTTP, polls until every job is done, downloads the results and reports:

- throughput: jobs finished per minute, from the first upload to the last result downloaded;
- latency: per job, from the start of its upload to the end of its download (median, min, max);
- memory: peak resident set size per worker (main process + its pool process), sampled every 0.2 s;
- with ``--remix K``: first mix vs re-mix (issue 14). K rounds of: one file uploaded alone (upload → done →
  download), then 3 re-mixes of it (``POST /jobs/{id}/remix`` with the 2nd, 3rd and 2nd-ranked track at 0, 0 and
  -6 dB → done → download), one at a time; medians of each, and their ratio (goal: re-mix ≤ 25 % of the first).

    .venv/bin/python benchmarks/bench_service.py                # 2-minute files, 4 jobs, 1 and 2 workers
    .venv/bin/python benchmarks/bench_service.py --seconds 30 --jobs 2 --workers 1
    .venv/bin/python benchmarks/bench_service.py --jobs 0 --workers 1 --remix 3   # first mix vs re-mix only

Writes benchmarks/out/bench_service.json. Figures depend on the CPU count and load: the JSON records both.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "benchmarks" / "out"
EMODB = Path(os.environ.get("MOODMIX_SHARED_DATA", REPO.parent / "shared" / "data")) / "emodb"


def voice_file(path: Path, seconds: float, offset: int) -> Path:
    """``seconds`` of real speech (emodb utterances of one speaker with 0.4 s pauses) as a 16-bit WAV."""
    import csv

    import numpy as np
    import soundfile as sf

    with open(EMODB / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["speaker"] == "03"]
    parts, total, sr, i = [], 0, 0, offset
    while not sr or total < seconds * sr:
        y, sr = sf.read(EMODB / rows[i % len(rows)]["path"], dtype="float32", always_2d=True)
        parts += [y.mean(axis=1), np.zeros(int(0.4 * sr), dtype=np.float32)]
        total += y.shape[0] + int(0.4 * sr)
        i += 1
    sf.write(path, np.concatenate(parts)[: int(seconds * sr)], sr, subtype="PCM_16")
    return path


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, MB."""
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                todo += [int(k) for k in kids]
        except (OSError, ValueError):
            continue
    return total


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_config(n_workers: int, files: list[Path], env: dict[str, str], tmp: Path, mood: str | None,
               remix_files: list[Path] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    api = start([sys.executable, "-m", "uvicorn", "workers.http_api:app", "--port", str(port), "--log-level",
                 "warning"], env, tmp / "api.log")
    workers = []
    logs = []
    for i in range(n_workers):
        log = tmp / f"worker{n_workers}-{i}.log"
        logs.append(log)
        workers.append(start([sys.executable, "-m", "moodmix", "worker", "--concurrency", "1",
                              "--hostname", f"bench{i}-{secrets.token_hex(2)}@%h"], env, log))
    try:
        t0 = time.monotonic()
        while True:  # API up, and every worker's pool process has loaded its models
            try:
                up = httpx.get(url + "/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                up = False
            warmed = all(b"models loaded" in lg.read_bytes() for lg in logs)
            if up and warmed:
                break
            if time.monotonic() - t0 > 600:
                raise TimeoutError("the stack did not come up in 10 minutes")
            time.sleep(0.5)
        warm_s = time.monotonic() - t0
        idle_mb = [rss_mb(w.pid) for w in workers]
        peak_mb = list(idle_mb)
        data = {"mood": mood, "analyse_emotion": "false"} if mood else {}

        def submit(path: Path) -> tuple[dict[str, Any], float, float]:
            t_start = time.monotonic()
            with open(path, "rb") as f:
                r = httpx.post(url + "/jobs", files={"file": (path.name, f)}, data=data, timeout=300)
            r.raise_for_status()
            return r.json(), t_start, time.monotonic()

        remix = measure_remix(url, remix_files, data) if remix_files else None
        if not files:
            return {"workers": n_workers, "warm_up_s": round(warm_s, 1), "remix": remix}
        t_first = time.monotonic()
        with ThreadPoolExecutor(len(files)) as pool:
            submitted = list(pool.map(submit, files))
        pending = {j["id"]: (j, ts, tu) for j, ts, tu in submitted}
        latencies: list[float] = []
        upload_s = [tu - ts for _, ts, tu in submitted]
        with httpx.Client(base_url=url, timeout=120) as c:
            while pending:
                peak_mb = [max(p, rss_mb(w.pid)) for p, w in zip(peak_mb, workers)]
                for job_id, (job, ts, _) in list(pending.items()):
                    h = {"Authorization": f"Bearer {job['token']}"}
                    st = c.get(f"/jobs/{job_id}", headers=h).json()
                    if st["state"] == "failed":
                        raise RuntimeError(f"job failed: {st['error']}")
                    if st["state"] == "done":
                        body = c.get(f"/jobs/{job_id}/result", headers=h).content
                        assert len(body) > 1000
                        latencies.append(time.monotonic() - ts)
                        del pending[job_id]
                time.sleep(0.2)
        wall = time.monotonic() - t_first
        return {
            "workers": n_workers,
            "jobs": len(files),
            "warm_up_s": round(warm_s, 1),
            "jobs_per_minute": round(60.0 * len(files) / wall, 2),
            "wall_s": round(wall, 1),
            "latency_s": {"median": round(statistics.median(latencies), 1), "min": round(min(latencies), 1),
                          "max": round(max(latencies), 1)},
            "upload_s_median": round(statistics.median(upload_s), 3),
            "worker_rss_mb": {"idle_median": round(statistics.median(idle_mb)),
                              "peak_median": round(statistics.median(peak_mb))},
            "remix": remix,
        }
    finally:
        for w in workers:
            stop(w)
        stop(api)


def measure_remix(url: str, files: list[Path], data: dict[str, str]) -> dict[str, Any]:
    """First mix vs re-mix, one request at a time: each timed from the request to the result downloaded."""
    import httpx

    def wait(c: Any, job_id: str, h: dict[str, str], version: int) -> None:
        while True:
            st = c.get(f"/jobs/{job_id}", headers=h).json()
            if st["state"] == "failed":
                raise RuntimeError(f"job failed: {st['error']}")
            entry = next((v for v in st.get("versions") or [] if v["version"] == version), None)
            if entry is not None and entry["state"] == "failed":
                raise RuntimeError(f"re-mix failed: {entry['error']}")
            if st["state"] == "done" and entry is not None and entry["state"] == "done":
                return
            time.sleep(0.05)

    first_s: list[float] = []
    remix_s: list[float] = []
    stages: list[dict[str, float]] = []
    with httpx.Client(base_url=url, timeout=300) as c:
        for path in files:
            t0 = time.monotonic()
            with open(path, "rb") as f:
                job = c.post("/jobs", files={"file": (path.name, f)}, data=data).raise_for_status().json()
            h = {"Authorization": f"Bearer {job['token']}"}
            wait(c, job["id"], h, 1)
            assert len(c.get(f"/jobs/{job['id']}/result", headers=h).content) > 1000
            first_s.append(time.monotonic() - t0)
            alts = c.get(f"/jobs/{job['id']}/alternatives", headers=h).raise_for_status().json()
            for track, db in ((alts[1]["track"], 0.0), (alts[2]["track"], 0.0), (alts[1]["track"], -6.0)):
                t0 = time.monotonic()
                r = c.post(f"/jobs/{job['id']}/remix", json={"track": track, "music_db": db}, headers=h)
                version = r.raise_for_status().json()["version"]
                wait(c, job["id"], h, version)
                assert len(c.get(f"/jobs/{job['id']}/result", headers=h).content) > 1000
                remix_s.append(time.monotonic() - t0)
                rep = c.get(f"/jobs/{job['id']}/report?version={version}", headers=h).json()
                stages.append(rep["timings_s"])
    med_first, med_remix = statistics.median(first_s), statistics.median(remix_s)
    return {"rounds": len(files), "first_s": [round(x, 2) for x in first_s], "remix_s": [round(x, 2) for x in remix_s],
            "first_median_s": round(med_first, 2), "remix_median_s": round(med_remix, 2),
            "remix_over_first": round(med_remix / med_first, 3),
            "remix_stage_median_s": {k: round(statistics.median(t.get(k, 0.0) for t in stages), 3)
                                     for k in stages[0]} if stages else {}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=120.0, help="length of each voice file")
    ap.add_argument("--jobs", type=int, default=4, help="files uploaded at once per configuration")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to measure")
    ap.add_argument("--redis-url", default=None, help="use this Redis (a DB that may be flushed) instead of a "
                                                      "private redis-server")
    ap.add_argument("--mood", default=None, help="skip the emotion pass and use this mood (faster jobs)")
    ap.add_argument("--remix", type=int, default=0, metavar="K",
                    help="also time K rounds of first mix (alone) then 3 re-mixes of it")
    args = ap.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="moodmix-bench-"))
    redis_proc = None
    try:
        if args.redis_url:
            redis_url = args.redis_url
        else:
            port = free_port()
            redis_proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port),
                                           "--save", "", "--appendonly", "no", "--dir", str(tmp)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            redis_url = f"redis://127.0.0.1:{port}/0"
            time.sleep(0.5)
        files = [voice_file(tmp / f"voice{i}.wav", args.seconds, offset=5 * i) for i in range(args.jobs)]
        remix_files = [voice_file(tmp / f"remix{i}.wav", args.seconds, offset=40 + 5 * i) for i in range(args.remix)]
        home = tmp / "home"
        env = dict(os.environ, MOODMIX_REDIS_URL=redis_url, MOODMIX_HOME=str(home),
                   MOODMIX_QUEUE=f"bench-{secrets.token_hex(3)}", MOODMIX_WARM_MODELS="true",
                   MOODMIX_MAX_DURATION_S=str(max(3600.0, args.seconds + 60)), OMP_NUM_THREADS="1")
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        # build the default catalog once, so that no configuration pays for it
        warm_catalog = ("from library.select import choose_tracks; from models.types import neutral_estimate; "
                        "choose_tracks(neutral_estimate(), n=1)")
        subprocess.run([sys.executable, "-c", warm_catalog],
                       cwd=REPO, env=env, check=True, capture_output=True)
        results = []
        for n in args.workers:
            res = run_config(n, files, env, tmp, args.mood, remix_files)
            results.append(res)
            print(json.dumps(res), flush=True)
        doc = {
            "what": "moodmix service: jobs per minute, upload-to-result latency, memory per worker",
            "input_seconds": args.seconds,
            "emotion": args.mood is None,
            "cpu_count": os.cpu_count(),
            "load_avg_at_end": os.getloadavg(),
            "results": results,
        }
        name = "bench_service.json" if files else "bench_service_remix.json"
        (OUT / name).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {OUT / name}")
    finally:
        if redis_proc is not None:
            redis_proc.kill()
            redis_proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
