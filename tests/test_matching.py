"""superpoint_rt.matching: the one mutual-nearest-neighbour matcher, against hand-worked cases and a brute-force loop
in float64; RANSAC homography on exact correspondences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from superpoint_rt.matching import estimate_homography, mutual_nearest, mutual_nn_match


def _brute_force(a: np.ndarray, b: np.ndarray, max_distance: float | None) -> set[tuple[int, int]]:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    out = set()
    for i, j in itertools.product(range(len(a)), range(len(b))):
        di = [np.linalg.norm(a64[i] - b64[q]) for q in range(len(b))]
        dj = [np.linalg.norm(a64[p] - b64[j]) for p in range(len(a))]
        if int(np.argmin(di)) == j and int(np.argmin(dj)) == i:
            if max_distance is None or di[j] <= max_distance:
                out.add((i, j))
    return out


def test_hand_worked_case() -> None:
    # a0 <-> b1 at 0.25; a2 <-> b0 at 0.125; a1's nearest is b0 (0.375), but b0's is a2 -> a1 unmatched.
    # Every coordinate and distance is exact in binary, so the threshold comparisons are exact too.
    a = np.array([[0.0, 0.0], [1.0, 0.0], [1.5, 0.0]], np.float32)
    b = np.array([[1.375, 0.0], [0.0, 0.25]], np.float32)
    np.testing.assert_array_equal(mutual_nn_match(a, b, max_distance=None), [[0, 1], [2, 0]])
    np.testing.assert_array_equal(mutual_nn_match(a, b, max_distance=0.2), [[2, 0]])  # 0.25 > 0.2
    np.testing.assert_array_equal(mutual_nn_match(a, b, max_distance=0.25), [[0, 1], [2, 0]])  # <= is kept


def test_equals_a_brute_force_loop() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(size=(30, 16)).astype(np.float32)
    b = np.concatenate([a[rng.permutation(30)[:20]] + 0.1 * rng.normal(size=(20, 16)), rng.normal(size=(15, 16))])
    b = b.astype(np.float32)
    for thr in (None, 0.5, 2.0, 5.0):
        got = {tuple(m) for m in mutual_nn_match(a, b, max_distance=thr).tolist()}
        assert got == _brute_force(a, b, thr)


def test_rows_sorted_and_each_index_used_once() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(200, 32)).astype(np.float32)
    b = rng.normal(size=(150, 32)).astype(np.float32)
    m = mutual_nn_match(a, b, max_distance=None)
    assert m.dtype == np.int64 and m.shape[1] == 2
    assert np.all(np.diff(m[:, 0]) > 0) and len(set(m[:, 1].tolist())) == len(m)


def test_mutual_nearest_ties_take_the_first_index() -> None:
    d = np.array([[1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(mutual_nearest(d), [[0, 0]])  # row 0 -> col 0 (first), col 0 -> row 0 (first)
    assert mutual_nearest(np.zeros((0, 3))).shape == (0, 2)
    with pytest.raises(ValueError, match="must be"):
        mutual_nearest(np.zeros(3))


def test_errors_and_empty() -> None:
    assert mutual_nn_match(np.zeros((0, 8), np.float32), np.ones((3, 8), np.float32)).shape == (0, 2)
    with pytest.raises(ValueError, match="dimensions differ"):
        mutual_nn_match(np.zeros((2, 8), np.float32), np.zeros((2, 9), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        mutual_nn_match(np.full((2, 8), np.nan, np.float32), np.zeros((2, 8), np.float32))
    with pytest.raises(TypeError, match="float"):
        mutual_nn_match(np.zeros((2, 8), np.int32), np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        mutual_nn_match(np.zeros(8, np.float32), np.zeros((2, 8), np.float32))


def test_homography_from_exact_matches() -> None:
    h = np.array([[1.1, 0.05, 3.0], [-0.02, 0.95, -2.0], [1e-4, 2e-4, 1.0]])
    rng = np.random.default_rng(0)
    pa = rng.uniform(0, 300, size=(40, 2))
    q = np.c_[pa, np.ones(40)] @ h.T
    pb = q[:, :2] / q[:, 2:]
    matches = np.stack([np.arange(40), np.arange(40)], axis=1)
    est, inliers = estimate_homography(pa, pb, matches, 1.0)
    assert est is not None and inliers.all()
    np.testing.assert_allclose(est / est[2, 2], h, rtol=1e-5, atol=1e-5)  # OpenCV refines in float64 to ~1e-6
    none, mask = estimate_homography(pa, pb, matches[:3])
    assert none is None and mask.shape == (3,) and not mask.any()
