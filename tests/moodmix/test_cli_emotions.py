"""`moodmix emotions`: many inputs in one process, JSON Lines in order, errors per input, dashboards."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                **(env or {})}
    return subprocess.run([sys.executable, "-m", "moodmix", "emotions", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.model
@pytest.mark.slow
def test_many_inputs_json_lines_in_order_with_errors(tmp_path: Path, emodb_dir: Path) -> None:
    shutil.copy(emodb_dir / "03a01Wa.flac", tmp_path / "angry.flac")
    shutil.copy(emodb_dir / "03a02Ta.flac", tmp_path / "sad.flac")
    (tmp_path / "broken.wav").write_bytes(b"RIFF....not really a wav")
    out = run_cli("angry.flac", "broken.wav", "missing.mp3", "sad.flac", "--json", "--plot", "dash.png",
                  cwd=tmp_path, env={"MOODMIX_ASR_MODEL": "none"})  # env settings reach the models
    lines = [json.loads(x) for x in out.stdout.strip().splitlines()]
    assert [d["input"] for d in lines] == ["angry.flac", "broken.wav", "missing.mp3", "sad.flac"]
    assert "error" in lines[1] and "broken.wav" in lines[1]["error"]
    assert "error" in lines[2] and "does not exist" in lines[2]["error"]
    angry, sad = lines[0], lines[3]
    for d in (angry, sad):
        assert set(d["labels"]) == {"sadness", "joy", "love", "anger", "fear", "surprise"}
        assert d["timeline"] and d["models"]["voice"] == "default" and "asr" not in d["models"]
    assert angry["arousal"] > sad["arousal"]
    assert out.returncode == 1  # some inputs failed; the good ones were still reported
    assert (tmp_path / "dash.1.png").stat().st_size > 10_000
    assert (tmp_path / "dash.4.png").stat().st_size > 10_000
    assert not (tmp_path / "dash.2.png").exists()


@pytest.mark.model
@pytest.mark.slow
def test_text_file_and_text_flags(tmp_path: Path) -> None:
    (tmp_path / "lines.txt").write_text("I love you so much\n\nThis is terrifying, I'm scared\n", encoding="utf-8")
    out = run_cli("--text-file", "lines.txt", "--json", "--plot", "t.png", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.strip().splitlines()]
    assert [d["input"] for d in lines] == ["I love you so much", "", "This is terrifying, I'm scared"]
    assert max(lines[0]["labels"], key=lines[0]["labels"].get) == "love"
    assert lines[1]["neutral"] is True
    assert max(lines[2]["labels"], key=lines[2]["labels"].get) == "fear"
    assert all((tmp_path / f"t.{i}.png").exists() for i in (1, 2, 3))
    human = run_cli("--text", "I love you so much", cwd=tmp_path)
    assert human.returncode == 0 and human.stdout.startswith("'I love you so much': love")


def test_no_input_is_a_one_line_error(tmp_path: Path) -> None:
    out = run_cli(cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "--text" in out.stderr


def test_unloadable_model_setting_is_named(tmp_path: Path) -> None:
    out = run_cli("--text", "hello", "--text-model", str(tmp_path / "no-such-model"), cwd=tmp_path)
    assert out.returncode == 1
    assert "no-such-model" in out.stderr and out.stderr.startswith("moodmix: error:")
    out = run_cli("x.wav", cwd=tmp_path, env={"MOODMIX_VOICE_MODEL": str(tmp_path / "gone.npz")})
    assert out.returncode == 1 and "gone.npz" in out.stderr


@pytest.mark.model
@pytest.mark.slow
def test_emotions_and_mix_hear_the_same_mood(tmp_path: Path, emodb_dir: Path) -> None:
    """`moodmix emotions` analyses the very samples `mix` analyses (same streamed 16 kHz copy, same VAD), so the
    two report the same overall mood for the same file (voice only: no words in German for tiny.en)."""
    from models.emotion_pass import EmotionSettings
    from moodmix.commands.emotions import analyse_file
    from moodmix.pipeline import mix_file
    from moodmix.settings import JobSettings

    src = tmp_path / "angry.flac"
    shutil.copy(emodb_dir / "03a01Wa.flac", src)
    settings = EmotionSettings(asr_model="none")
    analysis, segments, _ = analyse_file(src, settings)
    report = mix_file(src, tmp_path / "out.wav", settings=JobSettings(emotion=settings, analyse_emotion=True))
    mixed = report["emotion"]
    assert [list(s) for s in segments] == [[a, b] for a, b in report["speech"]["segments"]]
    for k, v in analysis.overall.labels.items():
        assert mixed["labels"][k] == pytest.approx(v, abs=1e-3)
    assert mixed["arousal"] == pytest.approx(analysis.overall.arousal, abs=1e-3)
