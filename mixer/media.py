"""Streaming glue between the DSP plans and the encoder: the mix is rendered block by block, never held whole.

- :class:`BedReader` renders any range of a fitted bed from its :class:`~mixer.fit.FitPlan` (the track is held
  once, a few minutes of audio, whatever the length of the bed).
- :class:`MixMeter` measures the final mix as it streams past: BS.1770-4 integrated loudness from K-weighted hop
  powers and the 4x-oversampled true peak per hop (each block measured once its neighbour is known, so the
  oversampling filter sees both sides of a block edge).
- :class:`StemWriter` writes ``voice.wav`` and ``music.wav`` (32-bit float WAV) next to the mix, atomically.
- :func:`stream_mix` yields the limited mix block by block from a :class:`~mixer.mixdown.MixPlan` and two block
  readers, feeding the meter and the stems on the way; hand it to :func:`mixer.render.render`.

Memory for an hour at 48 kHz: one block of each signal (~1 s) plus the plans' per-hop curves.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mixer.loudness import integrated_from_hop_power, kweighted_hop_power, true_peak_per_hop
from mixer.render import atomic_path

__all__ = ["BedReader", "MixMeter", "PlacedBed", "StemWriter", "stream_mix"]


class BedReader:
    """Block reader ``bed(i0, i1) -> (channels, i1 - i0)`` of a fitted bed (``n_samples`` attribute)."""

    def __init__(self, plan: Any, music: np.ndarray) -> None:
        self.plan, self.music = plan, music
        self.n_samples = int(plan.n_samples)

    def __call__(self, i0: int, i1: int) -> np.ndarray:
        return self.plan.render(self.music, i0, i1)


class PlacedBed:
    """A bed placed in a longer timeline: ``inner`` plays from sample ``start`` for ``inner.n_samples`` samples,
    silence before and after (the music starts ``--intro`` before the first word and ends ``--outro`` after the
    last, wherever they fall in the file)."""

    def __init__(self, inner: Any, start: int, n_samples: int) -> None:
        self.inner, self.start, self.n_samples = inner, int(start), int(n_samples)
        self.channels = 2

    def __call__(self, i0: int, i1: int) -> np.ndarray:
        out = np.zeros((2, max(0, i1 - i0)), np.float32)
        a, b = max(i0, self.start), min(i1, self.start + int(self.inner.n_samples))
        if b > a:
            x = self.inner(a - self.start, b - self.start)
            out[:, a - i0 : b - i0] = x if x.shape[0] == 2 else np.broadcast_to(x[:1], (2, x.shape[1]))
        return out


class MixMeter:
    """Integrated loudness (LUFS) and true peak (dBTP) of a signal fed block by block.

    Parameters
    ----------
    sr : int
    hop : int
        Loudness hop in samples (a divisor of 100 ms so that BS.1770's 400 ms blocks are whole hops).
    peak_hop : int
        True-peak hop in samples.
    only_above : float
        Hops whose sample peak is below this linear level are not oversampled (their true peak cannot come near
        the ceiling).
    """

    _CONTEXT = 64

    def __init__(self, sr: int, hop: int, peak_hop: int, *, only_above: float = 0.0) -> None:
        self.sr, self.hop, self.peak_hop, self.only_above = sr, hop, peak_hop, only_above
        self._zi: np.ndarray | None = None
        self._powers: list[np.ndarray] = []
        self._peak = 0.0
        self._prev: np.ndarray | None = None
        self._before = np.zeros((2, 0), np.float32)

    def _pad(self, x: np.ndarray) -> np.ndarray:
        r = x.shape[1] % self.hop
        return x if r == 0 else np.concatenate([x, np.zeros((x.shape[0], self.hop - r), x.dtype)], axis=1)

    def _peaks(self, x: np.ndarray, after: np.ndarray) -> None:
        tp = true_peak_per_hop(self._pad(x), self.peak_hop, only_above=self.only_above,
                               context=(self._before, after))
        if tp.size:
            self._peak = max(self._peak, float(tp.max()))
        self._before = x[:, -self._CONTEXT:]

    def add(self, block: np.ndarray) -> None:
        """Measure the next block (2, k) of the signal."""
        p, self._zi = kweighted_hop_power(self._pad(block), self.sr, self.hop, self._zi)
        self._powers.append(p)
        if self._prev is not None:
            self._peaks(self._prev, block[:, : self._CONTEXT])
        self._prev = block

    def result(self) -> tuple[float, float]:
        """(integrated loudness in LUFS, true peak in dBTP); ``-inf`` for silence."""
        if self._prev is not None:
            self._peaks(self._prev, np.zeros((self._prev.shape[0], 0), np.float32))
            self._prev = None
        power = np.concatenate(self._powers) if self._powers else np.zeros(0)
        lufs = integrated_from_hop_power(power, self.hop / self.sr)
        tp = 20 * np.log10(self._peak) if self._peak > 0 else float("-inf")
        return float(lufs), float(tp)


class StemWriter:
    """``DIR/voice.wav`` and ``DIR/music.wav`` as 32-bit float WAV, written block by block to hidden temporary
    files and renamed into place by :meth:`commit` (removed by :meth:`abort`)."""

    def __init__(self, folder: str | Path, sr: int, channels: int = 2) -> None:
        import soundfile as sf

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.paths = {name: self.folder / f"{name}.wav" for name in ("voice", "music")}
        self._tmp = {name: atomic_path(p) for name, p in self.paths.items()}
        self._files = {name: sf.SoundFile(str(t), "w", samplerate=sr, channels=channels, subtype="FLOAT",
                                          format="WAV") for name, t in self._tmp.items()}

    def write(self, voice: np.ndarray, music: np.ndarray) -> None:
        self._files["voice"].write(np.ascontiguousarray(voice.T))
        self._files["music"].write(np.ascontiguousarray(music.T))

    def commit(self) -> dict[str, str]:
        for f in self._files.values():
            f.close()
        for name, t in self._tmp.items():
            os.replace(t, self.paths[name])
        return {name: str(p) for name, p in self.paths.items()}

    def abort(self) -> None:
        for f in self._files.values():
            if not f.closed:
                f.close()
        for t in self._tmp.values():
            t.unlink(missing_ok=True)


def stream_mix(plan: Any, voice: Any, bed: Any, *, meter: MixMeter | None = None,
               stems: StemWriter | None = None, block_frames: int | None = None) -> Iterator[np.ndarray]:
    """Yield the limited mix ``(2, k)`` block by block.

    Parameters
    ----------
    plan : mixer.mixdown.MixPlan
    voice, bed : block readers ``(i0, i1) -> (channels, i1 - i0)`` (or arrays) over ``plan.n_samples``
    meter : MixMeter, optional
        Fed every block of the final mix.
    stems : StemWriter, optional
        Fed the levelled voice and the ducked bed of every block (their sum is the mix before the limiter).
    block_frames : int, optional
        Default: one second, a whole number of the plan's control hops.
    """
    n = plan.n_samples
    block = block_frames or plan.ctl_hop * max(1, int(round(plan.sr / plan.ctl_hop)))
    read_v = voice if callable(voice) else (lambda i0, i1: voice[:, i0:i1])
    read_b = bed if callable(bed) else (lambda i0, i1: bed[:, i0:i1])
    for i0 in range(0, n, block):
        i1 = min(n, i0 + block)
        mix, v, m = plan.render_block(read_v(i0, i1), read_b(i0, i1), i0)
        if stems is not None:
            stems.write(v, m)
        if meter is not None:
            meter.add(mix)
        yield mix
