"""The shipped voice emotion model: level invariance, real EmoDB behaviour, errors, the weights file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from models.types import LABELS
from models.voice_emotion import (
    DEFAULT_WEIGHTS,
    EMODB_CLASSES,
    FEATURE_NAMES,
    estimate_from_class_probs,
    load_voice_model,
    voice_features,
)
from moodmix.errors import InvalidAudioError, ModelLoadError
from tests.conftest import emodb_manifest


def _clip(emodb_dir: Path, emotion: str, speaker: str = "03", k: int = 0) -> tuple[np.ndarray, int]:
    rows = [r for r in emodb_manifest() if r["emotion"] == emotion and r["speaker"] == speaker]
    y, sr = sf.read(emodb_dir / rows[k]["path"], dtype="float32")
    return y[None, :], sr


def test_weights_are_small_plain_arrays_matching_the_features() -> None:
    assert DEFAULT_WEIGHTS.stat().st_size < 2_000_000
    with np.load(DEFAULT_WEIGHTS, allow_pickle=False) as z:  # no pickle needed to read them
        assert tuple(str(x) for x in z["feature_names"]) == FEATURE_NAMES
        assert z["coef"].shape == (len(EMODB_CLASSES), len(FEATURE_NAMES))


@pytest.mark.parametrize("gain_db", [-30.0, -12.0, 6.0, 12.0])
def test_features_and_prediction_are_level_invariant(emodb_dir: Path, gain_db: float) -> None:
    audio, sr = _clip(emodb_dir, "anger")
    g = np.float32(10 ** (gain_db / 20))
    f0, f1 = voice_features(audio, sr), voice_features(audio * g, sr)
    assert f0 is not None and f1 is not None
    np.testing.assert_allclose(f1, f0, rtol=1e-3, atol=1e-2)
    model = load_voice_model("default")
    e0, e1 = model.predict(audio, sr), model.predict(audio * g, sr)
    assert e1.top() == e0.top()
    for k in LABELS:
        assert e1.labels[k] == pytest.approx(e0.labels[k], abs=1e-3)
    assert e1.arousal == pytest.approx(e0.arousal, abs=1e-3)


def test_a_quieter_microphone_with_its_own_noise_floor_does_not_flip_the_result(emodb_dir: Path, rng) -> None:
    model = load_voice_model("default")
    for emotion in ("anger", "sadness"):
        audio, sr = _clip(emodb_dir, emotion)
        quiet = audio * np.float32(10 ** (-24 / 20))
        quiet = quiet + np.float32(10 ** (-70 / 20)) * rng.standard_normal(quiet.shape).astype(np.float32)
        a, b = model.predict(audio, sr), model.predict(quiet, sr)
        assert b.top() == a.top()
        assert np.sign(b.arousal) == np.sign(a.arousal)


def test_rate_and_channels_do_not_change_the_judgement(emodb_dir: Path) -> None:
    import soxr

    audio, sr = _clip(emodb_dir, "happiness")
    model = load_voice_model("default")
    a = model.predict(audio, sr)
    up = soxr.resample(audio[0], sr, 48000).astype(np.float32)
    b = model.predict(np.stack([up, up]), 48000)
    assert b.top() == a.top()
    assert b.valence == pytest.approx(a.valence, abs=0.1)


def test_angry_voice_is_aroused_and_sad_voice_is_not(emodb_dir: Path) -> None:
    model = load_voice_model("default")
    for speaker in ("03", "10", "16"):
        angry = model.predict(*_clip(emodb_dir, "anger", speaker))
        sad = model.predict(*_clip(emodb_dir, "sadness", speaker))
        assert angry.arousal > 0.2 > sad.arousal
        assert angry.labels["anger"] > sad.labels["anger"]
        assert sad.labels["sadness"] > angry.labels["sadness"]


@pytest.mark.slow
def test_training_recipe_generalises_to_an_unseen_speaker(emodb_dir: Path) -> None:
    """Train on nine speakers with the training script's recipe, judge the tenth's high/low arousal clips."""
    from models.training.train_voice_emotion import AROUSAL_HIGH, fit_final, load_emodb_features
    from models.voice_emotion import ShippedVoiceModel, _LinearWeights

    X, y, g = load_emodb_features(emodb_dir)
    w = fit_final(X[g != "03"], y[g != "03"], 0.1)
    model = ShippedVoiceModel(_LinearWeights(w["mean"], w["scale"], w["coef"], w["intercept"],
                                             tuple(str(c) for c in w["classes"])))
    probs = model.class_probs(X[g == "03"])
    truth = np.array([EMODB_CLASSES[i] in AROUSAL_HIGH for i in y[g == "03"]])
    pred = np.array([estimate_from_class_probs(p, model._w.classes).arousal > 0 for p in probs])
    assert np.mean(pred == truth) > 0.75  # LOSO figure is ~0.9; chance is ~0.55


def test_silence_and_too_little_speech_give_a_flagged_neutral(speech_fn, rng) -> None:
    model = load_voice_model("default")
    assert model.predict(np.zeros((1, 32000), np.float32), 16000).neutral
    assert voice_features(np.zeros((1, 32000), np.float32), 16000) is None
    blip = speech_fn(16000, 2.0, bursts=[(1.0, 1.1)], rng=rng)
    assert model.predict(blip, 16000).neutral
    est = model.predict(speech_fn(16000, 3.0, bursts=[(0.2, 2.8)], rng=rng), 16000)
    assert not est.neutral and sum(est.labels.values()) == pytest.approx(1.0)


def test_long_speech_is_judged_in_windows(emodb_dir: Path) -> None:
    audio, sr = _clip(emodb_dir, "anger")
    long = np.concatenate([audio] * 6, axis=1)  # 12 s → three windows
    model = load_voice_model("default")
    assert model.predict(long, sr).top() == model.predict(audio, sr).top()


def test_bad_audio_is_refused() -> None:
    model = load_voice_model("default")
    with pytest.raises(InvalidAudioError, match="NaN"):
        model.predict(np.full((1, 16000), np.nan, np.float32), 16000)
    with pytest.raises(InvalidAudioError, match="shape"):
        model.predict(np.zeros((1, 2, 16000), np.float32), 16000)
    with pytest.raises(InvalidAudioError, match="sample rate"):
        model.predict(np.zeros((1, 16000), np.float32), 0)


def test_label_map_of_class_probabilities() -> None:
    anger = estimate_from_class_probs(np.eye(len(EMODB_CLASSES))[EMODB_CLASSES.index("anger")])
    assert anger.top() == "anger" and anger.valence < -0.5 and anger.arousal > 0.5
    assert anger.confidence > 0.9
    bored = estimate_from_class_probs(np.eye(len(EMODB_CLASSES))[EMODB_CLASSES.index("boredom")])
    assert bored.top() == "sadness" and bored.arousal < -0.4
    neutral = estimate_from_class_probs(np.eye(len(EMODB_CLASSES))[EMODB_CLASSES.index("neutral")])
    assert neutral.confidence == pytest.approx(0.0) and abs(neutral.valence) < 0.2
    flat = estimate_from_class_probs(np.full(len(EMODB_CLASSES), 1.0))
    assert flat.confidence == pytest.approx(0.0, abs=1e-6)


def test_unloadable_weights_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="missing.npz"):
        load_voice_model(str(tmp_path / "missing.npz"))
    bad = tmp_path / "bad.npz"
    np.savez(bad, coef=np.zeros(3))
    with pytest.raises(ModelLoadError, match="bad.npz"):
        load_voice_model(str(bad))
