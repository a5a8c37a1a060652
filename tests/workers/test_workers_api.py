"""The HTTP API against a real Redis, without a worker: uploads, limits, probing, tokens, docs, page."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from svc_helpers import REPO, auth, make_settings, upload

pytestmark = [pytest.mark.redis, pytest.mark.ffmpeg]


def job_dirs(settings: Any) -> list[Path]:
    d = settings.jobs_dir
    return sorted(p for p in d.iterdir() if p.is_dir()) if d.exists() else []


def queued_messages(settings: Any) -> int:
    import redis

    return int(redis.Redis.from_url(settings.redis_url).llen(settings.queue))


def test_upload_creates_a_queued_job_with_fixed_file_names(client: Any, svc_settings: Any, media_dir: Path) -> None:
    r = upload(client, media_dir / "voice4.m4a", preset="vlog", target_lufs="-18", mood="calm")
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {"id", "token"} and len(body["id"]) >= 20 and len(body["token"]) >= 40
    assert body["format"] == "m4a" and body["has_video"] is False
    assert body["duration_s"] == pytest.approx(4.0, abs=0.1)
    [d] = job_dirs(svc_settings)
    assert d.name == body["id"]
    assert sorted(p.name for p in d.iterdir()) == ["input", "job.json"]
    assert (d / "input").read_bytes() == (media_dir / "voice4.m4a").read_bytes()
    manifest = json.loads((d / "job.json").read_text())
    assert body["token"] not in json.dumps(manifest)  # only the hash is stored
    assert manifest["options"] == {"preset": "vlog", "target_lufs": -18.0, "mood": "calm"}
    assert queued_messages(svc_settings) == 1
    st = client.get(f"/jobs/{body['id']}", headers=auth(body["token"]))
    assert st.status_code == 200
    assert st.json()["state"] == "queued" and st.json()["progress"] == 0.0
    assert st.json()["download_name"] == "voice4.moodmix.m4a"


def test_video_upload_defaults_to_mp4_and_token_in_query(client: Any, media_dir: Path) -> None:
    r = upload(client, media_dir / "clip4.mp4", filename="my holiday.MP4")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["has_video"] is True and body["format"] == "mp4"
    st = client.get(f"/jobs/{body['id']}?token={body['token']}")
    assert st.status_code == 200 and st.json()["download_name"] == "my holiday.moodmix.mp4"


def test_not_media_is_415_and_leaves_nothing(client: Any, svc_settings: Any, tmp_path: Path) -> None:
    fake = tmp_path / "song.mp3"  # the name and content type say audio; the bytes do not
    fake.write_bytes(b"this is a text file pretending to be an mp3\n" * 200)
    r = client.post("/jobs", files={"file": ("song.mp3", fake.read_bytes(), "audio/mpeg")})
    assert r.status_code == 415
    assert "not a readable audio or video file" in r.json()["detail"]
    assert job_dirs(svc_settings) == [] and queued_messages(svc_settings) == 0


def test_truncated_media_is_422_and_leaves_nothing(client: Any, svc_settings: Any, media_dir: Path,
                                                   tmp_path: Path) -> None:
    wav = (media_dir / "voice20.wav").read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(wav[: len(wav) // 3])  # the header still announces 20 s
    r = upload(client, cut)
    assert r.status_code == 422, r.text
    assert "truncated" in r.json()["detail"]
    m4a = (media_dir / "voice4.m4a").read_bytes()
    cut2 = tmp_path / "cut.m4a"
    cut2.write_bytes(m4a[: len(m4a) // 2])  # moov atom at the end: gone
    r2 = upload(client, cut2)
    assert r2.status_code in (415, 422), r2.text
    assert job_dirs(svc_settings) == [] and queued_messages(svc_settings) == 0


def test_file_without_audio_is_refused(client: Any, svc_settings: Any, tmp_path: Path) -> None:
    from tests.signals import ffmpeg

    silent_video = tmp_path / "noaudio.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=2", "-c:v", "mpeg4", str(silent_video))
    r = upload(client, silent_video)
    assert r.status_code == 415 and "no audio stream" in r.json()["detail"]
    assert job_dirs(svc_settings) == []


def test_upload_over_the_size_limit_is_413_while_streaming(tmp_path: Path, redis_url: str, media_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from workers.http_api import create_app

    settings = make_settings(tmp_path, redis_url, max_upload_bytes=100_000)
    app = create_app(settings)
    seen: list[int] = []
    chunk = b"\0" * 65536

    def body() -> Any:  # a body far over the limit, without a Content-Length: only streaming can stop it
        yield b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.wav\"\r\n\r\n"
        for i in range(200):  # 13 MB
            seen.append(i)
            yield chunk
        yield b"\r\n--XyZ--\r\n"

    with TestClient(app) as c:
        r = c.post("/jobs", content=body(), headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
        assert r.status_code == 413
        assert "limit is 0.1 MB" in r.json()["detail"]
        assert job_dirs(settings) == []
        # With a Content-Length over the limit it is refused before reading the body.
        big = media_dir / "voice20.wav"
        r2 = upload(c, big)
        assert r2.status_code == 413 and job_dirs(settings) == []
    # (TestClient sends the whole body anyway; test_workers_service.py shows a real server stops reading early.)


def test_duration_limit_is_checked_by_probing(tmp_path: Path, redis_url: str, media_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from workers.http_api import create_app

    settings = make_settings(tmp_path, redis_url, max_duration_s=10.0)
    with TestClient(create_app(settings)) as c:
        r = upload(c, media_dir / "voice20.wav", filename="short.wav")
        assert r.status_code == 422 and "limit is 10 s" in r.json()["detail"]
        assert upload(c, media_dir / "voice4.wav").status_code == 201


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\..\\boot.ini", "/etc/shadow", "a\x00b.wav",
                                  "<script>.wav", ".."])
def test_path_like_filenames_never_reach_the_disk(client: Any, svc_settings: Any, media_dir: Path,
                                                  name: str) -> None:
    r = upload(client, media_dir / "voice4.wav", filename=name)
    assert r.status_code == 201, r.text
    job = r.json()
    d = svc_settings.jobs_dir / job["id"]
    assert sorted(p.name for p in d.iterdir()) == ["input", "job.json"]
    assert sorted(p.name for p in svc_settings.jobs_dir.parent.rglob("*")) == sorted(
        ["jobs", job["id"], "input", "job.json"])
    dn = client.get(f"/jobs/{job['id']}", headers=auth(job["token"])).json()["download_name"]
    assert "/" not in dn and "\\" not in dn and "\x00" not in dn and "<" not in dn and not dn.startswith(".")


def test_path_like_filename_with_bad_content_is_refused(client: Any, svc_settings: Any) -> None:
    r = client.post("/jobs", files={"file": ("../../etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n")})
    assert r.status_code == 415
    assert job_dirs(svc_settings) == []
    assert not (svc_settings.jobs_dir.parent / "etc").exists()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("preset", "loud", "preset must be one of"),
    ("target_lufs", "-3", "between -40 and -5"),
    ("target_lufs", "abc", "must be a number"),
    ("format", "exe", "format must be one of"),
    ("format", "mp4", "video container but the upload has no video"),
    ("follow_mood", "maybe", "true or false"),
    ("separate", "perhaps", "true or false"),
    ("keep_ambience_db", "-5", "between 0 and 60"),
    ("keep_ambience_db", "loud", "must be a number"),
    ("mood", "../x", "mood must be"),
    ("mood", "zzz", "unknown mood 'zzz'"),  # regression (issue 13): was 201, then the job failed
    ("target_lufs", "-60", "between -40 and -5"),
    ("target_lufs", "nan", "must be"),
])
def test_bad_options_are_422_with_a_clear_message(client: Any, svc_settings: Any, media_dir: Path,
                                                  field: str, value: str, message: str) -> None:
    r = upload(client, media_dir / "voice4.wav", **{field: value})
    assert r.status_code == 422
    assert message in r.json()["detail"]
    assert job_dirs(svc_settings) == []


def test_missing_file_field_and_wrong_content_type(client: Any, svc_settings: Any) -> None:
    r = client.post("/jobs", files={"preset": (None, "vlog")})
    assert r.status_code == 422 and "no 'file' field" in r.json()["detail"]
    r1 = client.post("/jobs", data={"preset": "vlog"}, files={"other": ("x.txt", b"hi")})
    assert r1.status_code == 422 and "unknown form field 'other'" in r1.json()["detail"]
    r2 = client.post("/jobs", content=b"{}", headers={"Content-Type": "application/json"})
    assert r2.status_code == 415
    assert job_dirs(svc_settings) == []


def test_one_jobs_token_cannot_touch_another_job(client: Any, svc_settings: Any, media_dir: Path) -> None:
    a = upload(client, media_dir / "voice4.wav").json()
    b = upload(client, media_dir / "voice4.m4a").json()
    for path in ("", "/result", "/report"):
        assert client.get(f"/jobs/{a['id']}{path}", headers=auth(b["token"])).status_code == 404
        assert client.get(f"/jobs/{a['id']}{path}").status_code == 404  # no token
        assert client.get(f"/jobs/{a['id']}{path}?token={b['token']}").status_code == 404
    assert client.delete(f"/jobs/{a['id']}", headers=auth(b["token"])).status_code == 404
    assert client.delete(f"/jobs/{a['id']}").status_code == 404
    # A wrong token answers exactly like a job that does not exist.
    missing = client.get("/jobs/AAAAAAAAAAAAAAAAAAAAAAAA", headers=auth(b["token"]))
    wrong = client.get(f"/jobs/{a['id']}", headers=auth(b["token"]))
    assert missing.status_code == wrong.status_code == 404 and missing.json() == wrong.json()
    assert (svc_settings.jobs_dir / a["id"] / "input").exists()
    # The owner can, and DELETE removes the files and the record.
    assert client.get(f"/jobs/{a['id']}", headers=auth(a["token"])).status_code == 200
    assert client.get(f"/jobs/{a['id']}/result", headers=auth(a["token"])).status_code == 409
    assert client.delete(f"/jobs/{a['id']}", headers=auth(a["token"])).status_code == 204
    assert not (svc_settings.jobs_dir / a["id"]).exists()
    assert client.get(f"/jobs/{a['id']}", headers=auth(a["token"])).status_code == 404
    assert client.get(f"/jobs/{b['id']}", headers=auth(b["token"])).status_code == 200


def test_ids_that_look_like_paths_are_404(client: Any) -> None:
    for job_id in ("%2E%2E", "..%2F..%2Fetc", "job.json", "x" * 200):
        assert client.get(f"/jobs/{job_id}?token=abc").status_code == 404


def test_health_docs_and_page(client: Any) -> None:
    h = client.get("/health")
    assert h.status_code == 200 and h.json()["redis"] is True and h.json()["storage"] is True
    assert h.json()["free_bytes"] >= h.json()["free_bytes_needed"] > 0
    spec = client.get("/openapi.json").json()
    assert {"/jobs", "/jobs/{job_id}", "/jobs/{job_id}/result", "/jobs/{job_id}/report", "/library",
            "/health"} <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/jobs"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and 'id="upload-form"' in page.text
    assert "http://" not in page.text.replace("http://www.w3.org", "") and "https://" not in page.text
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "upload.addEventListener" in js.text


def test_health_is_503_when_redis_is_down(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from workers.config import Settings
    from workers.http_api import create_app

    settings = Settings(redis_url="redis://127.0.0.1:1/0", home=tmp_path / "home")
    with TestClient(create_app(settings)) as c:
        r = c.get("/health")
        assert r.status_code == 503 and r.json()["redis"] is False


def test_api_process_imports_neither_numpy_nor_torch(tmp_path: Path, redis_url: str, media_dir: Path) -> None:
    code = f"""
import sys
from pathlib import Path
from fastapi.testclient import TestClient
from workers.http_api import create_app
from workers.config import Settings
s = Settings(redis_url={redis_url!r}, home=Path({str(tmp_path / 'home')!r}), queue='moodmix-numpy-check')
with TestClient(create_app(s)) as c:
    with open({str(media_dir / 'clip4.mp4')!r}, 'rb') as f:
        r = c.post('/jobs', files={{'file': ('a.mp4', f)}})
    assert r.status_code == 201, r.text
    j = r.json()
    assert c.get('/jobs/' + j['id'], headers={{'Authorization': 'Bearer ' + j['token']}}).status_code == 200
heavy = sorted(m for m in ('numpy', 'torch', 'moodmix.pipeline', 'mixer.decode') if m in sys.modules)
print('HEAVY', heavy)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "HEAVY []" in out.stdout


def test_options_route_and_form_schema_read_the_one_definition(client: Any) -> None:
    """GET /options (what the page builds its form from) and the OpenAPI form schema carry moodmix.settings'
    presets, defaults and ranges."""
    from moodmix.settings import DEFAULT_TARGET_LUFS, PRESETS, RANGES, option_catalogue

    r = client.get("/options")
    assert r.status_code == 200 and r.json() == option_catalogue()
    form = client.get("/openapi.json").json()["paths"]["/jobs"]["post"]["requestBody"]["content"]
    props = form["multipart/form-data"]["schema"]["properties"]
    assert props["preset"]["enum"] == list(PRESETS) and props["target_lufs"]["default"] == DEFAULT_TARGET_LUFS
    assert (props["target_lufs"]["minimum"], props["target_lufs"]["maximum"]) == RANGES["target_lufs"][:2]


def test_separation_options_reach_the_job_settings() -> None:
    """The API's separate / keep_ambience_db fields (issue 7) become the job's JobSettings, like the CLI's flags."""
    from workers.http_api import _options
    from workers.tasks import job_settings

    opts = _options({"separate": "true", "keep_ambience_db": "18", "analyse_emotion": "false"})
    settings = job_settings({"format": "wav", "options": opts})
    assert settings.separate is True and settings.keep_ambience_db == 18.0
    plain = job_settings({"format": "wav", "options": _options({"analyse_emotion": "false"})})
    assert plain.separate is False and plain.keep_ambience_db is None
