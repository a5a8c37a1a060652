"""Learned music tags: the pretrained musicnn taggers (MSD and MTT), run in torch without TensorFlow.

musicnn (Pons & Serra, "musicnn: pre-trained convolutional neural networks for music audio tagging",
ISMIR-LBD 2019; ISC licence, see ``library/data/musicnn/LICENSE.txt``) ships two taggers of the same
architecture trained on different tag vocabularies:

- ``"msd"`` (MSD_musicnn, Million Song Dataset, 50 last.fm tags): genres plus *happy, sad, chill, chillout,
  Mellow, party, catchy, easy listening, dance, beautiful, sexy, acoustic, instrumental* ...;
- ``"mtt"`` (MTT_musicnn, MagnaTagATune, 50 tags): instruments plus *fast, slow, loud, quiet, soft, ambient,
  beat, no vocals* ...

Each gives, per 3-s patch, 50 tag probabilities (independent sigmoids) and a 200-d embedding (the penultimate
layer after its batch norm, musicnn's ``features['penultimate']``). The weights were converted once from the
TensorFlow checkpoints by ``library/training/convert_musicnn.py``; ``tests/library/test_musicnn.py`` checks the
outputs against the original model's (≤ 1e-4).

Front end, as musicnn's ``extractor.batch_data``: mono at 16 kHz, log-mel spectrogram (STFT n_fft 512, hop 256,
periodic Hann, centred frames with zero padding as librosa ≥ 0.10 does, power 2, 96 Slaney mel bands 0–8 kHz as
``librosa.filters.mel``), ``log10(10000·mel + 1)``, cut into non-overlapping 187-frame patches (2.99 s); the
partial last patch is dropped, as musicnn does. Unlike musicnn's extractor the spectrogram stays float32 (it casts
to float16; under NumPy ≥ 2 ``10000·mel`` then overflows to ``inf`` on ordinary music at full scale and the tags
become garbage).
A clip shorter than one patch but at least :data:`MIN_DURATION_S` long is repeated to fill it (musicnn trained
with ``pad_short: repeat-pad``); a shorter one is refused.

Cost (``benchmarks/bench_musicnn.py``, one thread): about 1.2 CPU s per audio minute for both taggers, 0.6 with
``hop_s = 2·PATCH_S``. The front end's convolutions have one input channel, where direct convolution runs far
below BLAS speed, so each is computed as one banded (Toeplitz) matrix product; everything stays float32.

Memory stays flat in the track's length: :class:`TagStream` takes the audio block by block, resamples with a
streaming soxr resampler and runs the network every :data:`PATCHES_PER_STEP` patches; only per-patch outputs
(50 + 50 + 200 + 200 floats) are kept. :func:`tag_audio` and :func:`music_tags` feed an in-memory array through
the same stream.

Example
-------
::

    from library.musicnn import TagStream, music_tags

    t = music_tags(audio, sr)              # audio (channels, samples) or (samples,), float32
    t.mtt.tags["fast"], t.msd.tags["happy"], t.msd.embedding.shape   # floats in [0, 1], (200,)
    t.mtt.top(3)                           # [("techno", 0.62), ("beat", 0.41), ...]

    stream = TagStream(sr)                 # block by block (one stream per track, one thread at a time)
    for block in blocks:
        stream.feed(block)
    t = stream.finish()
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.errors import InvalidAudioError, ModelLoadError

__all__ = [
    "EMBEDDING_DIM",
    "MIN_DURATION_S",
    "PATCHES_PER_STEP",
    "PATCH_FRAMES",
    "PATCH_S",
    "SR",
    "TAGGERS",
    "MusicTags",
    "MusicnnTagger",
    "TagResult",
    "TagStream",
    "TaggerName",
    "load_tagger",
    "log_mel",
    "music_tags",
    "tag_audio",
    "tag_names",
]

TaggerName = Literal["msd", "mtt"]
#: The two shipped taggers.
TAGGERS: tuple[TaggerName, ...] = ("msd", "mtt")
#: musicnn's analysis rate (Hz).
SR = 16000
_N_FFT = 512
_HOP = 256
_N_MELS = 96
#: Frames per patch: ``librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1``, as musicnn.
PATCH_FRAMES = 187
#: Length of one patch in seconds (187 hops of 16 ms).
PATCH_S = PATCH_FRAMES * _HOP / SR
#: Shorter input is refused; between this and :data:`PATCH_S` the spectrogram is repeated to one patch.
MIN_DURATION_S = 1.0
#: Patches per network call: bounds memory (≈ 30 MB of activations per patch) whatever the track's length.
PATCHES_PER_STEP = 2
#: Size of the penultimate embedding.
EMBEDDING_DIM = 200
_BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's default, used by musicnn
_DATA = Path(__file__).parent / "data" / "musicnn"
_FEED_BLOCK_S = 30.0  # input is framed in slices of this length, whatever the size of the blocks fed


# ------------------------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class TagResult:
    """One tagger's view of a piece of music.

    Attributes
    ----------
    model : {"msd", "mtt"}
    tags : dict[str, float]
        Tag → probability in [0, 1], the mean over patches (tags are independent sigmoids: they do not sum to 1).
    embedding : np.ndarray [shape=(200,), dtype=float32]
        Mean over patches of the penultimate layer.
    patches : int
        Number of 3-s patches analysed (1 for a repeated short clip).
    padded : bool
        True when the input was shorter than one patch and was repeated to fill it.
    per_patch : np.ndarray [shape=(patches, 50), dtype=float32] or None
        Tag probabilities of every patch, in the order of :func:`tag_names`, when asked for.
    patch_embeddings : np.ndarray [shape=(patches, 200), dtype=float32] or None
        The embedding of every patch, when asked for.
    """

    model: TaggerName
    tags: dict[str, float]
    embedding: np.ndarray
    patches: int
    padded: bool = False
    per_patch: np.ndarray | None = field(default=None, repr=False)
    patch_embeddings: np.ndarray | None = field(default=None, repr=False)

    def top(self, n: int = 5) -> list[tuple[str, float]]:
        """The ``n`` most probable tags, most probable first."""
        return sorted(self.tags.items(), key=lambda kv: -kv[1])[:n]


@dataclass(frozen=True)
class MusicTags:
    """Both taggers on the same audio: :attr:`msd` (moods, genres) and :attr:`mtt` (tempo, loudness, vocals)."""

    msd: TagResult
    mtt: TagResult
    duration_s: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tag dicts and embeddings as lists (rounded to 5 decimals)."""
        return {
            "duration_s": round(self.duration_s, 3),
            **{r.model: {"tags": {k: round(v, 5) for k, v in r.tags.items()},
                         "embedding": [round(float(x), 5) for x in r.embedding],
                         "patches": r.patches, "padded": r.padded}
               for r in (self.msd, self.mtt)},
        }


# ------------------------------------------------------------------------------------------------ model
@lru_cache(maxsize=1)
def _meta() -> dict[str, Any]:
    p = _DATA / "tags.json"
    try:
        meta: dict[str, Any] = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"musicnn tag list {p} is missing or unreadable ({exc}); reinstall moodmix") from None
    return meta


def tag_names(name: TaggerName) -> list[str]:
    """The 50 tag names of tagger ``name``, in output order."""
    _check_name(name)
    return list(_meta()["models"][name]["tags"])


def _check_name(name: object) -> None:
    if name not in TAGGERS:
        raise ModelLoadError(f"unknown musicnn tagger {name!r}; choose one of {', '.join(TAGGERS)}")


class MusicnnTagger:
    """The musicnn architecture (eval mode) over converted weights; call :func:`load_tagger` to get one.

    Front end: a batch norm on the log-mel input, then two *timbral* convolutions (7 frames × 38 and × 67 mel
    bands, 204 filters each, max over frequency) and three *temporal* ones (128, 64, 32 frames × 1 band, 51
    filters each, 'same' padding, max over frequency), each ReLU → batch norm, concatenated to 561 features per
    frame. Mid-end: three 1-d convolutions over time (7 frames, 64 filters, ReLU → batch norm), the last two
    residual. Back-end: the 753 features (front end + the three mid-end outputs) are max- and mean-pooled over
    time (interleaved, as TensorFlow's flatten of ``[max, mean]`` leaves them), batch norm, dense 200 + ReLU +
    batch norm (the embedding), dense 50 + sigmoid.
    """

    def __init__(self, name: TaggerName, weights: dict[str, np.ndarray]) -> None:
        import torch

        self.name: TaggerName = name
        self.tags = tag_names(name)
        self._lock = threading.Lock()

        def t(key: str) -> Any:
            return torch.from_numpy(np.ascontiguousarray(weights[key], dtype=np.float32))

        def affine(prefix: str) -> tuple[Any, Any]:
            # eval-mode batch norm as y = a·x + b, folded in float64 so the float32 result loses nothing
            g, b, m, v = (weights[f"{prefix}.{k}"].astype(np.float64) for k in ("gamma", "beta", "mean", "var"))
            a = g / np.sqrt(v + _BN_EPS)
            return (torch.from_numpy(a.astype(np.float32)), torch.from_numpy((b - a * m).astype(np.float32)))

        a0, b0 = affine("bn_input")
        self._in_scale, self._in_shift = float(a0[0]), float(b0[0])
        # front end as banded (Toeplitz) matrix products, see _toeplitz. Timbral blocks slide along frequency
        # (7 frames × kf bands, time padded 3 + 3), temporal ones along time (k frames × 1 band, TF 'same'
        # padding: the extra zero of an even kernel goes after). Each is followed by ReLU, batch norm a·x + b and
        # a max over frequency. As + bias and ReLU are monotone, the max can be taken first, over the raw
        # product: where a ≥ 0 it is the max, where a < 0 the min; the kernels of the a < 0 filters are negated
        # (sign s = −1) so that one max serves both, and z = s·max + bias undoes the sign.
        self._front: list[tuple[Any, ...]] = []
        blocks = [("timbral74", "timbral", _GROUP["timbral74"]), ("timbral77", "timbral", _GROUP["timbral77"]),
                  ("temporal128", "temporal", _GROUP["temporal128"]), ("temporal64", "temporal", _GROUP["temporal64"]),
                  ("temporal32", "temporal", _GROUP["temporal32"])]
        for key, kind, g in blocks:
            w = weights[f"{key}.weight"]  # timbral [O, 1, 7, kf], temporal [O, 1, k, 1]
            taps = w[:, 0] if kind == "timbral" else w[:, :, :, 0]  # [O, taps across, taps along the slide]
            a, b = affine(f"{key}.bn")
            sign = np.where(a.numpy() >= 0, 1.0, -1.0).astype(np.float32)
            gemm = _toeplitz(taps * sign[:, None, None], g)
            self._front.append((gemm, torch.from_numpy(sign), t(f"{key}.bias"), a, b, kind, taps.shape[2], g))
        self._mid = []
        for key in ("mid1", "mid2", "mid3"):
            w = weights[f"{key}.weight"]  # [64, features, 7] -> [features·7, 64] for an im2col product
            a, b = affine(f"{key}.bn")
            gemm = torch.from_numpy(np.ascontiguousarray(w.transpose(1, 2, 0).reshape(-1, w.shape[0]),
                                                         dtype=np.float32))
            self._mid.append((gemm, t(f"{key}.bias"), a, b))
        self._pool_a, self._pool_b = affine("pool_bn")
        self._dense_w, self._dense_b = t("penultimate.weight"), t("penultimate.bias")
        self._emb_a, self._emb_b = affine("penultimate_bn")
        self._out_w, self._out_b = t("logits.weight"), t("logits.bias")

    def forward(self, patches: np.ndarray, *, workspace: dict[Any, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Run the network on log-mel patches.

        Parameters
        ----------
        patches : np.ndarray [shape=(batch, 187, 96), dtype=float32]
            Output of :func:`log_mel`, cut into patches.
        workspace : dict, optional
            Buffers for the front end's large products, reused from call to call (a :class:`TagStream` keeps
            one): writing into memory already mapped saves the page faults of fresh ≈ 20 MB arrays (≈ 10 % of
            the time). Without it the buffers are allocated per call.

        Returns
        -------
        probs : np.ndarray [shape=(batch, 50), dtype=float32]
        embedding : np.ndarray [shape=(batch, 200), dtype=float32]
        """
        import torch
        import torch.nn.functional as F

        with self._lock, torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(patches, dtype=np.float32))
            x = x * self._in_scale + self._in_shift  # [B, T, F]
            xt = x.transpose(1, 2).contiguous()  # [B, F, T] for the temporal blocks
            feats = []
            ws = {} if workspace is None else workspace
            for i, (gemm, sign, bias, a, b, kind, k, g) in enumerate(self._front):
                m = _banded_conv_max(x, xt, gemm, kind, k, g, ws, i)  # [B, T, O]: max over frequency, no bias
                feats.append(torch.relu_(m.mul_(sign).add_(bias)).mul_(a).add_(b))
            front = torch.cat(feats, dim=2)  # [B, T, 561]
            layers = [front]
            h = front
            n, frames = front.shape[0], front.shape[1]
            for i, (gemm, bias, a, b) in enumerate(self._mid):
                cols = F.pad(h, (0, 0, 3, 3)).unfold(1, 7, 1)  # [B, T, C, 7]
                y = torch.addmm(bias, cols.reshape(n * frames, -1), gemm).view(n, frames, -1)
                y = torch.relu_(y).mul_(a).add_(b)
                h = y if i == 0 else y + h  # the last two mid-end layers are residual
                layers.append(h)
            z = torch.cat(layers, dim=2)  # [B, T, 753]
            pooled = torch.stack([z.amax(dim=1), z.mean(dim=1)], dim=2).flatten(1)  # max, mean interleaved
            pooled = pooled * self._pool_a + self._pool_b
            emb = torch.relu_(F.linear(pooled, self._dense_w, self._dense_b)) * self._emb_a + self._emb_b
            probs = torch.sigmoid(F.linear(emb, self._out_w, self._out_b))
            return probs.numpy().copy(), emb.numpy().copy()


#: Outputs per row of each banded product (timbral: frequency positions, 59 and 30; temporal: frames, 187),
#: chosen by timing: larger groups make larger matrix products but multiply more zeros.
_GROUP = {"timbral74": 4, "timbral77": 6, "temporal128": 32, "temporal64": 32, "temporal32": 16}


def _toeplitz(w: np.ndarray, g: int) -> Any:
    """A correlation kernel as one banded matrix that yields ``g`` neighbouring outputs per row.

    ``w`` is ``[O, kt, ks]``: ``ks`` taps along the sliding axis, ``kt`` along the other (7 frames for the timbral
    blocks, 1 for the temporal ones). Row ``(t, j)`` of the result, for ``j < g + ks − 1`` inputs along the
    sliding axis, column ``(d, o)``, holds ``w[o, t, j − d]``. A single-channel convolution becomes a matrix
    product with K = kt·(g + ks − 1) and N = g·O, which runs at BLAS speed (oneDNN's direct convolution is slow
    with one input channel); the zeros cost (g + ks − 1)/ks more multiply-adds.
    """
    import torch

    o, kt, ks = w.shape
    span = g + ks - 1
    out = np.zeros((kt, span, g, o), dtype=np.float32)
    taps = w.transpose(1, 2, 0)  # [kt, ks, O]
    for d in range(g):
        out[:, d:d + ks, d, :] = taps
    return torch.from_numpy(out.reshape(kt * span, g * o))


def _banded_conv_max(x: Any, xt: Any, gemm: Any, kind: str, k: int, g: int, ws: dict[Any, Any], key: int) -> Any:
    """One front-end convolution (no bias) as a banded product, max over frequency: ``[B, T, O]``.

    ``x`` is the normalised input ``[B, T, F]``, ``xt`` the same as ``[B, F, T]``; ``ws`` holds reusable buffers
    (the im2col matrix and the product) under ``key``."""
    import torch
    import torch.nn.functional as F

    n, frames, bands = x.shape
    o = gemm.shape[1] // g
    span = g + k - 1
    if kind == "timbral":
        positions = bands - k + 1
        groups = -(-positions // g)
        xq = F.pad(x, (0, groups * g + k - 1 - bands, 3, 3))  # time 3 + 3, frequency up to whole groups
        windows = xq.unfold(1, 7, 1).unfold(2, span, g)  # [B, T, groups, 7, span]
    else:
        positions = frames
        groups = -(-frames // g)
        before = (k - 1) // 2
        xq = F.pad(xt, (before, groups * g + k - 1 - frames - before))
        windows = xq.unfold(2, span, g)  # [B, F, groups, span]
    cols, y = ws.get(key, (None, None))
    if cols is None or cols.shape[0] != windows.numel() // gemm.shape[0]:
        cols = torch.empty(windows.numel() // gemm.shape[0], gemm.shape[0])
        y = torch.empty(cols.shape[0], gemm.shape[1])
        ws[key] = (cols, y)
    cols.view(windows.shape).copy_(windows)
    torch.mm(cols, gemm, out=y)  # rows (b, t, group) or (b, f, group), columns (d, o)
    if kind == "timbral":
        return y.view(n, frames, groups * g, o)[:, :, :positions].amax(dim=2)
    return y.view(n, bands, groups * g, o)[:, :, :positions].amax(dim=1)  # [B, F, T, O] -> max over F


@cache
def load_tagger(name: TaggerName = "msd") -> MusicnnTagger:
    """The tagger ``name`` (``"msd"`` or ``"mtt"``), loaded once per process from ``library/data/musicnn/``.

    Raises
    ------
    ModelLoadError
        Unknown name, or the shipped weights are missing, unreadable or of the wrong shape.
    """
    _check_name(name)
    p = _DATA / f"{name}_musicnn.npz"
    try:
        with np.load(p, allow_pickle=False) as z:
            weights = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"musicnn weights {p} are missing or unreadable ({exc}); reinstall moodmix") from None
    expected = {"timbral74.weight": (204, 1, 7, 38), "timbral77.weight": (204, 1, 7, 67),
                "temporal128.weight": (51, 1, 128, 1), "mid1.weight": (64, 561, 7),
                "penultimate.weight": (EMBEDDING_DIM, 1506), "logits.weight": (50, EMBEDDING_DIM)}
    for k, shape in expected.items():
        if k not in weights or weights[k].shape != shape:
            got = weights[k].shape if k in weights else "missing"
            raise ModelLoadError(f"musicnn weights {p.name}: {k} should be {shape}, found {got}; reinstall moodmix")
    return MusicnnTagger(name, weights)


# ------------------------------------------------------------------------------------------------ front end
@lru_cache(maxsize=1)
def _mel_basis() -> Any:
    import librosa
    import torch

    fb = librosa.filters.mel(sr=SR, n_fft=_N_FFT, n_mels=_N_MELS).astype(np.float32)  # [96, 257]
    return torch.from_numpy(np.ascontiguousarray(fb.T))  # [257, 96]


@lru_cache(maxsize=1)
def _window() -> Any:
    import torch

    return torch.hann_window(_N_FFT, periodic=True, dtype=torch.float32)  # scipy's 'hann', fftbins=True


def log_mel(padded: np.ndarray) -> np.ndarray:
    """Log-mel frames of 16 kHz samples that already carry the frames' context.

    Parameters
    ----------
    padded : np.ndarray [shape=(n,), dtype=float32]
        Samples from ``first_frame·256 − 256`` to ``last_frame·256 + 256`` (zeros outside the signal, as
        librosa's centred STFT pads).

    Returns
    -------
    np.ndarray [shape=((n − 512) // 256 + 1, 96), dtype=float32]
        ``log10(10000·mel + 1)`` per frame.
    """
    import torch

    y = torch.from_numpy(np.ascontiguousarray(padded, dtype=np.float32))
    frames = y.unfold(0, _N_FFT, _HOP) * _window()
    spec = torch.fft.rfft(frames, dim=1)
    power = spec.real.square_() + spec.imag.square_()
    mel = power @ _mel_basis()
    return torch.log10(mel.mul_(10000.0).add_(1.0)).numpy().copy()


# ------------------------------------------------------------------------------------------------ streaming
class TagStream:
    """Tag music block by block with memory flat in its length.

    Feed mono or ``(channels, samples)`` float32 blocks at one rate with :meth:`feed`, then call
    :meth:`finish` once. Channels are averaged (the mean, not a +3 dB downmix); any rate is resampled to 16 kHz
    with a streaming soxr resampler (HQ). Only a few patches of spectrogram and the per-patch outputs are held.

    Parameters
    ----------
    sr : int
        Sample rate of the blocks in Hz.
    models : tuple of {"msd", "mtt"}
        Taggers to run (both by default).
    hop_s : float or None
        Seconds between the starts of consecutive patches. ``None`` (default): :data:`PATCH_S`, non-overlapping
        patches covering the whole track, as musicnn's extractor. A longer hop analyses patches spaced out
        (``hop_s=2 * PATCH_S`` halves the cost), a shorter one overlaps them.
    per_patch : bool
        Keep every patch's tag probabilities and embedding in the results.
    """

    def __init__(self, sr: int, *, models: tuple[TaggerName, ...] = TAGGERS, hop_s: float | None = None,
                 per_patch: bool = False) -> None:
        if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or int(sr) <= 0:
            raise InvalidAudioError(f"sample rate must be a positive integer in Hz, got {sr!r}")
        for m in models:
            _check_name(m)
        if not models or len(set(models)) != len(models):
            raise ModelLoadError(f"give each musicnn tagger at most once ({', '.join(TAGGERS)}), got {models!r}")
        if hop_s is not None and not (isinstance(hop_s, (int, float)) and math.isfinite(hop_s)
                                      and hop_s * SR >= _HOP):
            raise ValueError(f"hop_s must be at least {_HOP / SR} s (one frame) or None, got {hop_s!r}")
        self.sr = int(sr)
        self._hop = PATCH_FRAMES if hop_s is None else int(hop_s * SR / _HOP)  # as librosa.time_to_frames
        self._taggers = [load_tagger(m) for m in models]
        self._per_patch = per_patch
        self._resampler: Any = None
        if self.sr != SR:
            import soxr

            self._resampler = soxr.ResampleStream(self.sr, SR, 1, dtype="float32", quality="HQ")
        # 16 kHz samples not yet framed; they start at absolute sample next_frame·256 − 256 (the first frame's
        # left context is librosa's zero padding)
        self._buf = np.zeros(_N_FFT // 2, dtype=np.float32)
        self._n16 = 0  # 16 kHz samples received
        self._n_in = 0  # input samples received
        self._next_frame = 0  # absolute index of the next log-mel frame to compute
        self._mel = np.zeros((0, _N_MELS), dtype=np.float32)  # frames not yet consumed ...
        self._mel_start = 0  # ... starting at this absolute frame
        self._next_patch = 0  # absolute first frame of the next patch
        self._head: list[np.ndarray] = []  # the first frames, for the repeat-pad of a clip shorter than a patch
        self._head_frames = 0
        self._probs: list[list[np.ndarray]] = [[] for _ in self._taggers]
        self._embs: list[list[np.ndarray]] = [[] for _ in self._taggers]
        self._patches = 0
        self._workspace: dict[Any, Any] = {}  # the front end's buffers, shared by the taggers (same shapes)
        self._done = False

    def feed(self, audio: np.ndarray) -> None:
        """Add a block: ``(samples,)`` or ``(channels, samples)`` float32, finite.

        Raises
        ------
        InvalidAudioError
            Wrong dtype or shape, or non-finite samples.
        """
        if self._done:
            raise RuntimeError("TagStream.finish() was already called; start a new stream")
        mono = _mono(audio)
        self._n_in += mono.size
        step = int(_FEED_BLOCK_S * self.sr)  # a long block is taken in slices: its spectrogram is never whole
        for i in range(0, mono.size, step):
            y = mono[i:i + step]
            self._push(self._resampler.resample_chunk(y) if self._resampler is not None else y)

    def _push(self, y: np.ndarray, *, last: bool = False) -> None:
        self._n16 += y.size
        parts = [self._buf, y]
        if last:  # librosa's right padding; there are 1 + n // 256 frames in all
            parts.append(np.zeros(_N_FFT // 2, dtype=np.float32))
        buf = np.concatenate(parts)
        n_frames = (buf.size - _N_FFT) // _HOP + 1 if buf.size >= _N_FFT else 0
        if last:
            n_frames = min(n_frames, 1 + self._n16 // _HOP - self._next_frame)
        if n_frames > 0:
            frames = log_mel(buf[: (n_frames - 1) * _HOP + _N_FFT])
            self._next_frame += n_frames
            buf = buf[n_frames * _HOP:]
            if self._head_frames < PATCH_FRAMES:
                self._head.append(frames[: PATCH_FRAMES - self._head_frames])
                self._head_frames += self._head[-1].shape[0]
            self._mel = np.concatenate([self._mel, frames]) if self._mel.size else frames
        self._run(final=last)
        self._buf = buf.copy()  # a copy, so that the caller's block is not kept alive

    def _run(self, *, final: bool) -> None:
        while True:
            cut = min(max(self._next_patch - self._mel_start, 0), self._mel.shape[0])  # frames before the patch
            self._mel, self._mel_start = self._mel[cut:], self._mel_start + cut
            end = self._mel_start + self._mel.shape[0]
            ready = 0
            while ready < PATCHES_PER_STEP and self._next_patch + ready * self._hop + PATCH_FRAMES <= end:
                ready += 1
            if ready == 0 or (ready < PATCHES_PER_STEP and not final):
                break
            first = self._next_patch - self._mel_start
            batch = np.stack([self._mel[first + i * self._hop: first + i * self._hop + PATCH_FRAMES]
                              for i in range(ready)])
            self._forward(batch)
            self._next_patch += ready * self._hop
        self._mel = self._mel.copy()

    def _forward(self, batch: np.ndarray) -> None:
        for i, tagger in enumerate(self._taggers):
            p, e = tagger.forward(batch, workspace=self._workspace)
            self._probs[i].append(p)
            self._embs[i].append(e)
        self._patches += batch.shape[0]

    def finish(self) -> MusicTags | TagResult:
        """Flush and return the results: :class:`MusicTags` when both taggers ran, else one :class:`TagResult`.

        Raises
        ------
        InvalidAudioError
            Less than :data:`MIN_DURATION_S` of audio was fed.
        """
        if self._done:
            raise RuntimeError("TagStream.finish() was already called; start a new stream")
        tail = np.zeros(0, dtype=np.float32)
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        self._push(tail, last=True)
        self._done = True
        self._workspace.clear()
        duration_s = self._n_in / self.sr
        padded = False
        if self._patches == 0:
            if duration_s < MIN_DURATION_S:
                raise InvalidAudioError(
                    f"music is {duration_s:.2f} s long; the musicnn taggers need at least {MIN_DURATION_S:g} s "
                    f"(clips shorter than {PATCH_S:.2f} s are repeated to one patch)")
            head = np.concatenate(self._head)
            reps = math.ceil(PATCH_FRAMES / head.shape[0])
            self._forward(np.tile(head, (reps, 1))[None, :PATCH_FRAMES])
            padded = True
        results = []
        for i, tagger in enumerate(self._taggers):
            probs = np.concatenate(self._probs[i])
            emb = np.concatenate(self._embs[i])
            mean = probs.mean(axis=0, dtype=np.float64)
            results.append(TagResult(
                model=tagger.name, tags={t: float(v) for t, v in zip(tagger.tags, mean)},
                embedding=emb.mean(axis=0, dtype=np.float64).astype(np.float32), patches=self._patches,
                padded=padded, per_patch=probs if self._per_patch else None,
                patch_embeddings=emb if self._per_patch else None))
        if len(results) == 1:
            return results[0]
        by = {r.model: r for r in results}
        return MusicTags(msd=by["msd"], mtt=by["mtt"], duration_s=duration_s)


def _mono(audio: object) -> np.ndarray:
    if not isinstance(audio, np.ndarray) or audio.dtype != np.float32 or audio.ndim not in (1, 2):
        got = f"{type(audio).__name__} {getattr(audio, 'dtype', '')} shape {getattr(audio, 'shape', '')}"
        raise InvalidAudioError(
            f"expected float32 audio shaped (samples,) or (channels, samples), got {got}; convert first")
    mono: np.ndarray = audio
    if audio.ndim == 2:
        if audio.shape[0] > 8:
            raise InvalidAudioError(
                f"audio has shape {audio.shape}: expected (channels, samples); transpose a (samples, channels) array")
        mono = audio.mean(axis=0, dtype=np.float32) if audio.shape[0] > 1 else audio[0]
    if not np.all(np.isfinite(mono)):
        raise InvalidAudioError("audio contains NaN or infinite samples; clean or re-decode it")
    return np.ascontiguousarray(mono, dtype=np.float32)


def _single_thread() -> Any:
    """One BLAS/OpenMP/torch thread while tagging: parallelism is one process per file, as in
    :mod:`library.features` (idle pool threads spin and cost CPU time without making one file faster)."""
    import torch

    @contextlib.contextmanager
    def limit() -> Any:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=1):
                yield
        finally:
            torch.set_num_threads(before)

    return limit()


def _run_stream(audio: np.ndarray, sr: int, models: tuple[TaggerName, ...], hop_s: float | None, per_patch: bool,
                single_thread: bool) -> MusicTags | TagResult:
    mono = _mono(audio)
    if mono.size == 0:
        raise InvalidAudioError("music is empty (0 samples); give at least a few seconds of music")
    stream = TagStream(sr, models=models, hop_s=hop_s, per_patch=per_patch)
    with _single_thread() if single_thread else contextlib.nullcontext():
        stream.feed(mono)
        return stream.finish()


def tag_audio(audio: np.ndarray, sr: int, *, model: TaggerName = "msd", hop_s: float | None = None,
              per_patch: bool = False, single_thread: bool = True) -> TagResult:
    """Tag music with one musicnn tagger.

    Parameters
    ----------
    audio : np.ndarray [shape=(samples,) or (channels, samples), dtype=float32]
        Music; channels are averaged. At least :data:`MIN_DURATION_S` long.
    sr : int
        Sample rate in Hz (resampled to 16 kHz with soxr when different).
    model : {"msd", "mtt"}
    hop_s : float or None
        Seconds between patch starts; ``None``: back-to-back 3-s patches (see :class:`TagStream`).
    per_patch : bool
        Also return each patch's tag probabilities and embedding.
    single_thread : bool
        Run torch and BLAS on one thread (the default; parallelism is one process per file).

    Returns
    -------
    TagResult

    Raises
    ------
    InvalidAudioError
        Not float32 ``(samples,)``/``(channels, samples)``, non-finite, bad ``sr``, or shorter than 1 s.
    ModelLoadError
        Unknown ``model`` or missing weights.
    """
    _check_name(model)
    out = _run_stream(audio, sr, (model,), hop_s, per_patch, single_thread)
    assert isinstance(out, TagResult)
    return out


def music_tags(audio: np.ndarray, sr: int, *, hop_s: float | None = None, per_patch: bool = False,
               single_thread: bool = True) -> MusicTags:
    """Tag music with both taggers (MSD moods/genres and MTT tempo/loudness/vocals) in one pass.

    Parameters and errors as :func:`tag_audio`; the log-mel spectrogram is computed once for both.

    Returns
    -------
    MusicTags
    """
    out = _run_stream(audio, sr, TAGGERS, hop_s, per_patch, single_thread)
    assert isinstance(out, MusicTags)
    return out
