"""Any transformers audio-classification model (hub id or local path) as a voice emotion model.

Examples: ``superb/wav2vec2-base-superb-er`` (labels ``neu, hap, ang, sad``; IEMOCAP), Aniemore's Russian models
(``Aniemore/wav2vec2-xlsr-53-russian-emotion-recognition``: anger, disgust, enthusiasm, fear, happiness,
neutral, sadness — some checkpoints name them in Russian). Their labels are mapped onto the six through
:data:`HUB_LABEL_MAP`; labels with no emotional counterpart (neutral, calm, other) act through valence/arousal
only, like EmoDB's neutral in :mod:`models.voice_emotion`.

Nothing here downloads at import time; loading a hub id needs the network or a filled Hugging Face cache
(with ``HF_HUB_OFFLINE=1`` a missing model is a :class:`ModelLoadError` naming the setting).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.errors import ModelLoadError
from models.mapping import LABEL_VA, labels_from_va, normalise_labels
from models.types import LABELS, EmotionEstimate, neutral_estimate
from models.voice_input import SR, VoiceEmotionModel, as_mono16k, speech_windows

__all__ = ["HUB_LABEL_MAP", "HubAudioEmotionModel", "load_hub_audio_model", "map_hub_label"]

_NEUTRAL_VA = (0.0, -0.1)

#: Lower-cased hub label → (six-label weights, (valence, arousal)). English names, common abbreviations
#: (SUPERB/IEMOCAP, RAVDESS, CREMA-D) and the Russian names used by Aniemore checkpoints.
HUB_LABEL_MAP: dict[str, tuple[dict[str, float], tuple[float, float]]] = {}


def _add(names: Sequence[str], labels: dict[str, float], va: tuple[float, float]) -> None:
    for n in names:
        HUB_LABEL_MAP[n] = (labels, va)


_add(("ang", "anger", "angry", "злость", "гнев"), {"anger": 1.0}, LABEL_VA["anger"])
_add(("hap", "happy", "happiness", "joy", "радость", "счастье"), {"joy": 1.0}, LABEL_VA["joy"])
_add(("exc", "excited", "enthusiasm", "энтузиазм"), {"joy": 0.7, "surprise": 0.3}, (0.6, 0.65))
_add(("sad", "sadness", "грусть", "печаль"), {"sadness": 1.0}, LABEL_VA["sadness"])
_add(("fea", "fear", "fearful", "страх"), {"fear": 1.0}, LABEL_VA["fear"])
_add(("sur", "surprise", "surprised", "удивление"), {"surprise": 1.0}, LABEL_VA["surprise"])
_add(("love", "tender", "tenderness", "любовь"), {"love": 1.0}, LABEL_VA["love"])
_add(("dis", "disgust", "отвращение"), {"anger": 0.6, "sadness": 0.2, "fear": 0.2}, (-0.6, 0.35))
_add(("fru", "frustrated", "frustration"), {"anger": 0.6, "sadness": 0.4}, (-0.6, 0.3))
_add(("contempt",), {"anger": 0.7, "sadness": 0.3}, (-0.5, 0.2))
_add(("bored", "boredom"), labels_from_va(-0.35, -0.6), (-0.35, -0.6))
_add(("calm",), labels_from_va(0.3, -0.5), (0.3, -0.5))
_add(("neu", "neutral", "нейтрально", "нейтральный", "other", "oth", "xxx"), labels_from_va(*_NEUTRAL_VA),
     _NEUTRAL_VA)

_NEUTRAL_NAMES = frozenset({"neu", "neutral", "нейтрально", "нейтральный", "other", "oth", "xxx", "calm"})


def map_hub_label(label: str) -> tuple[dict[str, float], tuple[float, float]] | None:
    """The six-label weights and circumplex point of one hub label, or None when it is unknown."""
    return HUB_LABEL_MAP.get(label.strip().lower())


class HubAudioEmotionModel(VoiceEmotionModel):
    """Wraps a transformers ``AutoModelForAudioClassification`` + its feature extractor."""

    def __init__(self, model, extractor, setting: str) -> None:
        self._model = model.eval()
        self._fx = extractor
        self.name = setting
        id2label = {int(k): str(v) for k, v in model.config.id2label.items()}
        self._labels = [id2label[i] for i in range(len(id2label))]
        self._maps = [map_hub_label(lbl) for lbl in self._labels]
        if not any(m is not None for m in self._maps):
            raise ModelLoadError(
                f"voice model setting {setting!r}: none of its labels {self._labels} is an emotion moodmix knows; "
                "use an emotion-recognition model (e.g. superb/wav2vec2-base-superb-er)")
        self._sr = int(getattr(extractor, "sampling_rate", SR) or SR)
        self.covers = frozenset(k for lbl, m in zip(self._labels, self._maps) if m is not None
                                and lbl.strip().lower() not in _NEUTRAL_NAMES for k, w in m[0].items() if w >= 0.5)

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    def class_probs(self, audio16k: np.ndarray) -> np.ndarray:
        import torch

        x = audio16k if self._sr == SR else _resample(audio16k, SR, self._sr)
        inputs = self._fx(x, sampling_rate=self._sr, return_tensors="pt")
        with torch.inference_mode():
            logits = self._model(**inputs).logits[0].float().numpy()
        e = np.exp(logits - logits.max())
        return e / e.sum()

    def _estimate(self, p: np.ndarray) -> EmotionEstimate:
        lab = {k: 0.0 for k in LABELS}
        val = aro = 0.0
        known = 0.0
        p_neutral = 0.0
        for pc, lbl, m in zip(p, self._labels, self._maps):
            if m is None:  # unknown label: its mass is left out
                continue
            known += pc
            for k, w in m[0].items():
                lab[k] += pc * w
            val += pc * m[1][0]
            aro += pc * m[1][1]
            if lbl.strip().lower() in _NEUTRAL_NAMES:
                p_neutral += pc
        if known <= 0:
            return neutral_estimate()
        val, aro, p_neutral = val / known, aro / known, p_neutral / known
        q = p / p.sum()
        ent = float(-np.sum(q * np.log(q + 1e-12)) / np.log(max(len(q), 2)))
        conf = float(np.clip((1 - ent) * (1 - p_neutral), 0, 1))
        return EmotionEstimate(normalise_labels(lab), float(np.clip(val, -1, 1)), float(np.clip(aro, -1, 1)), conf)

    def predict_many(self, chunks: Sequence[np.ndarray], sr: int) -> list[EmotionEstimate]:
        out = []
        for chunk in chunks:
            x = as_mono16k(chunk, sr)
            if x.size < int(0.1 * SR) or float(np.max(np.abs(x), initial=0.0)) < 1e-6:
                out.append(neutral_estimate())
                continue
            wins = speech_windows(x)
            ps = np.stack([self.class_probs(w) for w in wins])
            p = np.average(ps, axis=0, weights=[w.size for w in wins])
            out.append(self._estimate(p))
        return out


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    import soxr

    return soxr.resample(x, sr_in, sr_out).astype(np.float32)


@functools.lru_cache(maxsize=4)
def load_hub_audio_model(setting: str) -> HubAudioEmotionModel:
    """Load a transformers audio-classification model by hub id or local directory, once per process.

    Raises
    ------
    ModelLoadError
        It cannot be found/loaded (offline with an empty cache, a typo, not an audio classifier), naming it.
    """
    try:
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        local = Path(setting).expanduser()
        if not local.exists() and (setting.startswith((".", "/", "~")) or setting.count("/") > 1):
            raise OSError(f"no such directory {local}")
        source = str(local) if local.exists() else setting
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false", "False") or \
            os.environ.get("TRANSFORMERS_OFFLINE", "") not in ("", "0", "false", "False")
        extractor = AutoFeatureExtractor.from_pretrained(source, local_files_only=offline)
        model = AutoModelForAudioClassification.from_pretrained(source, local_files_only=offline)
    except Exception as exc:  # OSError, ValueError, HF hub errors: all mean "this setting does not load"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"voice model setting {setting!r} could not be loaded as a transformers audio-classification model "
            f"({reason[:200]}); use 'default', a local model directory, or a hub id with network access") from None
    return HubAudioEmotionModel(model, extractor, setting)
