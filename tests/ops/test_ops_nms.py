"""ops.nms (C++) against the NumPy reference, hand-worked cases and the greedy invariants."""

from __future__ import annotations

import numpy as np
import pytest

from superpoint_rt import ops
from superpoint_rt.ops import reference

SIZES = [(240, 320), (480, 640), (720, 1280)]


def peaky_heat(h: int, w: int, seed: int) -> np.ndarray:
    """A heatmap like a trained detector's: mostly ~0, a peak in some cells, some near-ties."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((65, h // 8, w // 8)).astype(np.float32)
    logits[64] += 6.0
    peaks = rng.random((h // 8, w // 8)) < 0.2
    ii, jj = np.nonzero(peaks)
    logits[rng.integers(0, 64, len(ii)), ii, jj] += rng.uniform(3, 12, len(ii)).astype(np.float32)
    return reference.heatmap(logits)


def check_greedy_invariants(heat: np.ndarray, thr: float, r: int, kept: np.ndarray) -> None:
    """Kept points are candidates, pairwise farther than r (Chebyshev), and every other candidate
    lies within r of a kept point that ranks before it (so the greedy pass removed it)."""
    h, w = heat.shape
    flat = heat.ravel()
    cand = np.flatnonzero(flat >= np.float32(thr))
    assert set(kept.tolist()) <= set(cand.tolist())
    rank = np.full(flat.size, -1, dtype=np.int64)  # processing position of every candidate
    order = np.lexsort((cand, -flat[cand].astype(np.float64)))
    rank[cand[order]] = np.arange(len(cand))
    assert np.all(np.diff(rank[kept]) > 0), "kept points must come out in processing order"
    kept_img = np.full((h, w), -1, dtype=np.int64)
    ky, kx = np.divmod(kept, w)
    kept_img[ky, kx] = rank[kept]
    for i in cand.tolist():
        y, x = divmod(i, w)
        win = kept_img[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1]
        others = win[(win >= 0) & (win != rank[i])]
        if kept_img[y, x] >= 0:
            assert not np.any(others < rank[i]), "a kept point lies within r of an earlier kept point"
        else:
            assert np.any(others < rank[i]), "a candidate was dropped without an earlier kept neighbour"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("radius", [0, 1, 4])
def test_matches_reference(size: tuple[int, int], radius: int) -> None:
    heat = peaky_heat(*size, seed=size[0] + radius)
    kept = ops.nms(heat, 0.015, radius)
    assert kept.dtype == np.int64
    np.testing.assert_array_equal(kept, reference.nms(heat, 0.015, radius))


def test_uniform_random_heat_many_candidates() -> None:
    heat = np.random.default_rng(7).random((240, 320), dtype=np.float32)
    kept = ops.nms(heat, 0.9, 3)
    np.testing.assert_array_equal(kept, reference.nms(heat, 0.9, 3))
    check_greedy_invariants(heat, 0.9, 3, kept)


@pytest.mark.parametrize("radius", [1, 4, 9])
def test_greedy_invariants_every_pixel_a_candidate(radius: int) -> None:
    """720x1280 with all 921,600 pixels candidates (threshold 0): fast (O(N log N)) and greedy."""
    heat = np.random.default_rng(8).random((720, 1280), dtype=np.float32)
    kept = ops.nms(heat, 0.0, radius)
    # kept points are pairwise > r apart: at most one per (r+1) x (r+1) block
    assert 0 < len(kept) <= (720 // (radius + 1) + 1) * (1280 // (radius + 1) + 1)
    ky, kx = np.divmod(kept, 1280)
    assert len(np.unique(ky // (radius + 1) * 10**6 + kx // (radius + 1))) == len(kept)
    crop = heat[:96, :128].copy()  # the full invariant check (a Python loop) on a crop
    check_greedy_invariants(crop, 0.0, radius, ops.nms(crop, 0.0, radius))


def test_three_by_three_hand_worked() -> None:
    heat = np.array([[0.1, 0.5, 0.2], [0.3, 0.9, 0.4], [0.6, 0.2, 0.8]], np.float32)
    np.testing.assert_array_equal(ops.nms(heat, 0.25, 1), [4])  # the centre suppresses all
    np.testing.assert_array_equal(ops.nms(heat, 0.25, 0), [4, 8, 6, 1, 5, 3])  # r=0: every candidate
    # the centre below the threshold: corners at distance 2 survive each other
    heat[1, 1] = 0.0
    np.testing.assert_array_equal(ops.nms(heat, 0.25, 1), [8, 6, 1])


def test_row_hand_worked() -> None:
    heat = np.array([[0.5, 0.9, 0.5, 0.1, 0.7]], np.float32)
    np.testing.assert_array_equal(ops.nms(heat, 0.2, 1), [1, 4])
    np.testing.assert_array_equal(ops.nms(heat, 0.2, 2), [1, 4])
    np.testing.assert_array_equal(ops.nms(heat, 0.2, 3), [1])


def test_all_equal_scores_lower_index_wins() -> None:
    heat = np.full((4, 4), 0.5, np.float32)
    np.testing.assert_array_equal(ops.nms(heat, 0.1, 1), [0, 2, 8, 10])
    np.testing.assert_array_equal(ops.nms(heat, 0.1, 0), np.arange(16))
    np.testing.assert_array_equal(ops.nms(heat, 0.1, 5), [0])


def test_plateau() -> None:
    heat = np.zeros((7, 7), np.float32)
    heat[2:5, 2:5] = 0.7
    np.testing.assert_array_equal(ops.nms(heat, 0.5, 1), [16, 18, 30, 32])
    np.testing.assert_array_equal(ops.nms(heat, 0.5, 2), [16])
    heat[4, 4] = 0.70001  # a strict maximum at the plateau's corner wins and suppresses its square
    np.testing.assert_array_equal(ops.nms(heat, 0.5, 1), [32, 16, 18, 30])
    np.testing.assert_array_equal(ops.nms(heat, 0.5, 2), [32])


def test_threshold_is_inclusive() -> None:
    heat = np.array([[0.25, 0.0, 0.0, 0.5]], np.float32)
    np.testing.assert_array_equal(ops.nms(heat, 0.25, 1), [3, 0])
    np.testing.assert_array_equal(ops.nms(heat, 0.2500001, 1), [3])


def test_threshold_compared_in_float32() -> None:
    """0.015 is not a float32: a heat value equal to float32(0.015) is a candidate."""
    v = np.float32(0.015)
    assert float(v) < 0.015
    heat = np.array([[v]], np.float32)
    np.testing.assert_array_equal(ops.nms(heat, 0.015, 4), [0])
    np.testing.assert_array_equal(reference.nms(heat, 0.015, 4), [0])


def test_signed_zeros_tie_and_negative_scores() -> None:
    heat = np.array([[-0.0, 0.0, -1.0, -0.5]], np.float32)
    np.testing.assert_array_equal(ops.nms(heat, 0.0, 0), [0, 1])  # -0.0 == 0.0: index decides
    np.testing.assert_array_equal(ops.nms(heat, -2.0, 0), [0, 1, 3, 2])
    np.testing.assert_array_equal(ops.nms(heat, -2.0, 1), [0, 3])
    np.testing.assert_array_equal(reference.nms(heat, -2.0, 1), [0, 3])


def test_no_candidates_and_tiny_images() -> None:
    assert ops.nms(np.zeros((5, 5), np.float32), 0.1, 2).shape == (0,)
    np.testing.assert_array_equal(ops.nms(np.ones((1, 1), np.float32), 0.5, 100), [0])
    heat = np.array([[0.2], [0.9], [0.3]], np.float32)
    np.testing.assert_array_equal(ops.nms(heat, 0.1, 1), [1])
    np.testing.assert_array_equal(ops.nms(heat, 0.1, 10**9), [1])  # a radius beyond the image


def test_infinite_threshold() -> None:
    heat = np.random.default_rng(9).random((6, 7), dtype=np.float32)
    assert len(ops.nms(heat, float("inf"), 1)) == 0
    np.testing.assert_array_equal(ops.nms(heat, float("-inf"), 2), reference.nms(heat, float("-inf"), 2))
