"""What a stored job means to the pipeline and to its client: manifest options → :class:`~moodmix.settings.
JobSettings`, and reports and error messages as clients may see them (no server paths).

Both the first run (:mod:`workers.tasks`) and re-mixes (:mod:`workers.remix`) use these; neither imports the other.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from workers.config import Settings
from workers.storage import JobFiles, download_name

__all__ = ["client_message", "job_settings", "public_report"]


def client_message(message: str, settings: Settings, files: JobFiles | None = None) -> str:
    """``message`` without server paths: the job directory, the jobs and home folders, the temporary folder
    (any absolute path left is cut to its file name)."""
    roots = [str(files.root) if files is not None else "", str(settings.jobs_dir), str(settings.home),
             tempfile.gettempdir()]
    out = message
    for root in sorted({r for r in roots if r and r != "/"}, key=len, reverse=True):
        out = out.replace(root + os.sep, "").replace(root, "…")
    return re.sub(r"(?<![\w.])/(?:[^\s/'\"]+/)+([^\s/'\"]+)", r"\1", out)


def job_settings(manifest: dict[str, Any]) -> Any:
    """The :class:`~moodmix.settings.JobSettings` of a job, from the options in its manifest."""
    from moodmix.settings import JobSettings

    opts = manifest.get("options") or {}
    kwargs: dict[str, Any] = {"output_format": manifest["format"]}
    if opts.get("preset"):
        kwargs["preset"] = opts["preset"]
    if opts.get("mood"):
        kwargs["mood"] = opts["mood"]
    if opts.get("target_lufs") is not None:
        kwargs["target_lufs"] = float(opts["target_lufs"])
    if opts.get("follow_mood") is not None:
        kwargs["follow_mood"] = bool(opts["follow_mood"])
    if opts.get("avoid_tracks"):
        kwargs["avoid_tracks"] = tuple(opts["avoid_tracks"])
    if opts.get("analyse_emotion") is not None:
        kwargs["analyse_emotion"] = bool(opts["analyse_emotion"])
    if opts.get("track"):  # a catalog track the creator picked (POST /jobs track=): the mood is still heard
        kwargs["music"] = Path(str(opts["track"]))
        kwargs["emotion_with_music"] = True
    if opts.get("separate") is not None:
        kwargs["separate"] = bool(opts["separate"])
    if opts.get("keep_ambience_db") is not None:
        kwargs["keep_ambience_db"] = float(opts["keep_ambience_db"])
    if opts.get("library"):
        kwargs["library"] = str(opts["library"])
    if opts.get("database"):  # `batch --queue --database URL`; else JobSettings takes MOODMIX_DATABASE_URL
        kwargs["database"] = str(opts["database"])
    if opts.get("seed") is not None:
        kwargs["seed"] = int(opts["seed"])
    if kwargs.get("analyse_emotion", True):
        from moodmix.settings import emotion_settings_from_env

        kwargs["emotion"] = emotion_settings_from_env()
    return JobSettings(**kwargs)


def public_report(report: dict[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
    """The report as clients see it: no server paths (the input and output are named as the user knows them)."""
    out = dict(report)
    name = str(manifest.get("original_name") or "upload")
    if isinstance(out.get("input"), dict):
        out["input"] = {**out["input"], "path": name}
    if isinstance(out.get("output"), dict):
        out["output"] = {**out["output"], "path": download_name(name, str(manifest["format"]))}
    music = out.get("music")
    if isinstance(music, dict) and music.get("path"):
        out["music"] = {**music, "path": os.path.basename(str(music["path"]))}
    music = out.get("music")
    if isinstance(music, dict) and str(music.get("track") or "").startswith("/"):  # their own music: no paths
        own = "own-music"
        out["music"] = {**music, "track": own, "title": "your music", "path": "your music",
                        "reasons": ["your own music"],
                        "segments": [{**seg, "track": own} for seg in music.get("segments") or []]}
    return out
