"""Typed text that is not English gets a clear refusal from the English text model, never a silent English guess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import UnsupportedLanguageError
from models.emotion_pass import EmotionSettings, check_text_language
from models.text_language import detect_text_language
from tests.moodmix.test_cli_emotions import run_cli

ZAIKA = "Трусишка зайка серенький под елочкой плясал"


@pytest.mark.parametrize("text, language", [
    (ZAIKA, "ru"),
    ("Я тебя люблю", ""),  # three Cyrillic words: the script is certain, langid's language a guess (uk 0.34)
    ("Ich bin heute so glücklich, das ist der beste Tag meines Lebens.", "de"),
    ("Je suis tellement triste aujourd'hui.", "fr"),
    ("Estoy muy enojado contigo.", "es"),
    ("今日はとても嬉しい", "ja"),
])
def test_other_languages_are_seen(text: str, language: str) -> None:
    found = detect_text_language(text)
    assert not found.english
    assert found.language == language or not language


@pytest.mark.parametrize("text", [
    "I love you", "This is terrifying, I'm scared", "ok", "lol", "Thanks!", "Wow", "Most valuable comment",
    "HOLY SHIT CHANCE", "Bravo!", "Danke!", "Gracias amigo", "", "   ", "123 !!!", "I ❤ you",
])
def test_short_english_and_borrowed_words_are_not_false_alarms(text: str) -> None:
    assert detect_text_language(text).english


def test_check_names_the_language_and_the_way_out() -> None:
    with pytest.raises(UnsupportedLanguageError, match=r"looks Russian \(ru, Cyrillic script\).*--text-model NAME"):
        check_text_language(ZAIKA)
    with pytest.raises(UnsupportedLanguageError, match=r"is in Cyrillic script \(perhaps "):
        check_text_language("Я тебя люблю")
    with pytest.raises(UnsupportedLanguageError, match=r"looks German \(de, probability 1\.00\)"):
        check_text_language("Ich bin heute so glücklich, das ist der beste Tag meines Lebens.")
    check_text_language("I love you")
    check_text_language(ZAIKA, settings=EmotionSettings(text_model="some-org/xlm-roberta-emotion"))  # multilingual


def test_cli_refuses_non_english_text_in_one_line(tmp_path: Path) -> None:
    out = run_cli("--text", ZAIKA, cwd=tmp_path)
    assert out.returncode == 1 and out.stdout == ""
    err = out.stderr.strip()
    assert err.count("\n") == 0 and err.startswith("moodmix: error: ")
    assert "Russian (ru" in err and "--text-model NAME" in err and "multilingual" in err


@pytest.mark.model
@pytest.mark.slow
def test_cli_json_gives_an_error_object_and_still_judges_the_english(tmp_path: Path) -> None:
    out = run_cli("--text", ZAIKA, "--text", "I love you so much", "--json", cwd=tmp_path)
    assert out.returncode == 1  # one input failed; the other was still judged
    russian, english = [json.loads(x) for x in out.stdout.strip().splitlines()]
    assert russian["input"] == ZAIKA and "Russian" in russian["error"] and "labels" not in russian
    assert english["input"] == "I love you so much" and max(english["labels"], key=english["labels"].get) == "love"


def test_suggest_refuses_non_english_text_the_same_way(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-m", "moodmix", "suggest", "--text", ZAIKA, "--json"], cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(repo), "HF_HUB_OFFLINE": "1"}, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 1
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["input"] == ZAIKA and "Russian (ru" in result["error"] and "--text-model" in result["error"]
