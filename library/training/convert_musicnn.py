"""Convert the pretrained musicnn taggers (MSD_musicnn, MTT_musicnn) to plain numpy weights, once.

musicnn (Jordi Pons, Xavier Serra; Music Technology Group, Universitat Pompeu Fabra; ISC licence) ships its
models as TensorFlow-1 checkpoints. This script restores each checkpoint into the original graph
(``musicnn.models.define_model``), reads every variable back and writes:

- ``library/data/musicnn/msd_musicnn.npz`` and ``mtt_musicnn.npz``: the weights in PyTorch layout (conv
  ``[out, in, kh, kw]``/``[out, in, k]``, dense ``[out, in]``), batch-norm parameters raw (gamma, beta,
  moving mean, moving variance), float32, read by :mod:`library.musicnn` with ``np.load(allow_pickle=False)``;
- ``library/data/musicnn/tags.json``: the tag names of each model (``musicnn.configuration``) and the front-end
  settings;
- ``library/data/musicnn/LICENSE.txt``: musicnn's ISC licence text, copied from the installed package;
- ``tests/data/musicnn_reference.npz``: outputs of the ORIGINAL TensorFlow model on four generated 16 kHz clips
  (the clips are stored too, as int16 PCM, so the test rebuilds the input bit-exactly): per 3-s patch the tag
  probabilities and the 200-d ``penultimate`` embedding, for both models.

The reference is computed in float32. musicnn's own ``extractor.batch_data`` casts the mel spectrogram to
float16 before ``log10(10000·x + 1)``. Under NumPy ≥ 2 (NEP 50: the Python int no longer promotes) ``10000·x``
stays float16 and overflows for any mel bin above 6.55 (ordinary music at full scale: all four clips here reach
7–124), which gives ``inf`` inputs and garbage tags. Under NumPy 1.x, as in this environment, the product is
promoted to float32 and only the float16 rounding remains: musicnn's own extractor then differs from this
reference by ≤ 4e-5 on the MTT tags of the clips (checked by hand on ``chords`` and ``loud_mix``), which also
confirms that the reference is musicnn's behaviour. Here the spectrogram is computed exactly as
there (librosa, 16 kHz, n_fft 512, hop 256, 96 mels, power 2, centred frames), kept in float32, cut into
non-overlapping 187-frame patches as ``batch_data`` does (the partial last patch is dropped), and fed to a graph
built the way ``extractor.extractor`` builds it (float32 placeholder, ``is_training=False``).

Run it in a throwaway environment; nothing of TensorFlow enters moodmix's dependencies::

    python3.11 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install "tensorflow-cpu==2.17.*" "tf_keras==2.17.*" "librosa==0.11.0"
    /tmp/tfenv/bin/pip install --no-deps musicnn==0.1.0
    TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2 /tmp/tfenv/bin/python library/training/convert_musicnn.py

(tested with tensorflow-cpu 2.17.1, tf_keras 2.17.0, librosa 0.11.0, numpy 1.26.4, Python 3.11.7; ≈ 30 s.)
``--check`` rebuilds nothing and only compares the TF model with the written weights through a numpy
re-implementation of the graph, as a second opinion next to ``tests/library/test_musicnn.py``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "library" / "data" / "musicnn"
REFERENCE = REPO / "tests" / "data" / "musicnn_reference.npz"
MODELS = {"msd": "MSD_musicnn", "mtt": "MTT_musicnn"}

SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
N_FRAMES = 187  # librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1, as extractor.py computes
CLIP_S = 8.0  # two full patches and a dropped tail
BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization default

# TF variable scope (creation order in musicnn.models.build_musicnn) -> name in the shipped file
_CONV = {
    "conv2d": "timbral74", "conv2d_1": "timbral77",
    "conv2d_2": "temporal128", "conv2d_3": "temporal64", "conv2d_4": "temporal32",
    "conv2d_5": "mid1", "conv2d_6": "mid2", "conv2d_7": "mid3",
}
_BN = {
    "batch_normalization": "bn_input", "batch_normalization_1": "timbral74.bn",
    "batch_normalization_2": "timbral77.bn", "batch_normalization_3": "temporal128.bn",
    "batch_normalization_4": "temporal64.bn", "batch_normalization_5": "temporal32.bn",
    "batch_normalization_6": "mid1.bn", "batch_normalization_7": "mid2.bn", "batch_normalization_8": "mid3.bn",
    "batch_normalization_9": "pool_bn", "batch_normalization_10": "penultimate_bn",
}
_DENSE = {"dense": "penultimate", "dense_1": "logits"}


# --------------------------------------------------------------------------------------------- test signals
def _env(n: int, attack: int, decay_s: float) -> np.ndarray:
    t = np.arange(n) / SR
    e = np.exp(-t / decay_s)
    e[:attack] *= np.linspace(0.0, 1.0, attack)
    return e


def reference_clips() -> dict[str, np.ndarray]:
    """Four deterministic 8-s clips at 16 kHz, float in [-1, 1] (quantised to int16 before use)."""
    n = int(CLIP_S * SR)
    t = np.arange(n) / SR
    rng = np.random.default_rng(20261201)
    clips: dict[str, np.ndarray] = {}

    # 1. seeded noise bursts: band-limited-ish noise (first difference = brighter), 0.25 s on / 0.25 s off
    noise = rng.standard_normal(n)
    gate = ((t * 4).astype(int) % 2 == 0).astype(float)
    clips["noise_bursts"] = 0.3 * np.diff(noise, prepend=0.0) * gate

    # 2. chord tones: C major / A minor / F major / G major, 2 s each, five harmonics, soft attack
    chords = [(60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62)]
    x = np.zeros(n)
    seg = n // len(chords)
    for i, chord in enumerate(chords):
        ts = t[: seg]
        env = _env(seg, 800, 1.5)
        for midi in chord:
            f0 = 440.0 * 2 ** ((midi - 69) / 12)
            for h in range(1, 6):
                x[i * seg:(i + 1) * seg] += env * np.sin(2 * np.pi * f0 * h * ts) / (h * h)
    clips["chords"] = 0.25 * x / np.max(np.abs(x))

    # 3. drum-like pulse train at 120 BPM: a pitch-dropping kick on beats, noise hi-hat on off-beats
    x = np.zeros(n)
    kick_n = int(0.25 * SR)
    tk = np.arange(kick_n) / SR
    kick = np.sin(2 * np.pi * (50 * tk + 60 * 0.04 * (1 - np.exp(-tk / 0.04)))) * np.exp(-tk / 0.08)
    hat_n = int(0.05 * SR)
    for b in range(int(CLIP_S * 2)):
        s = int(b * 0.5 * SR)
        x[s:s + kick_n] += kick[: n - s]
        h = s + int(0.25 * SR)
        if h + hat_n <= n:
            x[h:h + hat_n] += 0.3 * np.diff(rng.standard_normal(hat_n), prepend=0.0) * np.exp(-np.arange(hat_n) / 300)
    clips["drums"] = 0.8 * x / np.max(np.abs(x))

    # 4. loud full-scale mix (the case that overflows float16): sawtooth bass line + drums + plucked melody
    bass_notes = [40, 40, 43, 45, 40, 40, 47, 45]
    x = 0.5 * clips["drums"] / 0.8
    note_n = n // len(bass_notes)
    for i, midi in enumerate(bass_notes):
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        ts = t[:note_n]
        saw = 2 * ((f0 * ts) % 1.0) - 1
        x[i * note_n:(i + 1) * note_n] += 0.4 * saw * _env(note_n, 100, 0.6)
    melody = [76, 79, 81, 79, 76, 74, 72, 74, 76, 76, 79, 84, 83, 81, 79, 76]
    mel_n = n // len(melody)
    for i, midi in enumerate(melody):
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        ts = t[:mel_n]
        x[i * mel_n:(i + 1) * mel_n] += 0.3 * np.sign(np.sin(2 * np.pi * f0 * ts)) * _env(mel_n, 40, 0.15)
    clips["loud_mix"] = 0.98 * x / np.max(np.abs(x))
    return clips


def to_pcm16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def pcm16_to_float(pcm: np.ndarray) -> np.ndarray:
    """The input the test and the reference both use: int16 / 32768 as float32."""
    return pcm.astype(np.float32) / np.float32(32768.0)


def log_mel_patches(mono_16k: np.ndarray) -> np.ndarray:
    """musicnn's ``batch_data`` without the float16 cast: ``(patches, 187, 96)`` float32."""
    import librosa

    mel = librosa.feature.melspectrogram(y=mono_16k, sr=SR, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS).T
    mel = np.log10(10000 * mel.astype(np.float32) + 1)
    starts = range(0, mel.shape[0] - N_FRAMES + 1, N_FRAMES)
    return np.stack([mel[s:s + N_FRAMES] for s in starts]).astype(np.float32)


# --------------------------------------------------------------------------------------------- TF side
def _tf_session(model: str):  # type: ignore[no-untyped-def]
    import musicnn
    import tensorflow as tf
    from musicnn import configuration as config
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.reset_default_graph()
    labels = config.MSD_LABELS if model.startswith("MSD") else config.MTT_LABELS
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        out = models.define_model(x, is_training, model, len(labels))
        y, penultimate = out[0], out[8]
        probs = tf.nn.sigmoid(y)
    sess = tf.compat.v1.Session()
    sess.run(tf.compat.v1.global_variables_initializer())
    # the checkpoint's prefix is the folder itself ("<model>/" + ".index", ".data-00000-of-00001")
    tf.compat.v1.train.Saver().restore(sess, os.path.join(os.path.dirname(musicnn.__file__), model) + "/")
    return tf, sess, x, is_training, probs, penultimate, list(labels)


def _export_weights(tf, sess) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    values = {v.name.split(":")[0]: sess.run(v) for v in tf.compat.v1.global_variables()}
    out: dict[str, np.ndarray] = {}
    for scope, name in _CONV.items():
        k = values[f"{scope}/kernel"]  # TF [kh, kw, in, out], NHWC with H = time, W = frequency
        if name.startswith("mid"):
            # the mid-end convolves over the whole feature axis (W), channels = 1: a 1-d conv over time
            out[f"{name}.weight"] = np.ascontiguousarray(k[:, :, 0, :].transpose(2, 1, 0))  # [out, feat, k]
        else:
            out[f"{name}.weight"] = np.ascontiguousarray(k.transpose(3, 2, 0, 1))  # [out, in, kt, kf]
        out[f"{name}.bias"] = values[f"{scope}/bias"]
    for scope, name in _BN.items():
        for tf_name, ours in (("gamma", "gamma"), ("beta", "beta"), ("moving_mean", "mean"),
                              ("moving_variance", "var")):
            out[f"{name}.{ours}"] = values[f"{scope}/{tf_name}"]
    for scope, name in _DENSE.items():
        out[f"{name}.weight"] = np.ascontiguousarray(values[f"{scope}/kernel"].T)  # [out, in]
        out[f"{name}.bias"] = values[f"{scope}/bias"]
    return {k: v.astype(np.float32) for k, v in out.items()}


def _run(sess, x, is_training, probs, penultimate, patches: np.ndarray):  # type: ignore[no-untyped-def]
    p, e = sess.run([probs, penultimate], feed_dict={x: patches, is_training: False})
    return p.astype(np.float32), e.astype(np.float32)


# --------------------------------------------------------------------------------------------- numpy check
def _np_forward(w: dict[str, np.ndarray], patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A slow, obvious numpy re-reading of musicnn.models.build_musicnn (eval mode), for --check."""

    def bn(v: np.ndarray, name: str, axis: int = -1) -> np.ndarray:
        shape = [1] * v.ndim
        shape[axis] = -1
        g, b, m, s = (w[f"{name}.{k}"].astype(np.float64).reshape(shape) for k in ("gamma", "beta", "mean", "var"))
        return (v - m) / np.sqrt(s + BN_EPS) * g + b

    def conv_time(xp: np.ndarray, kern: np.ndarray) -> np.ndarray:
        # xp [B, T + k - 1, F], kern [kt, kf, O] ('valid' in time and frequency) -> [B, T, F - kf + 1, O]
        kt, kf, _ = kern.shape
        win = np.lib.stride_tricks.sliding_window_view(xp, (kt, kf), axis=(1, 2))  # [B, T, F', kt, kf]
        return np.einsum("btfij,ijo->btfo", win, kern, optimize=True)

    g, b, m, s = (float(w[f"bn_input.{k}"][0]) for k in ("gamma", "beta", "mean", "var"))
    x = (patches.astype(np.float64) - m) / np.sqrt(s + BN_EPS) * g + b
    feats = []
    for name in ("timbral74", "timbral77"):
        kern = w[f"{name}.weight"][:, 0].transpose(1, 2, 0).astype(np.float64)
        y = conv_time(np.pad(x, ((0, 0), (3, 3), (0, 0))), kern) + w[f"{name}.bias"]
        feats.append(bn(np.maximum(y, 0), f"{name}.bn").max(axis=2))
    for name, k in (("temporal128", 128), ("temporal64", 64), ("temporal32", 32)):
        kern = w[f"{name}.weight"][:, 0].transpose(1, 2, 0).astype(np.float64)
        lo = (k - 1) // 2  # TF 'same': the extra zero goes after
        y = conv_time(np.pad(x, ((0, 0), (lo, k - 1 - lo), (0, 0))), kern) + w[f"{name}.bias"]
        feats.append(bn(np.maximum(y, 0), f"{name}.bn").max(axis=2))
    front = np.concatenate(feats, axis=2)  # [B, T, 561]
    layers = [front]
    h = front
    for i, name in enumerate(("mid1", "mid2", "mid3")):
        kern = w[f"{name}.weight"].transpose(2, 1, 0).astype(np.float64)  # [k, feat, O]
        y = conv_time(np.pad(h, ((0, 0), (3, 3), (0, 0))), kern)[:, :, 0, :] + w[f"{name}.bias"]
        y = bn(np.maximum(y, 0), f"{name}.bn")
        h = y if i == 0 else y + h
        layers.append(h)
    z = np.concatenate(layers, axis=2)  # [B, T, 753]
    pooled = np.stack([z.max(axis=1), z.mean(axis=1)], axis=2).reshape(len(z), -1)  # interleaved max, mean
    pooled = bn(pooled, "pool_bn")
    emb = bn(np.maximum(pooled @ w["penultimate.weight"].T + w["penultimate.bias"], 0), "penultimate_bn")
    logits = emb @ w["logits.weight"].T + w["logits.bias"]
    return 1 / (1 + np.exp(-logits)), emb


# --------------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="only compare TF with the written weights (numpy)")
    args = ap.parse_args()

    import librosa
    import musicnn

    clips = {k: to_pcm16(v) for k, v in reference_clips().items()}
    patches = {k: log_mel_patches(pcm16_to_float(v)) for k, v in clips.items()}
    ref: dict[str, np.ndarray] = {"clip_names": np.array(list(clips)), "sr": np.array(SR)}
    for k, v in clips.items():
        ref[f"{k}/pcm16"] = v
    tags_json: dict[str, object] = {
        "source": "musicnn 0.1.0 (pip), Jordi Pons & Xavier Serra, MTG-UPF, ISC licence; see LICENSE.txt",
        "converted_by": "library/training/convert_musicnn.py",
        "front_end": {"sr": SR, "n_fft": N_FFT, "hop": HOP, "n_mels": N_MELS, "patch_frames": N_FRAMES,
                      "log": "log10(10000 * mel + 1)", "bn_eps": BN_EPS},
        "models": {},
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for short, model in MODELS.items():
        tf, sess, x, is_training, probs, penultimate, labels = _tf_session(model)
        weights = _export_weights(tf, sess)
        if args.check:
            weights = dict(np.load(OUT_DIR / f"{short}_musicnn.npz", allow_pickle=False))
        for k, p in patches.items():
            tf_probs, tf_emb = _run(sess, x, is_training, probs, penultimate, p)
            np_probs, np_emb = _np_forward(weights, p)
            print(f"{model:12s} {k:13s} patches={len(p)}  numpy-vs-TF max|Δ| probs "
                  f"{np.abs(np_probs - tf_probs).max():.2e} emb {np.abs(np_emb - tf_emb).max():.2e}  "
                  f"top: {', '.join(labels[i] for i in np.argsort(-tf_probs.mean(0))[:4])}")
            ref[f"{k}/{short}/probs"] = tf_probs
            ref[f"{k}/{short}/embedding"] = tf_emb
        sess.close()
        tags_json["models"][short] = {"name": model, "tags": labels}  # type: ignore[index]
        if not args.check:
            np.savez_compressed(OUT_DIR / f"{short}_musicnn.npz", **weights)
    if args.check:
        return
    (OUT_DIR / "tags.json").write_text(json.dumps(tags_json, indent=1) + "\n")
    lic = Path(musicnn.__file__).parent.parent / "musicnn-0.1.0.dist-info" / "LICENSE.md"
    notice = ("The files msd_musicnn.npz, mtt_musicnn.npz and tags.json in this folder are the pretrained\n"
              "MSD_musicnn and MTT_musicnn models of musicnn 0.1.0 (https://github.com/jordipons/musicnn) by\n"
              "Jordi Pons and Xavier Serra (the musicnn authors), converted from TensorFlow checkpoints to numpy\n"
              "by library/training/convert_musicnn.py. musicnn's licence (ISC), copied from the package:\n\n")
    (OUT_DIR / "LICENSE.txt").write_text(notice + lic.read_text().strip() + "\n")
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    ref["versions"] = np.array([f"librosa {librosa.__version__}", f"numpy {np.__version__}",
                                f"tensorflow {tf.__version__}"])
    np.savez_compressed(REFERENCE, **ref)
    for p in sorted(OUT_DIR.iterdir()) + [REFERENCE]:
        print(f"wrote {p.relative_to(REPO)} ({p.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
