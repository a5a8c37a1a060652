"""What the bot asks of the service, as blocking calls (the bot runs them in threads).

Jobs are made exactly as ``POST /jobs`` makes them: the file lands in a fresh job directory under its fixed
name, :func:`workers.probe.probe_upload` checks it by decoding it (the same limits and the same one-line
messages), the manifest and the queued record are written (:meth:`workers.jobs.JobStore.create`) and the mix
task is sent by name (:meth:`~workers.jobs.JobStore.enqueue`). A worker runs the one ``mix_file``; the bot
reads the job's record for its progress and the job directory for the result and report.

``/emo`` text and a job's panel are tasks sent by name too (:mod:`workers.bot.tasks`), so the bot process loads
no model. Their files go to ``<jobs>/bot-files/<random>/`` (not a job id, so the job sweep leaves it alone);
the bot removes the folder after its reply.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.config import Settings
from workers.jobs import JobStore
from workers.storage import JobFiles, hash_token, new_job_id, new_token, read_json

__all__ = ["LEVEL_STEP_DB", "BotInputError", "Bridge", "SubmittedJob", "stage_label"]


class BotInputError(Exception):
    """The file cannot be mixed (not media, corrupt, too long...): the message says why, in one line."""


@dataclass(frozen=True)
class SubmittedJob:
    job_id: str
    token: str
    has_video: bool
    format: str
    duration_s: float
    version: int = 1  # > 1: a re-mix of the job (workers.remix), kept beside the first result


#: The music-level buttons move the bed this many dB (within workers.remix.MUSIC_DB_RANGE).
LEVEL_STEP_DB = 4.0


#: The job's pipeline stages as the progress message names them.
_LABELS = {"queued": "queued", "decode": "listening", "vad": "listening", "separate": "listening",
           "emotion": "listening", "select": "choosing", "fit": "mixing", "mix": "mixing", "render": "mixing",
           "done": "sending"}


def stage_label(stage: str | None) -> str:
    return _LABELS.get(stage or "queued", "queued")


class Bridge:
    def __init__(self, settings: Settings, store: JobStore | None = None) -> None:
        self.settings = settings
        self.store = store or JobStore(settings)

    # ---- jobs ----------------------------------------------------------------------------------------------
    def new_job(self) -> tuple[str, JobFiles]:
        """A fresh job directory; the caller writes the media to ``files.upload_partial``."""
        job_id = new_job_id()
        files = JobFiles.of(self.settings.jobs_dir, job_id)
        files.root.mkdir(parents=True, exist_ok=False)
        return job_id, files

    def submit(self, job_id: str, *, original_name: str, options: dict[str, Any], audio_format: str,
               owner: int) -> SubmittedJob:
        """Probe the downloaded media and queue its mix; :class:`BotInputError` with the probe's message when
        it cannot be mixed (the job directory is removed then)."""
        from workers.probe import UploadRejected, probe_upload

        files = JobFiles.of(self.settings.jobs_dir, job_id)
        ok = False
        try:
            try:
                info = probe_upload(files.upload_partial, max_duration_s=self.settings.max_duration_s,
                                    limits=self.settings.input_limits())
            except UploadRejected as exc:
                raise BotInputError(exc.message) from None
            fmt = "mp4" if info.has_video else audio_format
            size = files.upload_partial.stat().st_size
            files.upload_partial.replace(files.input)
            token = new_token()
            manifest = {
                "id": job_id, "token_hash": hash_token(token), "created_at": time.time(),
                "original_name": original_name, "format": fmt, "has_video": info.has_video,
                "duration_s": round(info.duration_s, 3), "sample_rate": info.sample_rate,
                "channels": info.channels, "bytes": size, "options": options, "via": "telegram",
                "owner": hash_token(f"telegram:{owner}"),
            }
            self.store.create(job_id, manifest)
            self.store.enqueue(job_id)
            ok = True
            return SubmittedJob(job_id, token, info.has_video, fmt, info.duration_s)
        finally:
            if not ok:
                files.remove()

    def rerun(self, job_id: str, *, owner: int, changes: dict[str, Any], avoid: str | None = None) -> SubmittedJob:
        """A new job from a finished job's input (kept under its expiry), with ``changes`` to its options and
        ``avoid`` added to the tracks not to pick. :class:`LookupError` when the job is gone or not the user's."""
        old = JobFiles.of(self.settings.jobs_dir, job_id)
        manifest = read_json(old.manifest)
        if not isinstance(manifest, dict) or manifest.get("owner") != hash_token(f"telegram:{owner}") \
                or not old.input.exists():
            raise LookupError(job_id)
        options = dict(manifest.get("options") or {})
        options.update(changes)
        if avoid:
            options["avoid_tracks"] = [*options.get("avoid_tracks", []), avoid][-20:]
        new_id, files = self.new_job()
        try:
            os.link(old.input, files.upload_partial)
        except OSError:
            shutil.copyfile(old.input, files.upload_partial)
        fmt = str(manifest.get("format") or "m4a")
        return self.submit(new_id, original_name=str(manifest.get("original_name") or "upload"),
                           options=options, audio_format=fmt, owner=owner)

    def record(self, job_id: str) -> dict[str, Any] | None:
        return self.store.get(job_id)

    def state(self, job: SubmittedJob) -> dict[str, Any] | None:
        """``{state, stage, error}`` of the job (version 1) or of its re-mix version."""
        if job.version == 1:
            return self.store.get(job.job_id)
        from workers.remix import versions

        rec = self.store.get(job.job_id)
        if rec is None:
            return None
        return next((v for v in versions(self.store, job.job_id, rec) if v["version"] == job.version), None)

    def remix(self, job_id: str, *, owner: int, action: str) -> SubmittedJob:
        """Queue a re-mix of the user's done job through :func:`workers.remix.queue_remix` (no re-analysis):
        ``next`` the best track not used yet in this job, ``softer`` / ``louder`` the track in use with the bed
        :data:`LEVEL_STEP_DB` lower / higher. :class:`LookupError` when the job is gone or not the user's,
        :class:`BotInputError` with the reason when it cannot be re-mixed (the cap, no track left)."""
        from workers.remix import (
            MUSIC_DB_RANGE,
            RemixRejected,
            queue_remix,
            ranked_tracks,
            report_path,
            versions,
        )

        files = self.files(job_id)
        manifest = read_json(files.manifest)
        first = self.report(job_id)
        rec = self.store.get(job_id)
        if not isinstance(manifest, dict) or manifest.get("owner") != hash_token(f"telegram:{owner}") \
                or first is None or rec is None or not files.input.exists():
            raise LookupError(job_id)
        ranked = ranked_tracks(first)
        titles = {str(t["track"]): str(t.get("title") or t["track"]) for t in ranked}
        vers = versions(self.store, job_id, rec)
        done = [v for v in vers if v["state"] == "done"]
        newest = read_json(report_path(files, done[-1]["version"])) if done else first
        level = float(((newest or {}).get("remix") or {}).get("music_db") or 0.0)
        track: str | None = None
        music_db = level
        if action == "next":
            used = {str(v.get("track")) for v in vers}
            track = next((t for t in titles if t not in used), None)
            if track is None:
                raise BotInputError("no other track left among this mix's alternatives")
        else:
            step = -LEVEL_STEP_DB if action == "softer" else LEVEL_STEP_DB
            music_db = min(MUSIC_DB_RANGE[1], max(MUSIC_DB_RANGE[0], level + step))
        try:
            version = queue_remix(self.store, job_id, track=track, music_db=music_db, track_title=titles.get)
        except RemixRejected as exc:
            raise BotInputError(exc.message) from None
        fmt = str(manifest.get("format") or "m4a")
        return SubmittedJob(job_id, "", bool(manifest.get("has_video")), fmt, float(manifest.get("duration_s") or 0),
                            version=version)

    def result_of(self, job: SubmittedJob) -> Path:
        if job.version == 1:
            return self.files(job.job_id).result(job.format)
        from workers.remix import result_path

        return result_path(self.files(job.job_id), job.version, job.format)

    def report_of(self, job: SubmittedJob) -> dict[str, Any] | None:
        if job.version == 1:
            return self.report(job.job_id)
        from workers.remix import report_path

        r = read_json(report_path(self.files(job.job_id), job.version))
        return r if isinstance(r, dict) else None

    def files(self, job_id: str) -> JobFiles:
        return JobFiles.of(self.settings.jobs_dir, job_id)

    def report(self, job_id: str) -> dict[str, Any] | None:
        r = read_json(self.files(job_id).report)
        return r if isinstance(r, dict) else None

    def error(self, job_id: str) -> str | None:
        e = read_json(self.files(job_id).error)
        return str(e.get("error")) if isinstance(e, dict) and e.get("error") else None

    # ---- tasks of workers.bot.tasks ------------------------------------------------------------------------
    def scratch(self) -> Path:
        self.sweep_scratch()
        d = self.settings.jobs_dir / "bot-files" / secrets.token_hex(12)
        d.mkdir(parents=True, exist_ok=True)
        return d

    def sweep_scratch(self, max_age_s: float = 3600.0) -> None:
        """Remove /emo folders older than ``max_age_s`` (left by a worker that answered after the bot gave up)."""
        root = self.settings.jobs_dir / "bot-files"
        now = time.time()
        for d in root.iterdir() if root.is_dir() else ():
            try:
                if now - d.stat().st_mtime > max_age_s:
                    shutil.rmtree(d, ignore_errors=True)
            except OSError:
                continue

    def _call(self, name: str, args: list[Any], timeout_s: float) -> dict[str, Any]:
        from workers.celery_app import client_app

        res = client_app(self.settings).send_task(name, args=args, queue=self.settings.queue)
        try:
            out = res.get(timeout=timeout_s, propagate=True)
        finally:
            res.forget()
        return out if isinstance(out, dict) else {"error": "the worker gave no answer"}

    def emo(self, text: str, *, mood: str | None, timeout_s: float) -> dict[str, Any]:
        """A text's emotion and three tracks (no files)."""
        return self._call("moodmix.bot_emo", [text, mood, 3], timeout_s)

    def emo_media(self, answer: dict[str, Any], *, excerpt_s: float, timeout_s: float) -> dict[str, Any]:
        """The panel and the excerpts of :meth:`emo`'s answer, in a fresh folder (``"dir"``) the caller removes."""
        out_dir = self.scratch()
        try:
            result = self._call("moodmix.bot_emo_media", [answer["emotion"], answer["tracks"], str(out_dir),
                                                          excerpt_s], timeout_s)
        except BaseException:
            shutil.rmtree(out_dir, ignore_errors=True)  # a worker answering later leaves files: see sweep_scratch
            raise
        result["dir"] = str(out_dir)
        return result

    def panel(self, job_id: str, *, timeout_s: float) -> Path | None:
        files = self.files(job_id)
        out = files.root / "panel.png"
        result = self._call("moodmix.bot_panel", [str(files.report), str(out)], timeout_s)
        return Path(result["picture"]) if result.get("picture") else None
