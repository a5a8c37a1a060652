"""`moodmix suggest`: JSON Lines per DESIGN.md, text and voice inputs, folder libraries, errors per input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from moodmix.cli import main

pytestmark = [pytest.mark.model, pytest.mark.ffmpeg]

SR = 22050


def _music(bpm: float, minor: bool, loud: float, seconds: float = 8.0) -> np.ndarray:
    """Chord pads plus a kick-like pulse at ``bpm``: float32 (1, n)."""
    n = int(SR * seconds)
    t = np.arange(n) / SR
    root = 220.0
    third = root * 2 ** ((3 if minor else 4) / 12)
    pad = sum(np.sin(2 * np.pi * f * t) for f in (root / 2, root, third, root * 1.5))
    beat = np.zeros(n)
    period = int(SR * 60 / bpm)
    kick_t = np.arange(int(0.08 * SR)) / SR
    kick = np.sin(2 * np.pi * 60 * kick_t) * np.exp(-kick_t / 0.03)
    for s in range(0, n - kick.size, period):
        beat[s:s + kick.size] += kick
    # a calm track is soft throughout, a lively one loud: the pads follow the pulse's level (a peak-normalised
    # mix would make the near-silent pulse's pads the loudest track of the three)
    x = 0.2 * (0.15 + 0.85 * loud) * pad / 4 + 0.7 * loud * beat
    return np.clip(x, -0.99, 0.99).astype(np.float32)[None, :]


@pytest.fixture(scope="module")
def _music_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three generated tracks in mood folders (analysed once per module through the folder catalog)."""
    tmp_path = tmp_path_factory.mktemp("suggest")
    root = tmp_path / "music"
    for name, (bpm, minor, loud) in {"calm/soft.wav": (66, False, 0.05), "energetic/drive.wav": (140, True, 1.0),
                                     "happy/bright.wav": (118, False, 0.6)}.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, _music(bpm, minor, loud).T, SR)
    return root


@pytest.fixture
def music_folder(_music_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MOODMIX_HOME", str(_music_root.parent / "home"))
    return _music_root


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ex:
        main(["suggest", *args])
    out = capsys.readouterr()
    return int(ex.value.code or 0), out.out, out.err


def test_text_json_lines(capsys, music_folder) -> None:  # type: ignore[no-untyped-def]
    code, out, err = _run(capsys, "--text", "This is outrageous, I am furious with them!", "--library",
                          str(music_folder), "--json", "-n", "2", "--seed", "1")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    assert obj["input"].startswith("This is outrageous")
    assert set(obj["emotion"]["labels"]) == {"sadness", "joy", "love", "anger", "fear", "surprise"}
    assert len(obj["suggestions"]) == 2
    s = obj["suggestions"][0]
    assert {"track", "title", "path", "features", "emotion_cluster", "music_cluster", "rule", "reasons"} <= set(s)
    assert Path(s["path"]).is_file() and s["reasons"]
    assert s["rule"] in ("intersection", "music_cluster", "emotion_cluster", "nearest")


def test_text_file_in_order_and_mood_words(capsys, music_folder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "lines.txt"
    f.write_text("We won, best day ever!\n\nI miss her so much, I feel so alone.\n")
    code, out, err = _run(capsys, "--text-file", str(f), "--library", str(music_folder), "--json", "-n", "1")
    assert code == 0, err
    objs = [json.loads(x) for x in out.strip().splitlines()]
    assert [o["input"] for o in objs] == ["We won, best day ever!", "I miss her so much, I feel so alone."]
    happy, sad = (o["suggestions"][0]["features"] for o in objs)
    assert happy["energy"] > sad["energy"]
    # human-readable output names the track and its reasons
    code, out, _ = _run(capsys, "--text", "calm evening by the lake", "--library", str(music_folder), "-n", "1")
    assert code == 0 and "emotion:" in out and "BPM" in out


def test_unknown_mood_is_an_error_object(capsys, music_folder) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = _run(capsys, "--text", "hello", "--library", str(music_folder), "--json", "--mood", "zzz")
    obj = json.loads(out.strip())
    assert code == 1 and "unknown mood 'zzz'" in obj["error"] and obj["input"] == "hello"


def test_no_input_is_one_line_error(capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = _run(capsys)
    assert code == 1 and "exactly one of them" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, "--text", "x", "-n", "0")
    assert code == 1 and "-n expects" in err


@pytest.mark.slow
def test_voice_inputs_with_a_bad_one(capsys, music_folder, tmp_path, emodb_speech) -> None:  # type: ignore[no-untyped-def]
    audio, sr = emodb_speech
    voice = tmp_path / "voice.flac"
    sf.write(voice, audio[:, : int(8 * sr)].T, sr)
    code, out, _ = _run(capsys, str(tmp_path / "missing.wav"), str(voice), "--library", str(music_folder),
                        "--json", "-n", "3")
    objs = [json.loads(x) for x in out.strip().splitlines()]
    assert code == 1
    assert objs[0]["input"].endswith("missing.wav") and "error" in objs[0]
    assert objs[1]["input"] == str(voice) and len(objs[1]["suggestions"]) == 3
    assert objs[1]["emotion"]["sources"]["voice"]


@pytest.mark.slow
def test_the_cheerful_demo_sample_gets_a_bright_lively_track(capsys: pytest.CaptureFixture[str]) -> None:
    """samples/voice.flac is espeak-ng: its voice is unlike any trained voice, so its happy words decide the mood,
    and the built-in library's pick is bright (major, not from the calm or nostalgic folders) with a happy or
    energetic track among the first two (a lively, positive voice: arousal about 0.3)."""
    sample = Path(__file__).resolve().parents[2] / "samples" / "voice.flac"
    with pytest.raises(SystemExit) as done:
        main(["suggest", str(sample), "--json", "-n", "3"])
    assert done.value.code in (0, None)
    obj = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    emotion = obj["emotion"]
    assert max(emotion["labels"], key=emotion["labels"].get) in ("joy", "love")
    assert emotion["valence"] > 0.3
    assert emotion["sources"]["voice"]["confidence"] < 0.3  # the synthetic voice leaves it to the words
    top, second = obj["suggestions"][:2]
    # a bright pick, neither sleepy nor dark, and a happy or energetic track among the first two
    assert not any(f"/{mood}/" in top["path"] for mood in ("calm", "nostalgic")), top["path"]
    assert top["features"]["mode"] == 1
    assert any(f"/{mood}/" in s["path"] for s in (top, second) for mood in ("happy", "energetic")), (top, second)
