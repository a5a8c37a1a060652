"""The whole job, top to bottom, as one function: :func:`mix_file`.

It reads like DESIGN.md's diagram::

    decode → speech activity → emotion → [separate] → select → decode music → fit → mixdown → render → report

The CLI (``moodmix mix``), the Celery tasks and the HTTP API all call :func:`mix_file`; none of them
re-implements a step. Each step is one call into :mod:`mixer`, :mod:`models` or :mod:`library`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import DecodeError
from moodmix.report import InputSection, MixReport, MixSection, OutputSection, SpeechSection
from moodmix.settings import JobSettings, ProgressFn

__all__ = ["STAGES", "HeardVoice", "analyse_media", "hear_voice", "mix_file"]

#: Stages reported to ``progress(stage, fraction)``, in order, with their rough share of the run time.
STAGES: dict[str, float] = {
    "decode": 0.10, "vad": 0.10, "separate": 0.0, "emotion": 0.30, "select": 0.02,
    "fit": 0.08, "mix": 0.25, "render": 0.15,
}


class _Clock:
    """Wall-clock seconds per stage, for the report's ``timings_s``."""

    def __init__(self, progress: ProgressFn | None) -> None:
        self.timings: dict[str, float] = {}
        self._progress = progress
        self._t0 = time.perf_counter()

    def stage(self, name: str) -> _Stage:
        return _Stage(self, name)

    def total(self) -> dict[str, float]:
        out = {k: round(v, 3) for k, v in self.timings.items()}
        out["total"] = round(time.perf_counter() - self._t0, 3)
        return out


class _Stage:
    def __init__(self, clock: _Clock, name: str) -> None:
        self.clock, self.name = clock, name

    def __enter__(self) -> _Stage:
        self.t = time.perf_counter()
        if self.clock._progress:
            self.clock._progress(self.name, 0.0)
        return self

    def __exit__(self, *exc: object) -> None:
        self.clock.timings[self.name] = self.clock.timings.get(self.name, 0.0) + time.perf_counter() - self.t
        if self.clock._progress and exc[0] is None:
            self.clock._progress(self.name, 1.0)


def _db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


#: Other tracks the report offers beside the pick (each with its reasons and credit), best first.
N_ALTERNATIVES = 5


def _alternative(choice: Any) -> dict[str, Any]:
    """A runner-up for the report: id, title, reasons and credit (as the pick's own section names them)."""
    d = choice.to_dict()
    return {k: d.get(k) for k in ("track", "title", "reasons", "credit", "licence") if k in d}


def catalog_for(library: Any, database: str | None) -> Any:
    """What to choose music from: ``library`` (a folder, a catalog URL or name, a catalog) when given, else the
    default catalog at ``database`` (``--database`` / ``MOODMIX_DATABASE_URL``, built-in library included) when
    set, else None (the default SQLite catalog under MOODMIX_HOME)."""
    if library is not None or not database:
        return library
    from library.catalog import default_catalog

    return default_catalog(database)


def _forced_choice(music: Path, library: Any) -> Any:
    """The ``--music`` track: a catalog track when the file is in the catalog (its analysis, beats included, is
    reused) or when ``music`` is a catalog id; else the file as it is (its beats are tracked when fitting)."""
    from core.errors import MoodmixError
    from library.types import Track, TrackChoice

    p = Path(music)
    catalog = None
    try:
        from library.catalog import default_catalog, open_catalog

        if library is None:
            catalog = default_catalog()
        elif hasattr(library, "tracks"):
            catalog = library
        elif "://" in str(library):
            catalog = open_catalog(str(library))
    except (MoodmixError, ImportError, OSError):
        catalog = None  # no catalog: the file is used as it is
    if not p.is_file():
        if catalog is not None:
            try:
                track = catalog.get(str(music))
                return TrackChoice(track=track, rule="forced", reasons=(f"chosen with --music {music}",))
            except MoodmixError:
                pass
        raise DecodeError(f"music file not found: {p}; --music takes the path of an audio file or a catalog id "
                          "(see `moodmix library list`)")
    if catalog is not None:
        real = p.resolve()
        for t in catalog.tracks():
            if Path(t.path).resolve() == real:
                return TrackChoice(track=t, rule="forced", reasons=("chosen with --music (catalog analysis)",))
    track = Track(id=str(p), path=str(p), title=p.stem, duration_s=0.0, features={}, tags=())
    return TrackChoice(track=track, rule="forced", reasons=("chosen with --music",))


def _plan_follow_mood(emotion: Any, settings: JobSettings, voice_s: float, offset_s: float,
                      total_s: float) -> list[tuple[float, float, Any]]:
    """Where the bed changes track (:func:`library.mood_plan.plan_mood_segments`), in output time: the emotion
    timeline is in voice time, the output starts ``offset_s`` earlier (the intro)."""
    from library.mood_plan import plan_mood_segments
    from library.select import choose_tracks

    library = catalog_for(settings.library, settings.database)

    def choose(estimate: Any, avoid: Any) -> Any:
        return choose_tracks(estimate, library=library, mood=settings.mood,
                             exclude_vocals=settings.exclude_vocals, seed=settings.seed,
                             avoid=tuple(settings.avoid_tracks) + tuple(avoid), n=1)[0]

    plan = plan_mood_segments(emotion, voice_s, choose)
    shifted = [(s + offset_s, e + offset_s, c) for s, e, c in plan]
    first = shifted[0]
    shifted[0] = (0.0, first[1], first[2])
    last = shifted[-1]
    shifted[-1] = (last[0], total_s, last[2])
    return shifted


def _follow_mood_bed(mood_plan: list[tuple[float, float, Any]], sr: int, n_total: int) -> Any:
    """One bed from several tracks, each fitted to its stretch, crossfaded at the changes: a block reader, rendered
    block by block during the mix like a single track's bed (memory: the decoded tracks, not the bed)."""
    from mixer.crossfade_bed import FollowBed, segment_span
    from mixer.decode import decode_audio
    from mixer.fit import plan_fit
    from mixer.media import BedReader

    crossfade_s = 2.0
    parts = []
    last = len(mood_plan) - 1
    for i, (start_s, end_s, choice) in enumerate(mood_plan):
        _, length = segment_span(start_s, end_s, sr=sr, n_samples=n_total, crossfade_s=crossfade_s,
                                 first=i == 0, last=i == last)
        music, _ = decode_audio(choice.track.path, sr=sr, channels=2)
        plan = plan_fit(music, sr, max(1, length), beats=tuple(choice.track.beats) or None,
                        downbeats=tuple(choice.track.downbeats) or None)
        parts.append((start_s, end_s, BedReader(plan, music)))
    return FollowBed(parts, sr, n_total, crossfade_s=crossfade_s, channels=2)


def _place_voice(voice: Any, segments: tuple[tuple[float, float], ...], settings: JobSettings, sr: int, *,
                 is_video: bool) -> tuple[int, int]:
    """Where the voice and the bed sit in the output: ``(bed_start, bed_end)`` in samples, and the voice's
    ``start`` and the output's ``n_samples`` set on ``voice``. A video keeps its timeline (the bed spans it); for
    audio the music starts ``intro_s`` before the first word and ends ``outro_s`` after the last (DESIGN.md),
    wherever they fall in the file, and the voice is delayed only as far as the intro needs."""
    if is_video:
        return 0, voice.n_samples
    intro_n, outro_n = int(round(max(0.0, settings.intro_s) * sr)), int(round(max(0.0, settings.outro_s) * sr))
    first = int(round(segments[0][0] * sr)) if segments else 0
    last = min(voice.frames, int(round(segments[-1][1] * sr))) if segments else voice.frames
    voice.start = max(0, intro_n - first)
    bed_start = voice.start + first - intro_n
    bed_end = voice.start + last + outro_n
    voice.n_samples = max(voice.start + voice.frames, bed_end)
    return bed_start, bed_end


def _separate_voice(voice: Any, settings: JobSettings) -> tuple[Any, str | None]:
    """The isolated voice (+ the original background ``keep_ambience_db`` down, when asked) as a new spooled
    voice in the same place, window by window from the spool into a new spool (memory bounded by one window, any
    length); the old spool is closed. Returns ``(voice, separation method)``."""
    from mixer.decode import SpooledVoice
    from models.separation.isolate import isolate_voice_stream

    ambience = None
    if settings.keep_ambience_db is not None:
        ambience = np.float32(_db_to_gain(-abs(settings.keep_ambience_db)))
    method = None
    spool = tempfile.TemporaryFile(prefix="moodmix-voice-")
    try:
        start = voice.start
        for _, sep in isolate_voice_stream(lambda i0, i1: voice(start + i0, start + i1), voice.frames, voice.sr,
                                           separator=settings.separator):
            method = sep.method
            piece = sep.voice if ambience is None else sep.voice + sep.background * ambience
            spool.write(np.ascontiguousarray(piece.T, dtype=np.float32).tobytes())
        spool.flush()
    except BaseException:
        spool.close()
        raise
    spooled = SpooledVoice(spool, sr=voice.sr, channels=voice.channels, n_samples=voice.n_samples,
                           start=voice.start, frames=voice.frames, analysis=voice.analysis, info=voice.info)
    voice.close()
    return spooled, method


def _select_music(emotion: Any, settings: JobSettings) -> tuple[Any, list[Any]]:
    """The pick and its runners-up: the ``--music`` track as given, else the library's ranking for the mood heard
    (a neutral mood when no emotion pass ran)."""
    from library.select import choose_tracks
    from models.types import neutral_estimate

    catalog = catalog_for(settings.library, settings.database)
    if settings.music is not None:
        return _forced_choice(settings.music, catalog), []
    overall = emotion.overall if emotion is not None else neutral_estimate()
    ranked = choose_tracks(overall, library=catalog, mood=settings.mood, exclude_vocals=settings.exclude_vocals,
                           seed=settings.seed, avoid=settings.avoid_tracks, n=1 + N_ALTERNATIVES)
    return ranked[0], list(ranked[1:])


def _music_bed(choice: Any, mood_plan: list[tuple[float, float, Any]] | None, sr: int, bed_start: int, bed_end: int,
               n_total: int, offset_s: float) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    """The bed as a block reader placed in the output (one fitted track, or the ``--follow-mood`` tracks
    crossfaded), with the report's ``music.fit`` and ``music.segments``."""
    from mixer.decode import decode_audio
    from mixer.fit import plan_fit
    from mixer.media import BedReader, PlacedBed

    n_bed = bed_end - bed_start
    b0 = bed_start / sr
    if mood_plan is None:
        music, _ = decode_audio(choice.track.path, sr=sr, channels=2)
        # the catalog's beat grid when it has one; else plan_fit tracks the beats itself
        fit = plan_fit(music, sr, n_bed, beats=tuple(choice.track.beats) or None,
                       downbeats=tuple(choice.track.downbeats) or None)
        bed: Any = BedReader(fit, music)
        fit_info: dict[str, Any] = {
            "method": fit.method, "seams_s": [round((i + bed_start) / sr, 3) for i in fit.seams],
            "loop_s": [round(x, 3) for x in fit.loop_s] if fit.loop_s else None, "start_offset_s": round(offset_s, 3)}
        segments = [{"start": round(b0, 3), "end": round(bed_end / sr, 3), "track": choice.track.id,
                     "credit": choice.track.credit}]
    else:
        bed = _follow_mood_bed(mood_plan, sr, n_bed)
        fit_info = {"method": "follow_mood", "seams_s": [round(s + b0, 3) for s, _, _ in mood_plan[1:]],
                    "loop_s": None, "start_offset_s": round(offset_s, 3)}
        segments = [{"start": round(s + b0, 3), "end": round(e + b0, 3), "track": c.track.id, "title": c.track.title,
                     "rule": c.rule, "credit": c.track.credit} for s, e, c in mood_plan]
    fit_info["bed_start_s"], fit_info["bed_end_s"] = round(b0, 3), round(bed_end / sr, 3)
    if bed_start > 0 or n_bed != n_total:
        bed = PlacedBed(bed, bed_start, n_total)
    return bed, fit_info, segments


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    from mixer.render import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_path(path)
    try:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class HeardVoice:
    """What moodmix hears in one input: its speech activity and, when the pass ran, its emotion.

    ``segments`` are in seconds of the input; ``emotion`` is None when the emotion pass did not run.
    """

    segments: tuple[tuple[float, float], ...]
    speech_ratio: float
    method: str
    emotion: Any = None  # models.types.EmotionAnalysis | None
    duration_s: float = 0.0


def hear_voice(audio16k: np.ndarray, *, emotion: Any = None, run_emotion: bool = True,
               clock: _Clock | None = None, reuse: dict[str, Any] | None = None,
               progress: Any = None) -> HeardVoice:
    """Speech activity → emotion on the 16 kHz analysis copy: the first two stages of every command that hears a
    voice (``mix``, ``emotions``, ``suggest``, the workers). One VAD drives both the emotion pass and the ducking.

    ``emotion`` is the :class:`~models.emotion_pass.EmotionSettings` (None: the shipped defaults); with
    ``run_emotion`` False only the speech is found. ``reuse`` (an earlier report of the same input, a re-mix)
    takes the speech from it and runs no emotion pass. ``clock`` times the ``vad`` and ``emotion`` stages;
    ``progress(fraction)`` follows the emotion pass.
    """
    from mixer.decode import ANALYSIS_SR

    clock = clock or _Clock(None)
    with clock.stage("vad"):
        if reuse is not None:
            activity: Any = _Reused(reuse)
        else:
            from mixer.vad import detect_speech

            activity = detect_speech(audio16k, ANALYSIS_SR)
    segments = tuple((float(s), float(e)) for s, e in activity.segments)
    result = None
    if run_emotion and reuse is None:
        with clock.stage("emotion"):
            if segments:
                from models.emotion_pass import analyse_speech

                result = analyse_speech(audio16k, ANALYSIS_SR, segments, settings=emotion, progress=progress)
            else:  # nothing to judge: a flagged neutral result
                from models.types import EmotionAnalysis, neutral_estimate

                result = EmotionAnalysis(overall=neutral_estimate(), sources={"voice": None, "text": None})
    return HeardVoice(segments, float(activity.speech_ratio), str(activity.method), result,
                      audio16k.shape[-1] / ANALYSIS_SR)


def analyse_media(path: str | Path, *, emotion: Any = None, progress: Any = None) -> HeardVoice:
    """Decode → speech activity → emotion for one media file (``moodmix emotions``, ``moodmix suggest``): the same
    streamed 16 kHz copy and the same steps as :func:`mix_file`, so every command hears the same mood in a file.

    Raises
    ------
    core.errors.MoodmixError
        A missing file, a folder, or media that cannot be decoded (one line, naming what to give instead).
    """
    from mixer.decode import spool_voice

    p = Path(path)
    if not p.exists():
        raise DecodeError("the file does not exist; give an audio or video file")
    if p.is_dir():
        raise DecodeError("that is a folder; give audio or video files")
    with spool_voice(p) as voice:  # the full-rate samples pass through a temporary file, never memory
        audio = voice.analysis
    return hear_voice(audio, emotion=emotion, progress=progress)


def mix_file(
    input_path: str | Path,
    output_path: str | Path | None = None,
    *,
    settings: JobSettings = JobSettings(),
    progress: ProgressFn | None = None,
    analysis: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Mix background music under the voice of one media file and write the result.

    Parameters
    ----------
    input_path : str or Path
        Voice recording (wav, mp3, m4a/aac, ogg/opus, flac, ...) or video (mp4, mov, mkv, webm). Never modified.
    output_path : str or Path, optional
        Default ``<input stem>.moodmix.<ext>`` beside the input (a video keeps its container).
    settings : JobSettings
        Every option of the job (preset, target loudness, music, stems, report, ...).
    progress : callable, optional
        ``progress(stage, fraction)`` at the start (0.0) and end (1.0) of each stage of :data:`STAGES`.
    analysis : dict, optional
        A re-mix: an earlier report of the same input (its ``speech`` and ``emotion``); speech activity and
        emotion are taken from it instead of being computed again (``workers.remix`` re-mixes this way).

    Returns
    -------
    dict
        The report (DESIGN.md): input, output, speech, emotion, music, mix, timings_s.

    Raises
    ------
    core.errors.MoodmixError
        Any bad input (missing/corrupt file, no audio, unsupported output, output == input, no track, ...).
        A failed run leaves no output file behind.
    """
    from mixer.decode import (
        measure_file_loudness,
        probe,
        spool_voice,
    )
    from mixer.leveller import leveller_for
    from mixer.media import MixMeter, StemWriter, stream_mix
    from mixer.mixdown import MixSettings, plan_mix
    from mixer.render import check_output_path, default_output_path, output_format, output_rate, render

    clock = _Clock(progress)
    src = Path(input_path)

    # decode: probe first so that a bad output path fails before any heavy work
    with clock.stage("decode"):
        info = probe(src)
        out = Path(output_path) if output_path is not None else default_output_path(src, info)
        if settings.output_format:
            out = out.with_suffix("." + settings.output_format.lstrip("."))
        check_output_path(src, out)
        fmt = output_format(out, has_video=info.has_video)
        in_sr = info.audio.sample_rate if info.audio else 48000
        sr = output_rate(in_sr, fmt)
        # the voice goes straight into the output's timeline, spooled to a temporary file (an hour costs no RAM):
        # a video's exact length; for audio the voice is placed once its words are found (below)
        is_video = info.video is not None and info.video.duration_s > 0
        place = {"length": int(round(info.video.duration_s * sr))} if is_video else {}
        voice = spool_voice(src, sr=sr, info=info, **place)
    stems: StemWriter | None = None
    try:
        # speech activity, then the emotion from the 16 kHz analysis copy (skipped when the output does not need it)
        emotion_skipped = settings.emotion_skip_reason if analysis is None else "re-mix: the first mix's mood"
        heard = hear_voice(voice.analysis, emotion=settings.emotion, run_emotion=emotion_skipped is None,
                           clock=clock, reuse=analysis)
        voice.analysis = np.zeros((1, 0), np.float32)  # not needed any more: free it before the mix
        segments, emotion = heard.segments, heard.emotion
        bed_start, bed_end = _place_voice(voice, segments, settings, sr, is_video=is_video)
        n_total, n_voice, offset_s = voice.n_samples, voice.frames, voice.start / sr
        n_bed = bed_end - bed_start

        # optional voice isolation: the mix uses the isolated voice (+ some ambience when asked)
        separation_method = None
        if settings.separate:
            with clock.stage("separate"):
                voice, separation_method = _separate_voice(voice, settings)

        # select the track(s): the pick and its runners-up; with --follow-mood one track per long stretch of a mood
        with clock.stage("select"):
            choice, alternatives = _select_music(emotion, settings)
            mood_plan = None
            if settings.follow_mood and settings.music is None and emotion is not None and emotion.timeline:
                mood_plan = _plan_follow_mood(emotion, settings, n_voice / sr, offset_s - bed_start / sr, n_bed / sr)
                mood_plan = mood_plan if len(mood_plan) >= 2 else None

        # fit: plan the loop/fade points once; the bed is rendered block by block during the mix
        with clock.stage("fit"):
            bed, fit_info, music_segments = _music_bed(choice, mood_plan, sr, bed_start, bed_end, n_total, offset_s)
            if mood_plan is not None:
                choice = mood_plan[0][2]

        # mixdown plan: levels, ducking curve, limiter curve (two analysis passes over the blocks)
        with clock.stage("mix"):
            mix_segments = tuple((s + offset_s, e + offset_s) for s, e in segments)
            mix_settings = MixSettings(depth_db=settings.depth_db - settings.music_db,  # --music-db moves the bed
                                       bed_db=MixSettings.bed_db + settings.music_db, target_lufs=settings.target_lufs,
                                       true_peak_dbtp=fmt.true_peak_ceiling_dbtp,
                                       leveller=leveller_for(settings.leveller, settings.preset))
            plan = plan_mix(voice, bed, sr, mix_segments, settings=mix_settings)

        # render: mix blocks → encoder (and stems, and the meter), atomically
        with clock.stage("render"):
            def render_pass(plan: Any) -> Any:
                nonlocal stems
                meter = MixMeter(sr, plan.ctl_hop, plan.lim_hop,
                                 only_above=10 ** (mix_settings.true_peak_dbtp / 20) / 4)
                if stems is not None:
                    stems.abort()
                stems = StemWriter(settings.stems_dir, sr) if settings.stems_dir is not None else None
                render(stream_mix(plan, voice, bed, meter=meter, stems=stems), sr, out,
                       video_source=info if fmt.video else None)
                return meter

            meter = render_pass(plan)
            decoded_lufs = None
            if fmt.lossy:
                # A lossy encoder moves the loudness (MP3 ~0.3 LU under): measure the file as a player decodes
                # it and re-render once or twice with the difference, so the output lands on target as decoded.
                try:
                    for attempt in range(3):
                        decoded_lufs = measure_file_loudness(out)
                        delta = settings.target_lufs - decoded_lufs
                        if not np.isfinite(delta) or abs(delta) <= _LOSSY_TOLERANCE_LU or attempt == 2:
                            break
                        plan = plan.retargeted(delta)
                        meter = render_pass(plan)
                except BaseException:
                    out.unlink(missing_ok=True)
                    raise
            stem_paths = stems.commit() if stems is not None else None
            stems = None
            lufs, tp = meter.result()
    finally:
        voice.close()
        if stems is not None:
            stems.abort()

    music_section = choice.to_dict()
    music_section["alternatives"] = [_alternative(c) for c in alternatives]
    music_section["segments"] = music_segments
    music_section["fit"] = fit_info
    report = MixReport(
        input=InputSection(path=str(src), duration_s=info.duration_s if info.duration_s > 0 else n_voice / sr,
                           has_video=info.has_video, sample_rate=in_sr,
                           channels=info.audio.channels if info.audio else 0, container=info.container),
        output=OutputSection(path=str(out), format=fmt.ext, sample_rate=sr, duration_s=n_total / sr,
                             video_copied=bool(fmt.video), stems=stem_paths),
        speech=SpeechSection(segments=segments, speech_ratio=heard.speech_ratio, method=heard.method),
        emotion=emotion.to_dict() if emotion is not None else (analysis or {}).get("emotion"),
        emotion_skipped=emotion_skipped,
        music=music_section,
        mix=MixSection(
            integrated_lufs=lufs, true_peak_dbtp=tp, speech_to_music_db=plan.speech_to_music_db,
            preset=settings.preset, duck_db=plan.duck_db, depth_db=settings.depth_db, music_db=settings.music_db,
            target_lufs=settings.target_lufs, separation=separation_method,
            leveller=settings.leveller if settings.leveller != "auto" else _preset_leveller(settings.preset),
            leveller_range_db=plan.leveller_range_db, limiter_gr_p99_db=plan.limiter_gr_p99_db,
            limiter_gr_max_db=plan.limiter_gr_max_db, decoded_lufs=decoded_lufs),
        timings_s=clock.total(),
    ).to_dict()
    if settings.report_path is not None:
        _write_json_atomic(Path(settings.report_path), report)
    return report


#: A lossy output is re-rendered when its decoded loudness is further than this from the target (LU).
_LOSSY_TOLERANCE_LU = 0.05


class _Reused:
    """Speech activity taken from an earlier report of the same input (a re-mix): segments in voice time."""

    def __init__(self, report: dict[str, Any]) -> None:
        speech = report.get("speech") or {}
        self.segments = [(float(s), float(e)) for s, e in speech.get("segments") or ()]
        self.speech_ratio = float(speech.get("speech_ratio") or 0.0)
        self.method = str(speech.get("method") or "reused")


def _preset_leveller(preset: str) -> str:
    from mixer.leveller import PRESET_LEVELLER

    return PRESET_LEVELLER.get(preset, "medium")
