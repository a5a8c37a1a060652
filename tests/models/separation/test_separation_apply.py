"""Chunked application: plans cover the input, cross-fades reconstruct it, models see bounded chunks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose

from models.separation.apply import chunk_plan, fit_length, iter_blocks, overlap_add, resample


@pytest.mark.parametrize("n", [1, 999, 1000, 1001, 4321, 10_000])
def test_chunk_plan_covers_input_with_exact_overlaps(n: int) -> None:
    plan = chunk_plan(n, 1000, 250)
    assert plan[0][0] == 0 and plan[-1][1] == n
    assert all(stop - start <= 1000 for start, stop in plan)
    for (s0, e0), (s1, e1) in itertools.pairwise(plan):
        assert e0 - s1 == 250  # consecutive chunks share exactly the overlap
        assert e1 - s1 > 250  # and the last one is longer than it


def test_iter_blocks_is_a_partition() -> None:
    blocks = list(iter_blocks(10_500, 1000))
    assert blocks[0] == (0, 1000) and blocks[-1] == (10_000, 10_500)
    assert sum(b - a for a, b in blocks) == 10_500


def test_overlap_add_of_identity_reconstructs_input_and_bounds_chunks(rng: np.random.Generator) -> None:
    audio = rng.standard_normal((2, 12_345)).astype(np.float32)
    seen: list[int] = []

    def identity(chunk: np.ndarray) -> np.ndarray:
        seen.append(chunk.shape[1])
        return np.stack([chunk, 0.5 * chunk])

    out = overlap_add(identity, audio, n_stems=2, chunk_samples=2000, overlap_samples=500)
    assert out.shape == (2, 2, 12_345) and out.dtype == np.float32
    assert_allclose(out[0], audio, atol=1e-6)
    assert_allclose(out[1], 0.5 * audio, atol=1e-6)
    assert max(seen) <= 2000 and len(seen) == len(chunk_plan(12_345, 2000, 500))


def test_overlap_add_never_calls_the_model_on_silence(rng: np.random.Generator) -> None:
    audio = np.zeros((1, 10_000), dtype=np.float32)
    audio[:, 6000:] = rng.standard_normal(4000)
    calls: list[int] = []

    def biased(chunk: np.ndarray) -> np.ndarray:  # a model that invents sound: must not reach silent chunks
        calls.append(chunk.shape[1])
        return np.ones((1, *chunk.shape), dtype=np.float32)

    out = overlap_add(biased, audio, n_stems=1, chunk_samples=2000, overlap_samples=0)
    assert not np.any(out[0, :, :6000])
    assert len(calls) == 2


@pytest.mark.parametrize(("sr_in", "sr_out"), [(16_000, 48_000), (48_000, 44_100), (44_100, 44_100)])
def test_resample_keeps_channels_and_duration(sr_in: int, sr_out: int, rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, sr_in)).astype(np.float32) * 0.1
    y = fit_length(resample(x, sr_in, sr_out), sr_out)
    assert y.shape == (2, sr_out) and y.dtype == np.float32
