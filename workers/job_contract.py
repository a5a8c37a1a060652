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
    """The :class:`~moodmix.settings.JobSettings` of a job, from the options in its manifest (through the one
    mapping every front end uses, :meth:`~moodmix.settings.JobSettings.from_options`)."""
    from moodmix.settings import JobSettings

    opts = dict(manifest.get("options") or {})
    track = opts.pop("track", None)
    options: dict[str, Any] = {k: opts.get(k) for k in _JOB_OPTIONS}
    options["format"] = manifest["format"]
    if track:  # a catalog track the creator picked (POST /jobs track=): the mood is still heard
        options["music"] = Path(str(track))
        options["emotion_with_music"] = True
    # empty strings and lists are "not given", like a field left out of the form
    return JobSettings.from_options({k: v for k, v in options.items() if v not in ("", [], ())})


#: The manifest options a job passes on (the API's form fields, batch --queue, the bot).
_JOB_OPTIONS = ("preset", "mood", "target_lufs", "follow_mood", "avoid_tracks", "analyse_emotion", "separate",
                "keep_ambience_db", "library", "database", "seed", "music_db")


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
