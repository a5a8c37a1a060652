"""`moodmix.pipeline.mix_file` on real speech (emodb, concatenated) and a built-in track: loudness and true peak
measured on the decoded output file, stems, video outputs, silent voices, the input never modified."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixer.decode import decode_voice, probe
from moodmix import pipeline
from moodmix.settings import JobSettings
from tests.signals import integrated_lufs, sha256, true_peak_dbtp, video_packets, write_video

pytestmark = pytest.mark.ffmpeg


@pytest.fixture
def emodb_voice(tmp_path, emodb_speech):
    audio, sr = emodb_speech  # six utterances with 1.5 s pauses, 22.05 kHz mono
    path = tmp_path / "talk.flac"
    sf.write(path, audio.T, sr)
    return path, audio, sr


def _spy_plan(monkeypatch):
    """Keep the MixPlan that the pipeline renders from (to rebuild the output from the stems)."""
    import mixer.mixdown

    seen = {}
    real = mixer.mixdown.plan_mix

    def spy(*args, **kwargs):
        seen["plan"] = p = real(*args, **kwargs)
        return p

    monkeypatch.setattr(mixer.mixdown, "plan_mix", spy)
    return seen


@pytest.mark.parametrize("ext", ["m4a", "mp3", "ogg", "opus", "aac"])
def test_lossy_outputs_keep_true_peak_below_minus_1_after_decoding(tmp_path, emodb_voice, builtin_track, ext):
    """Regression: AAC and Opus raised the decoded true peak to -0.88 / -0.81 dBTP from a -1 dBTP limiter ceiling;
    lossy formats are now limited to -1.5 dBTP so the file as a listener decodes it stays at or below -1 dBTP."""
    from mixer.decode import decode_audio

    src, _, _ = emodb_voice
    out = tmp_path / f"mix.{ext}"
    rep = pipeline.mix_file(src, out, settings=JobSettings(music=builtin_track, target_lufs=-14.0,
                                                           analyse_emotion=False))
    y = decode_audio(out, sr=48000, channels=2)[0]
    assert true_peak_dbtp(y) <= -1.0
    # issue 12: MP3 landed 0.3 LU under the target as decoded; every lossy output is measured as decoded and
    # re-rendered with the difference
    assert abs(integrated_lufs(y, 48000) - (-14.0)) <= 0.2
    assert abs(rep["mix"]["decoded_lufs"] - (-14.0)) <= 0.1
    assert rep["mix"]["true_peak_dbtp"] <= -1.0


@pytest.mark.parametrize("target", [-16.0, -14.0])
def test_loudness_and_true_peak_of_the_written_file(tmp_path, emodb_voice, builtin_track, target):
    src, audio, sr = emodb_voice
    digest = sha256(src)
    out = tmp_path / "mix.wav"
    rep = pipeline.mix_file(src, out, settings=JobSettings(music=builtin_track, target_lufs=target,
                                                           analyse_emotion=False))
    y, out_sr = sf.read(out, dtype="float64", always_2d=True)
    assert out_sr == 48000 and y.shape[1] == 2
    assert abs(integrated_lufs(y.T, out_sr) - target) <= 1.0
    assert true_peak_dbtp(y.T) <= -1.0 + 0.05  # 24-bit file, measured with a different 4x filter than the limiter
    # bed: --intro (2 s) before the first word and --outro (2 s) after the last; the voice is never cut
    off = rep["music"]["fit"]["start_offset_s"]
    last_word = rep["speech"]["segments"][-1][1] + off
    assert off == pytest.approx(max(0.0, 2.0 - rep["speech"]["segments"][0][0]), abs=0.01)
    assert abs(y.shape[0] / out_sr - max(off + audio.shape[1] / sr, last_word + 2.0)) < 0.01
    assert rep["mix"]["target_lufs"] == target and abs(rep["mix"]["integrated_lufs"] - target) <= 1.0
    assert rep["speech"]["found"] and rep["speech"]["method"] in ("silero", "energy")
    assert sha256(src) == digest  # the input is never modified


def test_stems_sum_to_the_pre_limiter_mix(tmp_path, emodb_voice, builtin_track, monkeypatch):
    """voice.wav + music.wav is the mix before the limiter: times the limiter's gain curve it gives the output."""
    from mixer.ducking import interpolate_curve

    src, _, _ = emodb_voice
    seen = _spy_plan(monkeypatch)
    out = tmp_path / "mix.wav"
    stems = tmp_path / "stems"
    rep = pipeline.mix_file(src, out, settings=JobSettings(music=builtin_track, stems_dir=stems,
                                                           analyse_emotion=False))
    assert rep["output"]["stems"] == {"voice": str(stems / "voice.wav"), "music": str(stems / "music.wav")}
    v, sr_v = sf.read(stems / "voice.wav", dtype="float32", always_2d=True)
    m, sr_m = sf.read(stems / "music.wav", dtype="float32", always_2d=True)
    assert sr_v == sr_m == rep["output"]["sample_rate"] and v.shape == m.shape
    assert sf.info(str(stems / "voice.wav")).subtype == "FLOAT"
    pre = (v + m).T.astype(np.float64)
    final, _ = sf.read(out, dtype="float64", always_2d=True)
    final = final.T
    assert final.shape == pre.shape
    plan = seen["plan"]
    limiter = interpolate_curve(plan.limiter, plan.lim_hop, 0, pre.shape[1]).astype(np.float64)
    np.testing.assert_allclose(final, pre * limiter, atol=2e-6)  # 24-bit WAV rounding
    assert np.all(np.abs(final) <= np.abs(pre) + 2e-6)  # the limiter only ever lowers the level
    assert np.mean(limiter > 0.999) > 0.5  # and leaves most of the mix alone
    # the music stem rises in the pauses: louder in a 1.5 s gap than under the words
    segs = rep["speech"]["segments"]
    off = rep["music"]["fit"]["start_offset_s"]
    sr = sr_v
    under = np.concatenate([m[int((s + off) * sr):int((e + off) * sr)] for s, e in segs])
    gaps = [(e1, s2) for (_, e1), (s2, _) in zip(segs, segs[1:]) if s2 - e1 >= 1.2]
    assert gaps, segs
    g0, g1 = gaps[0]
    pause = m[int((g0 + off + 0.5) * sr):int((g1 + off - 0.1) * sr)]
    rms = lambda x: 20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12)
    assert rms(pause) - rms(under) > 6.0


def test_silent_voice_still_gets_a_bed(tmp_path, builtin_track):
    src = tmp_path / "silence.wav"
    sf.write(src, np.zeros((5 * 44100, 1), dtype=np.float32), 44100)
    out = tmp_path / "silence.mp3"
    # --analyse-emotion: with --music the emotion pass is skipped by default; here it must flag neutral
    rep = pipeline.mix_file(src, out, settings=JobSettings(music=builtin_track, emotion_with_music=True))
    assert rep["speech"]["found"] is False and rep["speech"]["segments"] == []
    assert "no speech found" in rep["speech"]["note"]
    assert rep["emotion"]["neutral"] is True  # nothing to judge: flagged neutral, not a guess
    y = decode_voice(out).audio
    assert abs(y.shape[1] / 44100 - 9.0) < 0.1
    assert abs(integrated_lufs(y, 44100) - (-16.0)) <= 1.0  # the bed alone carries the target


def test_video_in_video_out(tmp_path, emodb_speech, builtin_track):
    audio, sr = emodb_speech
    secs = 6.0
    src = write_video(tmp_path / "vlog.mp4", secs, audio[:, : int(secs * sr)], sr, fps=30, subtitles=True)
    digest = sha256(src)
    stages = []
    rep = pipeline.mix_file(src, settings=JobSettings(music=builtin_track, preset="vlog", analyse_emotion=False),
                            progress=lambda stage, f: stages.append((stage, f)))
    out = tmp_path / "vlog.moodmix.mp4"
    assert rep["output"]["path"] == str(out) and rep["input"]["has_video"] and rep["output"]["video_copied"]
    assert [b for *_, b in video_packets(out)] == [b for *_, b in video_packets(src)]
    i, o = probe(src), probe(out)
    assert o.video is not None and i.video is not None
    assert abs(o.duration_s - i.duration_s) <= 1 / 30
    assert o.audio is not None and o.audio.codec == "aac"
    assert any(s.startswith("subtitle:") for s in o.other_streams)
    assert rep["music"]["fit"]["start_offset_s"] == 0.0  # video: the bed is exactly the video's length
    assert abs(rep["output"]["duration_s"] - i.video.duration_s) < 1e-3
    assert sha256(src) == digest
    assert [s for s, f in stages if f == 1.0] == ["decode", "vad", "select", "fit", "mix", "render"]


@pytest.mark.slow
@pytest.mark.model
def test_report_with_emotion_and_library_choice(tmp_path, emodb_voice):
    """No --music: the emotion pass runs and the library picks the track; every DESIGN.md section is there."""
    src, _, _ = emodb_voice
    rep = pipeline.mix_file(src, tmp_path / "mix.m4a", settings=JobSettings(report_path=tmp_path / "r.json"))
    assert set(rep) >= {"input", "speech", "emotion", "music", "mix", "timings_s"}
    assert set(rep["emotion"]["labels"]) == {"sadness", "joy", "love", "anger", "fear", "surprise"}
    assert abs(sum(rep["emotion"]["labels"].values()) - 1.0) < 0.01
    assert rep["music"]["rule"] in ("intersection", "music_cluster", "emotion_cluster", "nearest")
    assert set(rep["mix"]) >= {"integrated_lufs", "true_peak_dbtp", "speech_to_music_db", "preset", "duck_db"}
    assert set(rep["timings_s"]) >= {"decode", "vad", "emotion", "select", "mix", "render", "total"}
    assert (tmp_path / "r.json").exists() and (tmp_path / "mix.m4a").exists()


@pytest.mark.slow
def test_follow_mood_changes_track_between_long_stretches(tmp_path, emodb_dir, monkeypatch):
    """A voice sad for a minute then joyful for a minute: with --follow-mood the bed changes track once, in the
    pause between the two stretches, and the report lists both segments."""
    import models.emotion_pass
    from models.types import LABELS, EmotionAnalysis, EmotionEstimate, TimedEmotion

    clips = sorted(emodb_dir.glob("*.flac"))[:34]  # 2 s utterances + 1.5 s pauses: ~2 minutes of real speech
    parts = []
    for c in clips:
        y, sr = sf.read(c, dtype="float32")
        parts += [y, np.zeros(int(1.5 * sr), np.float32)]
    src = tmp_path / "two_moods.flac"
    sf.write(src, np.concatenate(parts), sr)

    def mood(label: str, valence: float, arousal: float) -> EmotionEstimate:
        return EmotionEstimate({k: (0.9 if k == label else 0.02) for k in LABELS}, valence, arousal, 0.9)

    def fake_analyse(audio, sr, segments, **kw):
        sad, joy = mood("sadness", -0.7, -0.5), mood("joy", 0.8, 0.6)
        timeline = tuple(TimedEmotion(s, e, sad if s < 60 else joy) for s, e in segments)
        return EmotionAnalysis(overall=mood("joy", 0.1, 0.0), sources={"voice": None, "text": None},
                               timeline=timeline)

    monkeypatch.setattr(models.emotion_pass, "analyse_speech", fake_analyse)
    out = tmp_path / "two_moods.wav"
    rep = pipeline.mix_file(src, out, settings=JobSettings(follow_mood=True, seed=1))
    segs = rep["music"]["segments"]
    assert len(segs) == 2, segs
    assert segs[0]["track"] != segs[1]["track"]
    assert segs[0]["start"] == 0.0 and segs[1]["end"] == rep["output"]["duration_s"]
    change = segs[0]["end"] - rep["music"]["fit"]["start_offset_s"]  # back to voice time
    assert 55.0 < change < 66.0 and segs[1]["start"] == segs[0]["end"]
    y, out_sr = sf.read(out, dtype="float64", always_2d=True)
    assert abs(y.shape[0] / out_sr - rep["output"]["duration_s"]) < 1e-3
    assert abs(integrated_lufs(y.T, out_sr) - (-16.0)) <= 1.0


def test_a_run_that_fails_midway_leaves_nothing(tmp_path, emodb_voice, builtin_track, monkeypatch):
    """A failure while the blocks stream to the encoder: no output, no stems, no temporary files."""
    import mixer.media

    src, _, _ = emodb_voice
    calls = {"n": 0}
    real_add = mixer.media.MixMeter.add

    def failing_add(self, block):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(28, "No space left on device")
        return real_add(self, block)

    monkeypatch.setattr(mixer.media.MixMeter, "add", failing_add)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(OSError, match="No space left"):
        pipeline.mix_file(src, out_dir / "mix.m4a", settings=JobSettings(
            music=builtin_track, stems_dir=out_dir / "stems", report_path=out_dir / "r.json", analyse_emotion=False))
    assert calls["n"] == 5
    leftovers = [p.relative_to(out_dir) for p in out_dir.rglob("*") if p.is_file()]
    assert leftovers == []


def test_forced_music_reuses_the_catalog_analysis(tmp_path):
    """--music with a built-in track's path (or its catalog id) gets the catalog's beat grid: no beat tracking."""
    import immich_memories_music

    from core.errors import DecodeError

    path = sorted((immich_memories_music.tracks_dir() / "calm").glob("*.opus"))[0]
    choice = pipeline._forced_choice(path, None)
    assert choice.rule == "forced" and Path(choice.track.path).resolve() == path.resolve()
    assert len(choice.track.beats) > 8 and choice.track.features.get("tempo")
    by_id = pipeline._forced_choice(Path(choice.track.id), None)
    assert by_id.track.path == choice.track.path
    with pytest.raises(DecodeError, match=r"music file not found: .*nope\.mp3; --music takes the path"):
        pipeline._forced_choice(tmp_path / "nope.mp3", None)


@pytest.mark.parametrize("keep_db", [None, 20.0])
def test_separation_feeds_the_isolated_voice_to_the_mix(tmp_path, emodb_voice, builtin_track, monkeypatch, keep_db):
    """--separate mixes the isolated voice; --keep-ambience puts the separated background back that far down."""
    import models.separation.isolate as sep_api

    src, audio, sr = emodb_voice
    half = {}

    def fake_isolate(x, sr, *, separator="deepfilternet", **kw):
        h = x.shape[1] // 2
        half["h"] = h
        voice, background = x.copy(), x.copy()
        voice[:, h:] = 0.0  # "voice" only in the first half, "background" only in the second
        background[:, :h] = 0.0
        return sep_api.Separation(voice=voice, background=background, sr=sr, method="fake")

    monkeypatch.setattr(sep_api, "isolate_voice", fake_isolate)
    stems = tmp_path / "stems"
    rep = pipeline.mix_file(src, tmp_path / "mix.wav", settings=JobSettings(
        music=builtin_track, separate=True, keep_ambience_db=keep_db, stems_dir=stems, analyse_emotion=False,
        leveller="off"))  # the levels of the stem are the separation's: no leveller riding the ambience up
    assert rep["mix"]["separation"] == "fake"
    v, out_sr = sf.read(stems / "voice.wav", dtype="float64", always_2d=True)
    start = int(round(rep["music"]["fit"]["start_offset_s"] * out_sr))
    h = start + int(half["h"] * out_sr / 48000)
    first, second = v[start:h], v[h:h + (h - start)]
    rms = lambda x: 20 * np.log10(np.sqrt(np.mean(np.square(x))) + 1e-12)  # noqa: E731
    if keep_db is None:
        assert rms(second) < rms(first) - 60
    else:
        assert abs((rms(second) - rms(first)) + keep_db) < 3.0
