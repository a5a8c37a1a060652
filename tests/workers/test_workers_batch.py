"""``moodmix batch``: local processes and through the queue; resumable; bad files listed; exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from svc_helpers import REPO, settings_env, shared_home

from tests.signals import decoded_duration_s, emodb_voice, make_m4a, write_wav

pytestmark = [pytest.mark.slow, pytest.mark.ffmpeg]


@pytest.fixture
def batch_dir(tmp_path: Path, emodb_dir: Path) -> Path:
    d = tmp_path / "episodes"
    d.mkdir()
    a, sr = emodb_voice(emodb_dir, 3.0, offset=2)
    write_wav(d / "ep1.wav", a, sr)
    b, sr = emodb_voice(emodb_dir, 3.5, offset=9)
    make_m4a(write_wav(tmp_path / "ep2.wav", b, sr), d / "ep2.m4a")
    (d / "broken.mp3").write_bytes(b"ID3" + b"\0" * 10 + b"not really an mp3" * 50)
    (d / "notes.txt").write_text("not media, not a candidate")
    return d


def _run_cli(args: list[str], catalog_ready: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MOODMIX_HOME=str(catalog_ready), OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "moodmix", "batch", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def test_local_batch_mixes_skips_done_and_lists_bad_files(batch_dir: Path, tmp_path: Path,
                                                          catalog_ready: Path) -> None:
    out = tmp_path / "out"
    args = [str(batch_dir), "-o", str(out), "--jobs", "2", "--mood", "calm", "--no-emotion", "--json"]
    first = _run_cli(args, catalog_ready)
    assert first.returncode == 1, first.stderr[-3000:]  # one bad file: not all succeeded
    rows = {Path(r["input"]).name: r for r in map(json.loads, first.stdout.splitlines())}
    assert set(rows) == {"ep1.wav", "ep2.m4a", "broken.mp3"}  # notes.txt is not a candidate
    assert rows["broken.mp3"]["state"] == "failed" and "broken.mp3" in rows["broken.mp3"]["error"]
    assert rows["ep1.wav"]["state"] == rows["ep2.m4a"]["state"] == "done"
    assert decoded_duration_s(out / "ep1.moodmix.wav") == pytest.approx(3.0 + 4.0, abs=0.05)
    assert decoded_duration_s(out / "ep2.moodmix.m4a") == pytest.approx(3.5 + 4.0, abs=0.1)
    report = json.loads((out / "ep1.wav.report.json").read_text())
    assert report["output"]["path"] == str(out / "ep1.moodmix.wav")
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no partial files
    mtime = (out / "ep1.moodmix.wav").stat().st_mtime_ns

    # Again: the done files are skipped (not redone), the bad one is tried and listed again.
    second = _run_cli(args, catalog_ready)
    assert second.returncode == 1
    rows2 = {Path(r["input"]).name: r["state"] for r in map(json.loads, second.stdout.splitlines())}
    assert rows2 == {"ep1.wav": "skipped", "ep2.m4a": "skipped", "broken.mp3": "failed"}
    assert (out / "ep1.moodmix.wav").stat().st_mtime_ns == mtime

    # Without the bad file, everything is done: exit status 0, and the table is printed.
    (batch_dir / "broken.mp3").unlink()
    third = _run_cli([str(batch_dir), "-o", str(out)], catalog_ready)
    assert third.returncode == 0, third.stderr[-2000:]
    assert "skipped" in third.stdout and "ep2.m4a" in third.stdout


def test_batch_does_not_repeat_a_track(batch_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       catalog_ready: Path) -> None:
    from workers.batch import run_batch

    (batch_dir / "broken.mp3").unlink()
    monkeypatch.setenv("MOODMIX_HOME", str(catalog_ready))
    outcomes = run_batch(batch_dir, tmp_path / "out", jobs=1,
                         options={"mood": "calm", "analyse_emotion": False, "format": "flac"})
    assert [o.state for o in outcomes] == ["done", "done"]
    assert outcomes[0].track and outcomes[1].track and outcomes[0].track != outcomes[1].track
    assert all(o.output is not None and o.output.suffix == ".flac" for o in outcomes)


@pytest.mark.redis
def test_batch_through_the_queue(batch_dir: Path, tmp_path: Path, svc_settings: Any, start_worker: Any) -> None:
    start_worker(svc_settings)
    out = tmp_path / "qout"
    env = settings_env(svc_settings)
    proc = subprocess.run(
        [sys.executable, "-m", "moodmix", "batch", str(batch_dir), "-o", str(out), "--queue", "--jobs", "1",
         "--mood", "calm", "--no-emotion", "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    rows = {Path(r["input"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    assert rows["ep1.wav"]["state"] == rows["ep2.m4a"]["state"] == "done"
    assert rows["broken.mp3"]["state"] == "failed"
    assert decoded_duration_s(out / "ep1.moodmix.wav") == pytest.approx(7.0, abs=0.05)
    assert decoded_duration_s(out / "ep2.moodmix.m4a") == pytest.approx(7.5, abs=0.1)
    assert rows["ep1.wav"]["track"] != rows["ep2.m4a"]["track"]  # one at a time: the second avoids the first
    # the queue's job directories are cleaned up once the results are copied out
    assert not svc_settings.jobs_dir.exists() or list(svc_settings.jobs_dir.iterdir()) == []
    assert shared_home() == svc_settings.home
