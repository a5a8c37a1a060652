"""``moodmix batch``: mix every voice/video file of a folder into another, in parallel, resumably.

Two ways to run the same job (:func:`moodmix.pipeline.mix_file` per file):

- local (default): a pool of ``jobs`` processes, each loading the models once (:func:`workers.warm.warm_models`);
- ``queue=True``: each file becomes a job of the service (job directory + Redis record + Celery task), so any
  number of ``moodmix worker`` processes, on this machine or others sharing ``MOODMIX_HOME``, do the work.

Per input ``NAME.EXT`` the outputs in OUTDIR are ``<stem>.moodmix.<ext>`` and the report ``NAME.EXT.report.json``,
written last and atomically: a file whose report exists and whose output it names exists is done and skipped
when the batch runs again. A bad file is recorded with its error and the batch goes on. Tracks already used in
the batch are passed as ``avoid_tracks`` to the next files, so the same music is not repeated while the
library has others.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from workers.config import AUDIO_FORMATS, VIDEO_FORMATS, Settings
from workers.storage import atomic_write_json, read_json

__all__ = ["MEDIA_EXTENSIONS", "BatchItem", "BatchOutcome", "find_media", "mix_one", "plan", "run_batch"]

AUDIO_EXTENSIONS = frozenset({"wav", "flac", "mp3", "m4a", "aac", "ogg", "oga", "opus", "wma", "aif", "aiff", "caf"})
VIDEO_EXTENSIONS = frozenset({"mp4", "m4v", "mov", "mkv", "webm", "avi", "mts", "m2ts", "3gp", "wmv", "flv"})
MEDIA_EXTENSIONS = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS

State = Literal["done", "skipped", "failed"]


@dataclass(frozen=True)
class BatchItem:
    """One input and where its report goes (the report names the output once written)."""

    source: Path
    report: Path
    output_hint: Path  # the expected output name (by extension); the real one is in the report


@dataclass(frozen=True)
class BatchOutcome:
    source: Path
    state: State
    output: Path | None = None
    error: str | None = None
    track: str | None = None
    seconds: float = 0.0


@dataclass
class _Tracker:
    used_tracks: list[str] = field(default_factory=list)

    def add(self, track: str | None) -> None:
        if track and track not in self.used_tracks:
            self.used_tracks.append(track)


def find_media(indir: Path) -> list[Path]:
    """The media files directly in ``indir`` (by extension; their content is checked when they are mixed),
    sorted by name. Hidden files and our own outputs (``*.moodmix.*``) are left out."""
    return sorted(
        p for p in indir.iterdir()
        if p.is_file() and not p.name.startswith(".") and ".moodmix." not in p.name
        and p.suffix.lower().lstrip(".") in MEDIA_EXTENSIONS
    )


def _output_ext(source: Path, has_video: bool | None, fmt: str | None) -> str:
    if fmt:
        return fmt
    ext = source.suffix.lower().lstrip(".")
    video = has_video if has_video is not None else ext in VIDEO_EXTENSIONS
    if video:
        return ext if ext in VIDEO_FORMATS else "mp4"
    return ext if ext in AUDIO_FORMATS else "wav"


def plan(indir: Path, outdir: Path, *, fmt: str | None = None) -> list[BatchItem]:
    """One :class:`BatchItem` per media file of ``indir``."""
    return [
        BatchItem(
            source=p, report=outdir / f"{p.name}.report.json",
            output_hint=outdir / f"{p.stem}.moodmix.{_output_ext(p, None, fmt)}",
        )
        for p in find_media(indir)
    ]


def done_outcome(item: BatchItem) -> BatchOutcome | None:
    """A :class:`BatchOutcome` ``skipped`` when ``item`` was finished by an earlier run, else None."""
    report = read_json(item.report)
    if not isinstance(report, dict):
        return None
    out = Path(str((report.get("output") or {}).get("path") or ""))
    if not out.name or not out.is_file() or out.stat().st_size == 0:
        return None
    return BatchOutcome(item.source, "skipped", out, track=_track_of(report))


def _track_of(report: dict[str, Any]) -> str | None:
    music = report.get("music")
    return str(music.get("track")) if isinstance(music, dict) and music.get("track") else None


# ---- local processes ---------------------------------------------------------------------------------------
def _init_process(warm: bool) -> None:
    if warm:  # load the emotion models now, once per process (skipped when the batch does not analyse)
        from workers.warm import warm_models

        warm_models()


def mix_one(source: str, outdir: str, report_path: str, options: dict[str, Any]) -> dict[str, Any]:
    """Mix one file into ``outdir`` (runs in a pool process). Returns a plain dict (picklable, JSON-able).

    The output is rendered under a temporary name and renamed; the report is written last, atomically.
    """
    from core.errors import MoodmixError, NoTrackFoundError
    from mixer.decode import probe
    from moodmix.settings import JobSettings

    t0 = time.perf_counter()
    src = Path(source)
    try:
        info = probe(src)
        out = Path(outdir) / f"{src.stem}.moodmix.{_output_ext(src, info.has_video, options.get('format'))}"
        tmp = out.with_name(f".{out.stem}.batch-part{out.suffix}")
        settings = JobSettings.from_options({k: v for k, v in options.items() if k != "format"})
        try:
            report = _mix(src, tmp, settings)
        except NoTrackFoundError:
            if not settings.avoid_tracks:
                raise
            report = _mix(src, tmp, settings.with_(avoid_tracks=()))  # every track used once: repeats allowed
        os.replace(tmp, out)
        report = {**report, "output": {**(report.get("output") or {}), "path": str(out)}}
        atomic_write_json(Path(report_path), report)
        return {"state": "done", "output": str(out), "track": _track_of(report),
                "seconds": time.perf_counter() - t0}
    except MoodmixError as exc:
        return {"state": "failed", "error": str(exc), "seconds": time.perf_counter() - t0}
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
        return {"state": "failed", "error": f"internal error: {type(exc).__name__}: {exc}",
                "seconds": time.perf_counter() - t0}


def _mix(src: Path, tmp: Path, settings: Any) -> dict[str, Any]:
    from moodmix.pipeline import mix_file

    try:
        return mix_file(src, tmp, settings=settings)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _run_local(
    items: list[BatchItem], outdir: Path, jobs: int, options: dict[str, Any], tracker: _Tracker,
    on_done: Callable[[BatchOutcome], None],
) -> None:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # a clean interpreter per process: no forked torch/OpenMP state
    pending = list(items)
    running: dict[Future[dict[str, Any]], BatchItem] = {}
    warm = options.get("analyse_emotion") is not False
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_process,
                             initargs=(warm,)) as pool:
        while pending or running:
            while pending and len(running) < jobs:  # bounded: later files see the tracks used so far
                item = pending.pop(0)
                opts = {**options, "avoid_tracks": list(tracker.used_tracks)}
                fut = pool.submit(mix_one, str(item.source), str(outdir), str(item.report), opts)
                running[fut] = item
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in finished:
                item = running.pop(fut)
                try:
                    res = fut.result()
                except Exception as exc:  # noqa: BLE001 - a pool process died (OOM, kill)
                    res = {"state": "failed", "error": f"the worker process died: {type(exc).__name__}: {exc}"}
                tracker.add(res.get("track"))
                on_done(_outcome(item, res))


def _outcome(item: BatchItem, res: dict[str, Any]) -> BatchOutcome:
    return BatchOutcome(
        source=item.source, state=res["state"], output=Path(res["output"]) if res.get("output") else None,
        error=res.get("error"), track=res.get("track"), seconds=float(res.get("seconds") or 0.0),
    )


# ---- through the queue -------------------------------------------------------------------------------------
def _run_queue(
    items: list[BatchItem], outdir: Path, jobs: int, options: dict[str, Any], tracker: _Tracker,
    on_done: Callable[[BatchOutcome], None], settings: Settings, poll_s: float = 0.5,
) -> None:
    from workers.jobs import JobStore
    from workers.probe import UploadRejected, probe_upload
    from workers.storage import JobFiles, hash_token, new_job_id, new_token

    store = JobStore(settings)
    pending = list(items)
    running: dict[str, tuple[BatchItem, float, str]] = {}
    while pending or running:
        while pending and len(running) < jobs:
            item = pending.pop(0)
            t0 = time.perf_counter()
            try:
                info = probe_upload(item.source, max_duration_s=settings.max_duration_s,
                                    limits=settings.input_limits())
            except UploadRejected as exc:
                on_done(BatchOutcome(item.source, "failed", error=exc.message))
                continue
            fmt = _output_ext(item.source, info.has_video, options.get("format"))
            job_id = new_job_id()
            files = JobFiles.of(settings.jobs_dir, job_id)
            files.root.mkdir(parents=True)
            try:
                os.link(item.source, files.input)
            except OSError:
                shutil.copyfile(item.source, files.input)
            opts = {k: v for k, v in options.items() if k != "format" and v is not None}
            opts["avoid_tracks"] = list(tracker.used_tracks)
            store.create(job_id, {
                "id": job_id, "token_hash": hash_token(new_token()), "created_at": time.time(),
                "original_name": item.source.name, "format": fmt, "has_video": info.has_video,
                "duration_s": round(info.duration_s, 3), "options": opts, "batch": True,
            })
            store.enqueue(job_id)
            running[job_id] = (item, t0, fmt)
        time.sleep(poll_s)
        for job_id in list(running):
            rec = store.get(job_id)
            if rec is None:
                store.recover(job_id)  # Redis lost it: re-queued from the job directory
                continue
            if rec["state"] not in ("done", "failed"):
                continue
            item, t0, fmt = running.pop(job_id)
            files = store.files(job_id)
            if rec["state"] == "done":
                out = outdir / f"{item.source.stem}.moodmix.{fmt}"
                tmp = out.with_name(f".{out.stem}.batch-part{out.suffix}")
                shutil.copyfile(files.result(fmt), tmp)
                os.replace(tmp, out)
                report = read_json(files.report) or {}
                report["input"] = {**(report.get("input") or {}), "path": str(item.source)}
                report["output"] = {**(report.get("output") or {}), "path": str(out)}
                atomic_write_json(item.report, report)
                tracker.add(_track_of(report))
                on_done(BatchOutcome(item.source, "done", out, track=_track_of(report),
                                     seconds=time.perf_counter() - t0))
            else:
                on_done(BatchOutcome(item.source, "failed", error=rec.get("error") or "failed",
                                     seconds=time.perf_counter() - t0))
            store.delete(job_id)


# ---- entry point -------------------------------------------------------------------------------------------
def run_batch(
    indir: Path,
    outdir: Path,
    *,
    jobs: int = 2,
    queue: bool = False,
    options: dict[str, Any] | None = None,
    settings: Settings | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_done: Callable[[BatchOutcome], None] | None = None,
) -> list[BatchOutcome]:
    """Mix every media file of ``indir`` into ``outdir``; return one outcome per file, in input order.

    Parameters
    ----------
    jobs : int
        Files in flight at once (local processes, or queued jobs with ``queue``).
    options : dict, optional
        :class:`~moodmix.settings.JobSettings` fields (``preset``, ``target_lufs``, ``mood``...) plus ``format``.
    on_start : callable, optional
        ``on_start(total, already_done)`` before the work starts.
    on_done : callable, optional
        Called with each :class:`BatchOutcome` as it finishes (skipped ones first).
    """
    from core.errors import MoodmixError

    if not indir.is_dir():
        raise MoodmixError(f"batch input {indir} is not a folder; give the folder that holds the recordings")
    outdir.mkdir(parents=True, exist_ok=True)
    if indir.resolve() == outdir.resolve():
        raise MoodmixError(f"the output folder is the input folder ({indir}); give another -o OUTDIR")
    options = dict(options or {})
    items = plan(indir, outdir, fmt=options.get("format"))
    outcomes: dict[Path, BatchOutcome] = {}
    tracker = _Tracker()

    def record(o: BatchOutcome) -> None:
        outcomes[o.source] = o
        if on_done:
            on_done(o)

    todo: list[BatchItem] = []
    skipped: list[BatchOutcome] = []
    for item in items:
        prev = done_outcome(item)
        if prev is None:
            todo.append(item)
        else:
            skipped.append(prev)
            tracker.add(prev.track)
    if on_start:
        on_start(len(items), len(skipped))
    for o in skipped:
        record(o)
    jobs = max(1, int(jobs))
    if todo:
        if queue:
            from workers.config import get_settings

            _run_queue(todo, outdir, jobs, options, tracker, record, settings or get_settings())
        else:
            _run_local(todo, outdir, min(jobs, len(todo)), options, tracker, record)
    return [outcomes[i.source] for i in items]


def summary_json(outcomes: Iterable[BatchOutcome]) -> str:
    """The outcomes as JSON Lines (for scripts)."""
    return "\n".join(
        json.dumps({"input": str(o.source), "state": o.state, "output": str(o.output) if o.output else None,
                    "track": o.track, "error": o.error, "seconds": round(o.seconds, 2)})
        for o in outcomes
    )
