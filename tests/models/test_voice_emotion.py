"""The voice emotion models: the default head on the Whisper encoder (real EmoDB behaviour, out-of-domain voices,
packing) and the previous 82-statistic model (exact level invariance), errors, the weights files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.errors import InvalidAudioError, ModelLoadError
from models.types import LABELS
from models.voice_emotion import (
    DEFAULT_WEIGHTS,
    EMODB_CLASSES,
    ENCODER_WEIGHTS,
    FEATURE_NAMES,
    PACK_GAP_S,
    EncoderVoiceModel,
    estimate_from_class_probs,
    load_voice_model,
    pack_pieces,
    voice_features,
    window_audio,
)
from models.voice_input import SR
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
def test_statistics_and_their_prediction_are_level_invariant(emodb_dir: Path, gain_db: float) -> None:
    audio, sr = _clip(emodb_dir, "anger")
    g = np.float32(10 ** (gain_db / 20))
    f0, f1 = voice_features(audio, sr), voice_features(audio * g, sr)
    assert f0 is not None and f1 is not None
    np.testing.assert_allclose(f1, f0, rtol=1e-3, atol=1e-2)
    model = load_voice_model("stats")
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
def test_statistics_recipe_generalises_to_an_unseen_speaker(emodb_dir: Path) -> None:
    """Train on nine speakers with the 82-statistic recipe, judge the tenth's high/low arousal clips."""
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


@pytest.mark.parametrize("gain_db", [-20.0, -6.0, 12.0])
def test_default_model_holds_its_judgement_across_levels(emodb_dir: Path, gain_db: float) -> None:
    """Whisper's log-mel is not level-invariant by construction; the head was trained over ±20 dB."""
    model = load_voice_model("default")
    for emotion in ("anger", "sadness"):
        audio, sr = _clip(emodb_dir, emotion)
        e0 = model.predict(audio, sr)
        e1 = model.predict(audio * np.float32(10 ** (gain_db / 20)), sr)
        assert e1.top() == e0.top()
        assert e1.arousal == pytest.approx(e0.arousal, abs=0.2)


def test_default_is_the_whisper_encoder_head_and_the_others_stay_reachable() -> None:
    assert isinstance(load_voice_model("default"), EncoderVoiceModel)
    assert load_voice_model("default").encoder_name == "tiny.en"
    assert load_voice_model("stats").name == "stats"
    for setting in ("whisper-base", "whisper-tiny"):
        assert isinstance(load_voice_model(setting), EncoderVoiceModel)
    assert load_voice_model("default").use_stats and not load_voice_model("whisper-tiny").use_stats
    assert ENCODER_WEIGHTS.stat().st_size < 2_000_000
    with np.load(ENCODER_WEIGHTS, allow_pickle=False) as z:
        assert "EmoDB" in str(z["training_data"])
        assert z["coef"].shape == (len(EMODB_CLASSES), 768 + len(FEATURE_NAMES))
        assert z["ood_precision"].shape == (768 + len(FEATURE_NAMES),) * 2


def test_pieces_are_packed_into_windows_in_order() -> None:
    windows = pack_pieces([10.0, 10.0, 10.0, 2.0, 30.0, 1.0])
    assert [[i for i, _ in w] for w in windows] == [[0, 1], [2, 3], [4], [5]]
    assert windows[0][1][1] == pytest.approx(10.0 + PACK_GAP_S)
    pieces = [np.full(int(d * SR), k + 1, np.float32) for k, d in enumerate([1.0, 0.5])]
    audio = window_audio(pieces, [(0, 0.0), (1, 1.0 + PACK_GAP_S)])
    assert audio.size == int((1.5 + 2 * PACK_GAP_S) * SR)
    assert audio[int(0.5 * SR)] == 1 and audio[int(1.1 * SR)] == 0 and audio[int((1.0 + PACK_GAP_S + 0.1) * SR)] == 2


def test_packed_pieces_are_judged_like_single_ones(emodb_dir: Path) -> None:
    """Packing six clips into one window (as the emotion pass does) keeps each clip's own judgement."""
    model = load_voice_model("default")
    clips = [_clip(emodb_dir, e, "10") for e in ("anger", "sadness", "happiness", "anger", "boredom", "sadness")]
    together = model.predict_many([a for a, _ in clips], clips[0][1])
    alone = [model.predict(a, sr) for a, sr in clips]
    assert sum(t.top() == a.top() for t, a in zip(together, alone)) >= 5
    assert together[0].arousal > 0.2 > together[1].arousal


ESPEAK_SCRIPTS = {
    "happy": "Hello everyone! I am so happy you are here today, this is going to be a wonderful show.",
    "sad": "I miss my old friend so much. Everything feels grey and empty since he left.",
    "angry": "I am furious! They lied to me again and I will not accept it any more!",
}


@pytest.mark.slow
@pytest.mark.parametrize("voice", ["en-us", "en-gb+f3", "en+m3", "de"])
def test_synthetic_voices_never_sound_confidently_angry(tmp_path: Path, voice: str) -> None:
    """espeak-ng speech is unlike any trained voice: low confidence or another label, so the words decide."""
    import shutil
    import subprocess

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (scripts/services.sh installs it)")
    model = load_voice_model("default")
    for name, text in ESPEAK_SCRIPTS.items():
        wav = tmp_path / f"{name}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True, capture_output=True)
        audio, sr = sf.read(wav, dtype="float32")
        est = model.predict(audio[None, :], sr)
        assert est.confidence <= 0.3 or est.top() != "anger", (voice, name, est)


def test_emodb_voices_keep_their_confidence(emodb_dir: Path) -> None:
    """The out-of-domain measure does not mute the voices the model knows."""
    model = load_voice_model("default")
    confs = [model.predict(*_clip(emodb_dir, "anger", spk)).confidence for spk in ("03", "08", "15")]
    assert np.median(confs) > 0.4
