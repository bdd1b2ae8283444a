"""superpoint_rt.eval.failures: hand-worked pairs for each class, residuals and hull areas by hand."""

from __future__ import annotations

import numpy as np
import pytest

from superpoint_rt.eval.failures import (
    CLASSES,
    HomographyAnatomy,
    classify,
    homography_anatomy,
    hull_fraction,
    oracle_fit,
    summarize,
    true_residuals,
)

SHAPE = (100, 200)  # (H, W)
OFFSET = np.array([5.0, -3.0])
SHIFT = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, -3.0], [0.0, 0.0, 1.0]])  # x + 5, y - 3


def _grid(n: int = 5) -> np.ndarray:
    """n*n points on the rectangle [10, 190] x [10, 90] (x, y), corners included."""
    xs, ys = np.meshgrid(np.linspace(10, 190, n), np.linspace(10, 90, n))
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _pairs(p1: np.ndarray, p2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """kp1, kp2 in shuffled order and the matches that pair them (so indices are exercised)."""
    n = len(p1)
    perm = np.random.default_rng(0).permutation(n)
    kp2 = np.empty_like(p2)
    kp2[perm] = p2
    return p1, kp2, np.stack([np.arange(n), perm], axis=1)


def test_true_residuals_by_hand() -> None:
    r = true_residuals(np.array([[0.0, 0.0], [10.0, 10.0]]), np.array([[8.0, 1.0], [15.0, 7.0]]), SHIFT)
    np.testing.assert_allclose(r, [5.0, 0.0])  # (5,-3) vs (8,1): a 3-4-5 triangle; the second is exact


def test_true_residuals_behind_the_camera_is_inf() -> None:
    h = np.array([[1.0, 0, 0], [0, 1.0, 0], [-0.01, 0, 1.0]])  # w = 1 - 0.01 x: x > 100 is behind
    r = true_residuals(np.array([[50.0, 0.0], [150.0, 0.0]]), np.array([[100.0, 0.0], [0.0, 0.0]]), h)
    assert r[0] == pytest.approx(0.0) and np.isinf(r[1])


def test_hull_fraction_of_a_rectangle() -> None:
    assert hull_fraction(_grid(), SHAPE) == pytest.approx(180 * 80 / (100 * 200))
    assert hull_fraction(_grid()[:2], SHAPE) == 0.0


def test_oracle_fit_recovers_an_exact_homography() -> None:
    p1 = _grid()
    h = oracle_fit(p1, p1 + OFFSET)
    assert h is not None
    np.testing.assert_allclose(h / h[2, 2], SHIFT, atol=1e-6)
    assert oracle_fit(p1[:3], p1[:3]) is None


def test_correct_pair() -> None:
    p1 = _grid()
    kp1, kp2, m = _pairs(p1, p1 + OFFSET)
    a = homography_anatomy(kp1, kp2, m, np.ones(len(m), bool), 0.2, SHIFT, SHAPE)
    assert a.label == "correct"
    assert (a.n_matches, a.n_inliers, a.n_true, a.inliers_off) == (25, 25, 25, 0)
    assert a.inlier_residual_median == pytest.approx(0.0, abs=1e-9)
    assert a.oracle_error == pytest.approx(0.0, abs=1e-4)
    assert a.hull_fraction == pytest.approx(0.72)


def test_fit_class_when_off_matches_were_kept() -> None:
    """25 exact matches + 6 kept inliers 2.5 px off; RANSAC's estimate missed (error 7): the oracle would not."""
    p1 = np.concatenate([_grid(), [[30.0 + 20 * i, 50.0] for i in range(6)]])
    p2 = p1 + OFFSET
    p2[25:] += [1.5, 2.0]  # 2.5 px off
    kp1, kp2, m = _pairs(p1, p2)
    a = homography_anatomy(kp1, kp2, m, np.ones(len(m), bool), 7.0, SHIFT, SHAPE)
    assert a.label == "fit"
    assert (a.n_true, a.inliers_off) == (25, 6)
    assert a.oracle_error < 3.0


def test_precision_class_for_a_clustered_noisy_set() -> None:
    """Ten matches within 1 px of the truth, all in a 4 px patch: a fit on them cannot pin the corners."""
    rng = np.random.default_rng(1)
    p1 = 100.0 + rng.uniform(-2, 2, (10, 2))
    p2 = p1 + OFFSET + rng.uniform(-0.6, 0.6, (10, 2))
    kp1, kp2, m = _pairs(p1, p2)
    a = homography_anatomy(kp1, kp2, m, np.ones(10, bool), 40.0, SHIFT, SHAPE)
    assert a.n_true == 10
    assert a.oracle_error > 3.0
    assert a.label == "precision"


def test_too_few_and_failed_estimates() -> None:
    p1 = _grid()[:5]
    kp1, kp2, m = _pairs(p1, p1 + OFFSET)
    a = homography_anatomy(kp1, kp2, m, np.zeros(5, bool), float("inf"), SHIFT, SHAPE)
    assert a.label == "too_few" and a.n_true == 5 and a.n_inliers == 0
    assert np.isnan(a.inlier_residual_median)
    d = a.to_dict()
    assert d["error"] is None and d["inlier_residual_median"] is None  # JSON-safe
    empty = homography_anatomy(kp1, kp2, np.zeros((0, 2), int), np.zeros(0, bool), float("inf"), SHIFT, SHAPE)
    assert empty.label == "too_few" and empty.oracle_error == float("inf")


def test_classify_order() -> None:
    assert classify(2.0, float("inf"), 0, 3.0, 8) == "correct"
    assert classify(5.0, 1.0, 7, 3.0, 8) == "too_few"
    assert classify(5.0, 1.0, 8, 3.0, 8) == "fit"
    assert classify(5.0, 4.0, 8, 3.0, 8) == "precision"


def test_bad_inputs_raise() -> None:
    p = _grid()
    m = np.stack([np.arange(25), np.arange(25)], axis=1)
    with pytest.raises(ValueError, match="inlier flags"):
        homography_anatomy(p, p, m, np.ones(3, bool), 1.0, SHIFT, SHAPE)
    with pytest.raises(ValueError, match="out of range"):
        homography_anatomy(p, p[:10], m, np.ones(25, bool), 1.0, SHIFT, SHAPE)
    with pytest.raises(ValueError, match="must be > 0"):
        homography_anatomy(p, p, m, np.ones(25, bool), 1.0, SHIFT, SHAPE, eps=0.0)
    with pytest.raises(ValueError, match="min_oracle"):
        homography_anatomy(p, p, m, np.ones(25, bool), 1.0, SHIFT, SHAPE, min_oracle=3)
    with pytest.raises(ValueError, match="3x3"):
        homography_anatomy(p, p, m, np.ones(25, bool), 1.0, np.eye(2), SHAPE)


def test_summarize_counts_and_medians() -> None:
    def item(label: str, inl: int, off: int, oracle: float) -> HomographyAnatomy:
        return HomographyAnatomy(9.0, 100, inl, 50, 1.0, off, 0.3, oracle, label)

    s = summarize([item("fit", 100, 10, 1.0), item("fit", 50, 10, 2.0), item("precision", 80, 0, 5.0)])
    assert s["pairs"] == 3
    assert s["counts"] == {"correct": 0, "fit": 2, "precision": 1, "too_few": 0}
    assert s["fit"]["inliers_off_share"] == pytest.approx(0.15)  # median of 0.1 and 0.2
    assert s["fit"]["oracle_error"] == pytest.approx(1.5)
    assert s["precision"]["oracle_error"] == pytest.approx(5.0)
    assert s["correct"]["n_inliers"] is None
    assert s["all"]["inliers_off_share"] == pytest.approx(0.1)  # median of 0.1, 0.2, 0.0
    assert set(s) == {"pairs", "counts", "all", *CLASSES}


def test_inlier_residuals_by_level_hand_worked() -> None:
    from superpoint_rt.eval.failures import inlier_residuals_by_level, level_pair_key, summarize_levels

    h = np.eye(3)  # image 2 = image 1: the true residual is the plain distance
    kp1 = np.array([[10.0, 10.0], [20.0, 20.0], [30.0, 30.0], [40.0, 40.0]], np.float32)
    kp2 = kp1 + np.array([[0.5, 0.0], [0.0, 2.0], [3.0, 4.0], [0.0, 0.0]], np.float32)
    lv1 = np.array([1.0, 1.0, 0.5, 1.41], np.float32)
    lv2 = np.array([0.5, 0.5, 0.5, 1.0], np.float32)
    matches = np.array([[0, 0], [1, 1], [2, 2], [3, 3]])
    inliers = np.array([True, True, True, False])  # the last one is not RANSAC's: left out
    groups = inlier_residuals_by_level(kp1, kp2, matches, inliers, h, lv1, lv2)
    assert level_pair_key(1.41, 0.71) == "1.41->0.71"
    assert set(groups) == {"1->0.5", "0.5->0.5"}
    np.testing.assert_allclose(groups["1->0.5"], [0.5, 2.0])
    np.testing.assert_allclose(groups["0.5->0.5"], [5.0])
    rows = summarize_levels(groups, oracle_px=1.0)
    assert [r["levels"] for r in rows] == ["1->0.5", "0.5->0.5"]  # most inliers first
    first = rows[0]
    assert first["inliers"] == 2 and first["share"] == pytest.approx(2 / 3)
    assert first["residual_median"] == pytest.approx(1.25)
    assert first["residual_median_level_px"] == pytest.approx(0.625)  # x image 2's scale 0.5
    assert first["over_oracle_px"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="levels"):
        inlier_residuals_by_level(kp1, kp2, matches, inliers, h, lv1[:3], lv2)
    with pytest.raises(ValueError, match="inlier flags"):
        inlier_residuals_by_level(kp1, kp2, matches, inliers[:2], h, lv1, lv2)
