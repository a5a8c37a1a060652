"""`moodmix mix` end to end: every bad input gives one line on stderr and exit 1 (never a traceback, never an
output file); one happy path through the real console entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from moodmix.cli import main
from tests.conftest import REPO as REPO_ROOT
from tests.signals import sha256, write_audio, write_video

pytestmark = pytest.mark.ffmpeg


def _run(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as ex:
        main(["mix", *args])
    err = capsys.readouterr().err
    return int(ex.value.code or 0), err


@pytest.fixture
def voice_file(tmp_path, emodb_speech) -> Path:
    audio, sr = emodb_speech  # real speech: two utterances and their pauses (~7 s)
    return write_audio(tmp_path / "voice.flac", audio[:, : int(7 * sr)], sr)


def _bad_input(kind: str, tmp_path: Path, rng: np.random.Generator) -> Path:
    if kind == "missing":
        return tmp_path / "nope.wav"
    if kind == "corrupt":
        p = tmp_path / "garbage.mp3"
        p.write_bytes(rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes())
        return p
    if kind == "truncated_wav":  # issue 12: the header says 60 s, the file holds 0.03 s
        full = tmp_path / "full.wav"
        t = np.arange(60 * 48000) / 48000
        sf.write(full, (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 48000, subtype="PCM_16")
        p = tmp_path / "cut.wav"
        p.write_bytes(full.read_bytes()[:3000])
        full.unlink()
        return p
    if kind == "truncated":
        t = np.arange(6 * 44100) / 44100
        full = write_audio(tmp_path / "full.mp3", (0.3 * np.sin(2 * np.pi * 200 * t))[None].astype(np.float32),
                           44100)
        p = tmp_path / "half.mp3"
        p.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
        return p
    if kind == "no_audio":
        return write_video(tmp_path / "mute.mp4", 1.0, None, 48000)
    if kind == "zero_length":
        p = tmp_path / "zero.wav"
        sf.write(p, np.zeros((0, 1), dtype=np.float32), 16000)
        return p
    raise AssertionError(kind)


BAD_INPUTS = {
    "missing": r"input file not found: .*nope\.wav",
    "corrupt": r"cannot read garbage\.mp3 as audio or video .*corrupt",
    "truncated": r"half\.mp3 is truncated",
    "truncated_wav": r"cut\.wav is truncated: the header says 60\.0 s, the file holds 0\.03 s",
    "no_audio": r"mute\.mp4 has no audio stream",
    "zero_length": r"zero\.wav has an audio stream but no samples",
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_one_line_exit_1(tmp_path, capsys, rng, kind):
    import re

    src = _bad_input(kind, tmp_path, rng)
    before = {p.name for p in tmp_path.iterdir()}
    code, err = _run(capsys, str(src), "-o", str(tmp_path / "out.wav"), "--no-emotion")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("moodmix: error: "), err
    assert re.search(BAD_INPUTS[kind], lines[0]), lines[0]
    assert {p.name for p in tmp_path.iterdir()} == before  # no output, no temporary


def test_unsupported_output_extension(tmp_path, capsys, voice_file):
    code, err = _run(capsys, str(voice_file), "-o", str(tmp_path / "out.xyz"), "--no-emotion")
    assert code == 1
    assert err.strip() == ("moodmix: error: cannot write '.xyz' files (output out.xyz); use one of .wav, .flac, "
                           ".mp3, .m4a, .aac, .ogg, .opus")
    assert not (tmp_path / "out.xyz").exists()


def test_output_equal_to_input(tmp_path, capsys, voice_file):
    digest = sha256(voice_file)
    code, err = _run(capsys, str(voice_file), "-o", str(voice_file), "--no-emotion")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "is the input file; moodmix never overwrites its input" in err
    assert sha256(voice_file) == digest


def test_bad_music_file_leaves_no_output(tmp_path, capsys, voice_file):
    bad = tmp_path / "song.mp3"
    bad.write_text("not music")
    code, err = _run(capsys, str(voice_file), "--music", str(bad), "--no-emotion")
    assert code == 1 and "song.mp3" in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.glob("voice.moodmix.*")) and not list(tmp_path.glob(".*part*"))


def test_bad_option_values(tmp_path, capsys, voice_file):
    code, err = _run(capsys, str(voice_file), "--preset", "loud")
    assert code == 1 and "--preset must be one of podcast, vlog, clear, got 'loud'" in err
    code, err = _run(capsys, str(voice_file), "--target-lufs", "3")
    assert code == 1 and "--target-lufs must be between -40 and -5 LUFS" in err
    code, err = _run(capsys, str(voice_file), "--intro", "-1")
    assert code == 1 and "--intro must be between 0 and 60 seconds" in err


def test_intro_and_outro_set_the_music_around_the_words(tmp_path, capsys, emodb_speech, music_track):
    """Audio input: the bed starts --intro s before the first word and ends --outro s after the last (DESIGN.md),
    wherever they fall in the file. Regression (issue 12): it started --intro s before the *file*, so a recording
    with 3 s of room tone before the first word got 5 s of music before the voice."""
    audio, sr = emodb_speech
    lead, tail = 3.0, 4.0
    voice = np.concatenate([np.zeros((1, int(lead * sr)), np.float32), audio[:, : int(7 * sr)],
                            np.zeros((1, int(tail * sr)), np.float32)], axis=1)
    src = write_audio(tmp_path / "voice.flac", voice, sr)
    voice_s = voice.shape[1] / sr
    for intro, outro in (("0", "5"), ("2", "0.5"), ("5", "1")):
        out = tmp_path / f"mix-{intro}-{outro}.wav"
        rep_path = tmp_path / f"r-{intro}-{outro}.json"
        stems = tmp_path / f"stems-{intro}-{outro}"
        code, err = _run(capsys, str(src), "-o", str(out), "--music", str(music_track), "--no-emotion",
                         "--intro", intro, "--outro", outro, "--report", str(rep_path), "--stems", str(stems))
        assert code == 0, err
        rep = json.loads(rep_path.read_text())
        off = rep["music"]["fit"]["start_offset_s"]
        segs = rep["speech"]["segments"]
        first, last = segs[0][0] + off, segs[-1][1] + off
        assert first == pytest.approx(off + lead, abs=0.4)  # the VAD finds the words where they are
        m, out_sr = sf.read(stems / "music.wav", dtype="float32", always_2d=True)
        loud = np.flatnonzero(np.abs(m).max(axis=1) > 1e-4)
        assert loud[0] / out_sr == pytest.approx(max(0.0, first - float(intro)), abs=0.1)
        assert loud[-1] / out_sr == pytest.approx(last + float(outro), abs=0.1)
        # the voice is delayed only as far as the intro needs; nothing of the recording is cut
        assert off == pytest.approx(max(0.0, float(intro) - (first - off)), abs=0.01)
        dur = sf.info(out).duration
        assert dur == pytest.approx(max(off + voice_s, last + float(outro)), abs=0.01)


@pytest.mark.slow
def test_console_script_end_to_end(tmp_path, voice_file, music_track):
    """The real entry point in a fresh process: default output name beside the input, report and stems."""
    digest = sha256(voice_file)
    report = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "moodmix", "mix", str(voice_file), "--music", str(music_track), "--report",
         str(report), "--stems", str(tmp_path / "stems"), "--no-emotion", "--preset", "vlog"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    out = tmp_path / "voice.moodmix.flac"
    assert out.exists()
    rep = json.loads(report.read_text())
    assert rep["output"]["path"] == str(out)
    assert rep["music"]["rule"] == "forced" and rep["mix"]["preset"] == "vlog"
    assert rep["speech"]["found"] and rep["emotion"] is None
    assert set(rep["timings_s"]) >= {"decode", "vad", "select", "mix", "render", "total"}
    assert (tmp_path / "stems" / "voice.wav").exists() and (tmp_path / "stems" / "music.wav").exists()
    assert sha256(voice_file) == digest


@pytest.mark.parametrize("case", ["help piped to head", "output under a file", "usage error"])
def test_errors_reaching_the_cli_print_no_traceback(tmp_path: Path, case: str) -> None:
    """Regression: the CLI caught typer._click.exceptions.Abort, which typer 0.29 does not have, so every error that
    reached that clause (a closed pipe, an OSError) ended in a 49-line AttributeError traceback."""
    cmd = f"{sys.executable} -m moodmix"
    if case == "help piped to head":
        line, want = f"{cmd} --help | head -1", None
    elif case == "output under a file":
        (tmp_path / "f").touch()
        line, want = (f"{cmd} mix samples/voice.flac -o {tmp_path / 'f' / 'x.wav'} --no-emotion --mood calm", 1)
    else:
        line, want = f"{cmd} mix --bogus", 2
    out = subprocess.run(["bash", "-c", line], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                         check=False)
    assert "Traceback" not in out.stderr and "AttributeError" not in out.stderr, out.stderr[-2000:]
    if want is not None:
        assert out.returncode == want
        assert len(out.stderr.strip().splitlines()) <= 6


def test_summary_line_names_the_mood_the_track_and_its_credit(capsys, voice_file, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """One line in plain words: the mood heard (or asked for), the track with its credit, loudness, time; no rule
    names (they stay in the report)."""
    code, err = _run(capsys, str(voice_file), "-o", str(tmp_path / "o.wav"), "--mood", "calm")
    assert code == 0, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"{tmp_path / 'o.wav'}: mood 'calm' · '"), line
    assert "immich-memories-music, MIT" in line and "LUFS" in line
    for jargon in ("intersection", "music_cluster", "emotion_cluster", "nearest", "forced"):
        assert jargon not in line, line


def test_help_shows_on_off_flags_without_a_bool_value(capsys) -> None:  # type: ignore[no-untyped-def]
    import os

    os.environ.setdefault("COLUMNS", "120")
    with pytest.raises(SystemExit):
        main(["mix", "--help"])
    out = capsys.readouterr().out
    for on, off in (("--follow-mood", "--no-follow-mood"), ("--separate", "--no-separate"),
                    ("--emotion", "--no-emotion")):
        assert on in out and off in out, on
        assert not any(off in line and "<bool>" in line for line in out.splitlines()), on
