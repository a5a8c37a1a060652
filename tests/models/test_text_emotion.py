"""Text → emotion: the shipped fine-tuned MiniLM, the previous embedding head, and the transformers route with tiny
local models."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelLoadError
from models.text_emotion import (
    CLASSES,
    GOEMOTIONS_TO_SIX,
    HEAD_PATH,
    TEXT_MODEL_META,
    TEXT_MODEL_PATH,
    FineTunedTextModel,
    estimate_from_scores,
    load_text_model,
)
from models.types import LABELS

CLEAR = {
    "joy": ["I am so happy and excited, this is the best day of my life!",
            "We won the championship, I'm absolutely thrilled and laughing!"],
    "love": ["I love you so much, my darling, you mean everything to me.",
             "I adore my family and care about them with all my heart."],
    "sadness": ["I feel so sad and lonely since my dog died.",
                "I'm heartbroken, I miss her every single day and keep crying."],
    "anger": ["I am furious, this is outrageous and I hate the way they treated us!",
              "Stop lying to me, you make me so angry I could scream."],
    "fear": ["I'm terrified that something bad will happen to us tonight.",
             "I am scared and so anxious about the surgery tomorrow."],
    "surprise": ["Wow, I did not expect that at all, what a shock!",
                 "Wait, really? I can't believe it, that is astonishing."],
}


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def default_model():
    return load_text_model("default")


def _check_estimate(est) -> None:
    assert set(est.labels) == set(LABELS)
    assert sum(est.labels.values()) == pytest.approx(1.0, abs=1e-6)
    assert all(0.0 <= p <= 1.0 for p in est.labels.values())
    assert -1.0 <= est.valence <= 1.0 and -1.0 <= est.arousal <= 1.0
    assert 0.0 <= est.confidence <= 1.0


@pytest.mark.model
def test_clear_sentences_get_their_label(default_model) -> None:
    texts = [t for label in LABELS for t in CLEAR[label]]
    truth = [label for label in LABELS for _ in CLEAR[label]]
    ests = default_model.predict(texts)
    for est in ests:
        _check_estimate(est)
        assert not est.neutral
    tops = [e.top() for e in ests]
    correct = sum(t == p for t, p in zip(truth, tops))
    assert correct >= 10, list(zip(truth, tops))
    for label in LABELS:  # every label is reachable
        assert label in tops, f"no clear {label} sentence was recognised: {list(zip(truth, tops))}"


@pytest.mark.model
def test_valence_follows_the_circumplex(default_model) -> None:
    happy, sad, angry = default_model.predict([CLEAR["joy"][0], CLEAR["sadness"][0], CLEAR["anger"][0]])
    assert happy.valence > 0.2 > -0.2 > sad.valence
    assert angry.arousal > sad.arousal


@pytest.mark.model
def test_empty_text_is_flagged_neutral_and_order_is_kept(default_model) -> None:
    ests = default_model.predict(["", "   \n\t", CLEAR["anger"][0], ""])
    for i in (0, 1, 3):
        assert ests[i].neutral
        assert ests[i].confidence == 0.0
        assert ests[i].valence == 0.0 and ests[i].arousal == 0.0
        assert all(p == pytest.approx(1 / 6) for p in ests[i].labels.values())
    assert not ests[2].neutral and ests[2].top() == "anger"
    assert default_model.predict([]) == []


@pytest.mark.model
def test_matter_of_fact_text_has_low_confidence(default_model) -> None:
    emotional = default_model.predict([t for label in LABELS for t in CLEAR[label]])
    plain = default_model.predict(["The meeting is at three in room two hundred and four.",
                                   "Turn left at the second street, then take the bus number twelve."])
    assert max(e.confidence for e in plain) < np.median([e.confidence for e in emotional])
    for e in plain:
        _check_estimate(e)
        assert abs(e.valence) < 0.35 and abs(e.arousal) < 0.35


@pytest.mark.model
def test_model_is_loaded_once_per_process() -> None:
    assert load_text_model("default") is load_text_model("default")


def test_predict_refuses_a_bare_string(default_model) -> None:
    with pytest.raises(TypeError, match="sequence of texts"):
        default_model.predict("I am happy")


def test_shipped_head_is_small_plain_arrays_in_label_order() -> None:
    assert HEAD_PATH.stat().st_size < 100_000
    with np.load(HEAD_PATH, allow_pickle=False) as z:  # no pickle needed
        assert z["coef"].shape == (6, 384) and z["neutral_coef"].shape == (384,)
        assert sorted(str(x) for x in z["labels"]) == sorted(LABELS)
    meta = json.loads(HEAD_PATH.with_suffix(".json").read_text())
    # the first release's map (admiration → love, gratitude → joy): the head's figures were taken with it
    assert meta["test"]["macro_f1"] > 0.4 and set(meta["goemotions_to_six"]) == set(GOEMOTIONS_TO_SIX)


def test_goemotions_map_covers_all_27_labels_onto_the_six() -> None:
    shared = Path(os.environ.get("MOODMIX_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
    labels_txt = shared / "goemotions" / "original" / "labels.txt"
    if labels_txt.exists():
        assert set(labels_txt.read_text().split()) == set(GOEMOTIONS_TO_SIX)
    assert len(GOEMOTIONS_TO_SIX) == 28
    assert {v for v in GOEMOTIONS_TO_SIX.values() if v} == set(LABELS)
    assert GOEMOTIONS_TO_SIX["neutral"] is None


def test_estimate_from_scores_flattens_neutral_text_but_keeps_the_argmax() -> None:
    p6 = np.array([0.05, 0.7, 0.1, 0.05, 0.05, 0.05])
    sure, unsure = estimate_from_scores(p6, 1.0), estimate_from_scores(p6, 0.2)
    assert sure.top() == unsure.top() == "joy"
    assert unsure.labels["joy"] < sure.labels["joy"]
    assert unsure.confidence == pytest.approx(0.2 * 0.7)
    assert abs(unsure.valence) == pytest.approx(0.2 * abs(sure.valence))


# --- transformers route, with tiny randomly initialised BERTs built here --------------------------------------

WORDS = ["i", "am", "so", "happy", "sad", "angry", "scared", "love", "you", "wow", "what", "this", "is", "the", "a", "day", "and", "not"]


def _tiny_bert(folder: Path, labels: list[str], *, bias: dict[str, float] | None = None,
               multi_label: bool = False) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, "##s", "##y"]) + "\n")
    tokenizer = BertTokenizer(str(vocab))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(WORDS) + 7, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, num_labels=len(labels),
                        id2label=dict(enumerate(labels)), label2id={k: i for i, k in enumerate(labels)},
                        problem_type="multi_label_classification" if multi_label else None)
    model = BertForSequenceClassification(config)
    if bias:
        with torch.no_grad():
            model.classifier.weight.mul_(0.01)
            for name, value in bias.items():
                model.classifier.bias[labels.index(name)] = value
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.model
def test_tiny_local_transformers_model_maps_labels_by_name(tmp_path: Path) -> None:
    # Six labels in a different order than LABELS: the mapping must follow the names, not the positions.
    order = ["joy", "fear", "surprise", "sadness", "love", "anger"]
    path = _tiny_bert(tmp_path / "six", order, bias={"fear": 8.0})
    model = load_text_model(str(path))
    assert model is load_text_model(str(path))
    ests = model.predict(["i am so happy", "", "what a day"])
    assert ests[1].neutral
    for e in (ests[0], ests[2]):
        _check_estimate(e)
        assert e.top() == "fear" and e.labels["fear"] > 0.9
        assert e.confidence > 0.9


@pytest.mark.model
def test_tiny_model_with_neutral_and_other_label_sets(tmp_path: Path) -> None:
    # An Ekman-style set with disgust and neutral (e.g. j-hartmann's): neutral mass lowers the confidence.
    ekman = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
    model = load_text_model(str(_tiny_bert(tmp_path / "ekman", ekman, bias={"neutral": 6.0, "disgust": 3.0})))
    (est,) = model.predict(["this is not a happy day"])
    _check_estimate(est)
    assert est.top() == "anger"  # disgust folds into anger
    assert est.confidence < 0.2
    assert abs(est.valence) < 0.2
    # GoEmotions names, multi-label head (sigmoid).
    go = ["admiration", "caring", "grief", "nervousness", "neutral"]
    model = load_text_model(str(_tiny_bert(tmp_path / "go", go, bias={"grief": 6.0}, multi_label=True)))
    assert model.predict(["i love you"])[0].top() == "sadness"


@pytest.mark.model
def test_tiny_model_with_generic_labels_reads_the_dair_ai_order(tmp_path: Path) -> None:
    generic = [f"LABEL_{i}" for i in range(6)]
    model = load_text_model(str(_tiny_bert(tmp_path / "generic", generic, bias={"LABEL_3": 8.0})))
    assert model.predict(["i am so angry"])[0].top() == LABELS[3] == "anger"


@pytest.mark.model
def test_unmappable_labels_are_a_model_load_error(tmp_path: Path) -> None:
    path = _tiny_bert(tmp_path / "spam", ["spam", "ham"])
    with pytest.raises(ModelLoadError, match=r"labels \['spam', 'ham'\].*map onto none"):
        load_text_model(str(path))


@pytest.mark.parametrize("setting", ["missing-folder", "not-a-model-folder", "no-such-org/no-such-emotion-model"])
def test_bad_model_setting_names_the_setting(tmp_path: Path, setting: str) -> None:
    if setting == "missing-folder":
        setting = str(tmp_path / "nowhere" / "model")
    elif setting == "not-a-model-folder":
        (tmp_path / "empty").mkdir()
        setting = str(tmp_path / "empty")
    with pytest.raises(ModelLoadError, match="text model setting '" + setting.replace(".", r"\.") + "'"):
        load_text_model(setting)


@pytest.mark.model
def test_default_model_loads_and_runs_with_the_network_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*_a, **_k):
        raise OSError("network access attempted during an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    model = load_text_model.__wrapped__("default")  # bypass the per-process cache: really load it again
    assert model.predict([CLEAR["fear"][0]])[0].top() == "fear"


CHECK_SET = Path(__file__).resolve().parents[1] / "data" / "text_emotion_check.tsv"


def _check_rows() -> list[tuple[str, str, str]]:
    lines = CHECK_SET.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == ["label", "kind", "text"]
    return [tuple(line.split("\t")) for line in lines[1:] if line.strip()]  # type: ignore[misc]


def test_check_set_is_large_and_balanced() -> None:
    rows = _check_rows()
    for label in LABELS:
        assert sum(1 for lab, kind, _ in rows if lab == label and kind == "plain") >= 25
    assert sum(1 for lab, _, _ in rows if lab == "neutral") >= 25
    assert {kind for _, kind, _ in rows} == {"plain", "negation", "intensity"}
    assert len({t for _, _, t in rows}) == len(rows)  # no duplicates


@pytest.mark.model
def test_check_set_top_label_is_right_for_most(default_model) -> None:
    """Plain creator-language sentences written here (never trained on): the top label is right for most.

    Measured 0.885 with the shipped model (benchmarks/eval_text_emotion.py); the goal is 0.90 and not met yet
    (love, warmth towards someone, is still read as joy in 4 of 29). This guards against falling back.
    """
    rows = [r for r in _check_rows() if r[0] != "neutral"]
    ests = default_model.predict([t for _, _, t in rows])
    wrong = [(lab, e.top(), t) for (lab, _, t), e in zip(rows, ests) if e.top() != lab]
    assert 1 - len(wrong) / len(rows) >= 0.85, wrong
    # negation and intensity are part of it, and are not left to chance either
    for kind in ("negation", "intensity"):
        sub = [(lab, e.top()) for (lab, k, _), e in zip(rows, ests) if k == kind]
        assert sum(a == b for a, b in sub) / len(sub) >= 0.75, (kind, sub)


@pytest.mark.model
def test_matter_of_fact_sentences_are_flagged_neutral(default_model) -> None:
    rows = [r for r in _check_rows() if r[0] == "neutral"]
    ests = default_model.predict([t for _, _, t in rows])
    flagged = [e.neutral for e in ests]
    assert sum(flagged) / len(flagged) >= 0.8, [(t, round(e.confidence, 2)) for (_, _, t), e in zip(rows, ests)]
    three = default_model.predict(["The meeting is at three o'clock."])[0]
    assert three.neutral and three.confidence < 0.3


@pytest.mark.model
def test_issue_examples_are_heard_right(default_model) -> None:
    angry, won, unhappy, furious = default_model.predict([
        "I am so angry, they lied to me again", "We won the championship", "I'm not happy at all",
        "I am absolutely furious"])
    assert angry.top() == "anger" and not angry.neutral
    assert won.top() == "joy" and won.valence > 0.3
    assert unhappy.top() in ("sadness", "anger") and unhappy.valence < 0
    assert furious.top() == "anger" and furious.confidence > 0.5


def test_shipped_fine_tuned_model_is_small_checksummed_and_names_its_data() -> None:
    assert TEXT_MODEL_PATH.stat().st_size < 12_000_000  # the trained top layers + head only, float16
    meta = json.loads(TEXT_MODEL_META.read_text())
    assert meta["classes"] == list(CLASSES) and CLASSES[-1] == "neutral"
    assert "GoEmotions" in meta["training_data"]
    assert len(meta["weights_sha256"]) == 64 and len(meta["base_sha256"]) == 64
    assert meta["test"]["accuracy"] >= 0.70 and meta["test"]["macro_f1"] >= 0.65
    from safetensors import safe_open

    with safe_open(str(TEXT_MODEL_PATH), framework="pt") as f:
        keys = set(f.keys())
    assert {"head.weight", "head.bias"} <= keys
    assert all(k.startswith(("encoder.layer.", "head.")) for k in keys)
    assert not any(k.startswith("embeddings") for k in keys)  # the base ships in its own package


@pytest.mark.model
def test_damaged_weights_are_refused_by_checksum(tmp_path: Path) -> None:
    bad = tmp_path / "text_model.safetensors"
    data = bytearray(TEXT_MODEL_PATH.read_bytes())
    data[-100] ^= 0xFF
    bad.write_bytes(bytes(data))
    meta = json.loads(TEXT_MODEL_META.read_text())
    with pytest.raises(ModelLoadError, match="SHA-256"):
        FineTunedTextModel.from_files(bad, meta)


@pytest.mark.model
def test_previous_embedding_head_stays_reachable() -> None:
    model = load_text_model("minilm-head")
    assert model.name == "minilm-head"
    assert model.predict([CLEAR["sadness"][0]])[0].top() == "sadness"
