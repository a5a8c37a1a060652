"""The transformers audio-classification route, with tiny randomly initialised models saved in tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelLoadError
from models.hub_audio import HubAudioEmotionModel, load_hub_audio_model, map_hub_label
from models.types import LABELS
from models.voice_emotion import load_voice_model

pytestmark = pytest.mark.model


def _tiny_w2v(tmp_path: Path, id2label: dict[int, str], name: str = "tiny") -> Path:
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    torch.manual_seed(0)
    cfg = Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2, classifier_proj_size=8, vocab_size=8,
        id2label=id2label, label2id={v: k for k, v in id2label.items()},
    )
    model = Wav2Vec2ForSequenceClassification(cfg)
    fx = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                                  return_attention_mask=False)
    out = tmp_path / name
    model.save_pretrained(out)
    fx.save_pretrained(out)
    return out


def test_superb_labels_map_onto_ours() -> None:
    assert map_hub_label("ang")[0] == {"anger": 1.0}
    assert map_hub_label("HAP")[0] == {"joy": 1.0}
    assert map_hub_label("sad")[0] == {"sadness": 1.0}
    _, va = map_hub_label("neu")
    assert abs(va[0]) < 0.2 and abs(va[1]) < 0.2
    assert map_hub_label("злость")[0] == {"anger": 1.0}  # Aniemore's Russian names
    assert map_hub_label("энтузиазм")[0]["joy"] > 0.5
    assert map_hub_label("zzz") is None


def test_tiny_local_model_predicts_through_the_settings_path(tmp_path: Path, speech_fn, rng) -> None:
    path = _tiny_w2v(tmp_path, {0: "neu", 1: "hap", 2: "ang", 3: "sad"})
    model = load_voice_model(str(path))  # the same route a user's --voice-model setting takes
    assert isinstance(model, HubAudioEmotionModel)
    assert model.labels == ["neu", "hap", "ang", "sad"]
    assert model.covers == {"joy", "anger", "sadness"}  # the complement fusion takes fear, love, surprise from words
    audio = speech_fn(16000, 2.0, bursts=[(0.2, 1.8)], rng=rng)
    est = model.predict(audio, 16000)
    assert set(est.labels) == set(LABELS)
    assert sum(est.labels.values()) == pytest.approx(1.0, abs=1e-6)
    # superb has no love/fear/surprise: only the neutral spread can give them mass, never the top label alone
    assert est.labels["anger"] + est.labels["joy"] + est.labels["sadness"] > 0.3
    assert -1.0 <= est.valence <= 1.0 and -1.0 <= est.arousal <= 1.0
    assert 0.0 <= est.confidence <= 1.0
    assert not est.neutral
    # 44.1 kHz stereo input is downmixed and resampled, giving the same judgement within resampling error
    import soxr

    stereo = np.repeat(soxr.resample(audio[0], 16000, 44100)[None, :], 2, axis=0).astype(np.float32)
    est2 = model.predict(stereo, 44100)
    assert est2.valence == pytest.approx(est.valence, abs=0.05)
    # silence → flagged neutral, no crash
    assert model.predict(np.zeros((1, 16000), np.float32), 16000).neutral


def test_russian_label_names_load(tmp_path: Path, sine_fn) -> None:
    ru = {0: "злость", 1: "отвращение", 2: "энтузиазм", 3: "страх", 4: "счастье", 5: "нейтрально", 6: "грусть"}
    model = load_hub_audio_model(str(_tiny_w2v(tmp_path, ru, "ru")))
    est = model.predict(sine_fn(16000, 220.0, 1.0), 16000)
    assert sum(est.labels.values()) == pytest.approx(1.0, abs=1e-6)


def test_model_without_emotion_labels_is_refused(tmp_path: Path) -> None:
    path = _tiny_w2v(tmp_path, {0: "dog", 1: "cat"}, "animals")
    with pytest.raises(ModelLoadError, match="animals.*none of its labels"):
        load_hub_audio_model(str(path))


def test_missing_model_names_the_setting(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError, match="no-such-model"):
        load_voice_model(str(missing))
    with pytest.raises(ModelLoadError, match="voice model setting"):
        load_voice_model("someone/not-a-real-voice-model-xyz")
