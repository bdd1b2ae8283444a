"""ops.heatmap (C++) against the NumPy reference and hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from superpoint_rt import ops
from superpoint_rt.ops import reference

SIZES = [(240, 320), (480, 640), (720, 1280)]


def random_logits(b: int, h: int, w: int, seed: int, scale: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal((b, 65, h // 8, w // 8))).astype(np.float32)


@pytest.mark.parametrize("size", SIZES)
def test_matches_reference(size: tuple[int, int]) -> None:
    logits = random_logits(2, *size, seed=sum(size))
    heat = ops.heatmap(logits)
    assert heat.dtype == np.float32
    assert heat.shape == (2, *size)
    np.testing.assert_allclose(heat, reference.heatmap(logits), rtol=0, atol=1e-5)


def test_unbatched_equals_batched() -> None:
    logits = random_logits(3, 64, 96, seed=1)
    batched = ops.heatmap(logits)
    for i in range(3):
        single = ops.heatmap(logits[i])
        assert single.shape == (64, 96)
        np.testing.assert_array_equal(single, batched[i])


def test_float16_input() -> None:
    logits16 = random_logits(1, 80, 120, seed=2).astype(np.float16)
    heat = ops.heatmap(logits16)
    assert heat.dtype == np.float32
    np.testing.assert_allclose(heat, reference.heatmap(logits16), rtol=0, atol=1e-5)
    # Per-element conversion: identical to feeding the same values as float32.
    np.testing.assert_array_equal(heat, ops.heatmap(logits16.astype(np.float32)))


def test_layout_explicit_loop() -> None:
    """heat[8i + k // 8, 8j + k % 8] == softmax(logits[:, i, j])[k], written out cell by cell."""
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((65, 3, 4)).astype(np.float32)
    heat = ops.heatmap(logits)
    for i in range(3):
        for j in range(4):
            z = logits[:, i, j].astype(np.float64)
            p = np.exp(z - z.max())
            p /= p.sum()
            for k in range(64):
                assert heat[8 * i + k // 8, 8 * j + k % 8] == pytest.approx(p[k], abs=1e-6)


def test_uniform_logits_give_one_over_65() -> None:
    heat = ops.heatmap(np.zeros((65, 2, 2), np.float32))
    np.testing.assert_allclose(heat, np.full((16, 16), 1 / 65), rtol=1e-6)


def test_one_hot_cells() -> None:
    """A large logit at channel k of cell (i, j) puts ~1 at pixel (8i + k // 8, 8j + k % 8)."""
    logits = np.zeros((65, 2, 3), np.float32)
    logits[64] = 50.0  # dustbin everywhere ...
    logits[64, 1, 2] = 0.0
    logits[19, 1, 2] = 50.0  # ... except cell (1, 2), whose channel 19 = row 2, column 3 of the cell
    heat = ops.heatmap(logits)
    y, x = np.unravel_index(np.argmax(heat), heat.shape)
    assert (y, x) == (8 + 2, 16 + 3)
    assert heat[y, x] == pytest.approx(1.0, abs=1e-6)
    heat[y, x] = 0
    assert heat.max() < 1e-6


def test_huge_logits_do_not_overflow() -> None:
    """Max-subtraction in float32: logits far beyond exp's range still give a valid softmax."""
    rng = np.random.default_rng(4)
    logits = (1e4 * rng.standard_normal((65, 4, 5))).astype(np.float32)
    heat = ops.heatmap(logits)
    assert np.isfinite(heat).all()
    assert heat.min() >= 0 and heat.max() <= 1
    np.testing.assert_allclose(heat, reference.heatmap(logits), rtol=0, atol=1e-5)
    # float16 near its maximum (65504) too
    big16 = np.full((65, 2, 2), 6.5e4, np.float16)
    big16[3] = -6.5e4
    np.testing.assert_allclose(ops.heatmap(big16), reference.heatmap(big16), rtol=0, atol=1e-6)


def test_tiny_maps_and_empty_batch() -> None:
    logits = random_logits(1, 8, 8, seed=5)
    assert ops.heatmap(logits).shape == (1, 8, 8)
    empty = ops.heatmap(np.zeros((0, 65, 2, 3), np.float32))
    assert empty.shape == (0, 16, 24)


def test_non_contiguous_input_is_handled() -> None:
    logits = random_logits(2, 32, 48, seed=6)
    view = np.swapaxes(np.swapaxes(logits, 2, 3).copy(), 2, 3)  # same values, Fortran-ish strides
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(ops.heatmap(view), ops.heatmap(logits))
