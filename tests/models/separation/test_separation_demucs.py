"""Demucs through the user's path: a tiny randomly initialised HTDemucs saved the way demucs saves models,
loaded by folder / file / environment, applied in overlapping chunks."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from core.errors import ModelLoadError
from models.separation import isolate_voice, make_instrumental
from models.separation.isolate import get_separator
from models.separation.weights import DEMUCS_ENV

pytestmark = pytest.mark.model

TINY_SR = 16_000


def _tiny_package(sources: list[str]) -> dict:
    import torch
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(0)
    model = HTDemucs(sources=sources, channels=8, depth=4, t_layers=1, nfft=1024, segment=1,
                     samplerate=TINY_SR)
    args, kwargs = model._init_args_kwargs
    # what demucs.states.serialize_model returns (it needs omegaconf only to flatten training_args)
    return {"klass": HTDemucs, "args": args, "kwargs": kwargs,
            "state": {k: v.detach().clone() for k, v in model.state_dict().items()}, "training_args": {}}


def _save_with_checksum(package: dict, path: Path) -> Path:
    """demucs.states.save_with_checksum, returning the path it wrote (NAME-<sha256[:8]>.th)."""
    import torch

    buf = io.BytesIO()
    torch.save(package, buf)
    sig = hashlib.sha256(buf.getvalue()).hexdigest()[:8]
    out = path.parent / f"{path.stem}-{sig}{path.suffix}"
    out.write_bytes(buf.getvalue())
    return out


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local demucs repo: a .th package with checksum in its name and a .yaml bag naming it."""
    repo = tmp_path_factory.mktemp("demucs_repo")
    _save_with_checksum(_tiny_package(["drums", "bass", "other", "vocals"]), repo / "tinysig.th")
    (repo / "tiny.yaml").write_text("models: ['tinysig']\nsegment: 1\n")
    return repo


def _signal(sr: int, seconds: float, channels: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x = np.stack([tone + 0.05 * rng.standard_normal(t.size) for _ in range(channels)])
    return x.astype(np.float32)


@pytest.mark.parametrize(("sr", "channels"), [(44_100, 2), (16_000, 1), (48_000, 1)])
def test_tiny_demucs_from_a_repo_folder_separates_in_overlapping_chunks(
        tiny_repo: Path, sr: int, channels: int, rng: np.random.Generator) -> None:
    audio = _signal(sr, 3.3, channels, rng)
    model = get_separator("demucs", tiny_repo)
    lengths: list[int] = []
    original = model.vocals_chunk

    def spy(chunk: np.ndarray) -> np.ndarray:
        lengths.append(chunk.shape[1])
        return original(chunk)

    model.vocals_chunk = spy
    try:
        sep = isolate_voice(audio, sr, separator="demucs", model_path=tiny_repo)
    finally:
        del model.vocals_chunk
    assert sep.method == "demucs" and sep.sr == sr
    assert sep.voice.shape == audio.shape and sep.background.shape == audio.shape
    assert sep.voice.dtype == np.float32
    assert np.std(sep.voice) > 0  # the (random) model did produce a vocals stem
    assert_allclose(sep.voice + sep.background, audio, atol=1e-5)  # background is the complement
    # 3.3 s at the model's 16 kHz in 1 s chunks with 25 % overlap: 4+ chunks, none longer than the segment
    assert len(lengths) >= 4 and max(lengths) <= TINY_SR


def test_tiny_demucs_chunks_match_direct_application_inside_a_chunk(tiny_repo: Path,
                                                                     rng: np.random.Generator) -> None:
    """Chunked application is the model itself where only one chunk covers the signal."""
    import torch

    model = get_separator("demucs", tiny_repo)
    audio = _signal(TINY_SR, 0.7, 2, rng)  # shorter than one segment: a single chunk
    sep = isolate_voice(audio, TINY_SR, separator="demucs", model_path=tiny_repo)
    with torch.no_grad():
        direct = model.model.models[0](torch.from_numpy(audio)[None])[0, 3].numpy()
    assert_allclose(sep.voice, direct[:, : audio.shape[1]], atol=1e-5)


def test_tiny_demucs_from_a_th_file_and_from_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator) -> None:
    th = _save_with_checksum(_tiny_package(["vocals", "other"]), tmp_path / "twostem.th")
    audio = _signal(22_050, 1.5, 2, rng)
    by_file = isolate_voice(audio, 22_050, separator="demucs", model_path=th)
    monkeypatch.setenv(DEMUCS_ENV, str(th))
    by_env = isolate_voice(audio, 22_050, separator="demucs")
    assert_allclose(by_file.voice, by_env.voice, atol=1e-6)
    assert_allclose(by_env.voice + by_env.background, audio, atol=1e-5)
    song = make_instrumental(audio, 22_050, separator="demucs", model_path=th)
    assert_allclose(song.vocals, by_file.voice, atol=1e-6)


def test_unconfigured_demucs_says_how_to_configure_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEMUCS_ENV, raising=False)
    with pytest.raises(ModelLoadError, match=f"no Demucs weights configured: set {DEMUCS_ENV}"):
        isolate_voice(np.zeros((1, 100), dtype=np.float32), 16_000, separator="demucs")


def test_bad_demucs_weights_raise_model_load_error(tmp_path: Path, tiny_repo: Path) -> None:
    good = next(tiny_repo.glob("tinysig-*.th"))
    tampered = tmp_path / good.name
    data = bytearray(good.read_bytes())
    data[-10] ^= 0xFF
    tampered.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="fails its checksum"):
        isolate_voice(np.ones((1, 100), dtype=np.float32), 16_000, separator="demucs", model_path=tampered)
    with pytest.raises(ModelLoadError, match="not found"):
        get_separator("demucs", tmp_path / "nowhere" / "model.th")
    with pytest.raises(ModelLoadError, match="no Demucs model 'nope'"):
        get_separator("demucs", tiny_repo / "nope")
    garbage = tmp_path / "garbage.th"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(ModelLoadError, match="cannot load Demucs weights"):
        get_separator("demucs", garbage)


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


@pytest.mark.skipif(not _cuda(), reason="needs a CUDA GPU")
def test_demucs_runs_on_the_gpu_when_present_and_matches_the_cpu(tiny_repo: Path, rng: np.random.Generator) -> None:
    from models.separation.demucs_sep import DemucsSeparator

    gpu = get_separator("demucs", tiny_repo)
    assert gpu.device.type == "cuda"
    audio = _signal(TINY_SR, 2.5, 2, rng)
    on_gpu = isolate_voice(audio, TINY_SR, separator="demucs", model_path=tiny_repo)
    assert next(gpu.models[0].parameters()).is_cuda
    cpu = DemucsSeparator(tiny_repo, device="cpu")  # same cached weights, moved to the CPU per chunk
    voice_cpu, _ = cpu.separate(audio, TINY_SR)
    assert_allclose(on_gpu.voice, voice_cpu, atol=1e-3)
    assert_allclose(on_gpu.voice + on_gpu.background, audio, atol=1e-5)
