"""Sub-pixel refinement (superpoint_rt.subpixel): the parabola is exact on parabolic peaks, the centroid equals
hand-worked 3x3 means; both bounded, and wired into the API."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from superpoint_rt.subpixel import refine_subpixel


def _paraboloid(h: int, w: int, cx: float, cy: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return (1.0 - 0.01 * ((xx - cx) ** 2 + (yy - cy) ** 2)).astype(np.float32)


@pytest.mark.parametrize(("cx", "cy"), [(10.3, 7.8), (5.0, 5.0), (12.49, 3.6)])
def test_recovers_paraboloid_peak(cx: float, cy: float) -> None:
    heat = _paraboloid(16, 20, cx, cy)
    kp = np.array([[round(cx), round(cy)]], np.float32)
    out = refine_subpixel(heat, kp, "parabola")
    np.testing.assert_allclose(out, [[cx, cy]], atol=1e-4)


def test_bounded_and_borders() -> None:
    heat = np.zeros((8, 8), np.float32)
    heat[4, 4] = 1.0
    heat[4, 5] = 1.0  # a plateau to the right: the fit vertex is at +0.5
    heat[0, 3], heat[0, 2], heat[0, 4] = 1.0, 0.5, 0.2  # top row: no y neighbour above
    heat[6, 6] = 0.3  # flat surroundings except this pixel... concave both ways
    kp = np.array([[4, 4], [3, 0], [6, 6], [1, 6]], np.float32)
    out = refine_subpixel(heat, kp, "parabola")
    assert out[0, 0] == pytest.approx(4.5) and out[0, 1] == pytest.approx(4.0)
    # x: (0.5 - 0.2) / (2 * (0.5 - 2 + 0.2)) = -0.1154; y: row -1 is outside -> 0
    assert out[1, 0] == pytest.approx(3.0 + 0.3 / (2 * -1.3)) and out[1, 1] == pytest.approx(0.0)
    np.testing.assert_allclose(out[2], [6.0, 6.0])  # symmetric peak stays
    np.testing.assert_allclose(out[3], [1.0, 6.0])  # all zero around: not concave, no move
    assert np.all(np.abs(out - kp) <= 0.5)
    assert refine_subpixel(heat, np.zeros((0, 2), np.float32), "parabola").shape == (0, 2)


def test_centroid_hand_worked() -> None:
    """3x3 heat-weighted means worked by hand: interior, image edge (outside weighs 0), zero window, clipping."""
    heat = np.zeros((6, 7), np.float32)
    heat[2, 2], heat[2, 3], heat[1, 2], heat[3, 1] = 0.5, 0.25, 0.125, 0.125  # window of (2, 2): total 1.0
    heat[0, 6], heat[0, 5], heat[1, 6] = 0.5, 0.25, 0.25  # corner (6, 0): only 4 of 9 cells are inside
    heat[5, 0] = 0.0  # (0, 5): its window is all zeros -> no move
    kp = np.array([[2, 2], [6, 0], [0, 5]], np.float32)
    out = refine_subpixel(heat, kp, "centroid")
    # x: (0.25 * 1 + 0.125 * -1) / 1.0 = 0.125; y: (0.125 * -1 + 0.125 * 1) / 1.0 = 0
    np.testing.assert_allclose(out[0], [2.125, 2.0], atol=1e-7)
    # x: (0.25 * -1) / 1.0; y: (0.25 * 1) / 1.0
    np.testing.assert_allclose(out[1], [5.75, 0.25], atol=1e-7)
    np.testing.assert_array_equal(out[2], [0.0, 5.0])
    lopsided = np.zeros((3, 3), np.float32)
    lopsided[1, 1], lopsided[1, 2], lopsided[0, 2], lopsided[2, 2] = 0.1, 1.0, 1.0, 1.0  # mean dx = 3 / 3.1 > 0.5
    np.testing.assert_allclose(refine_subpixel(lopsided, np.array([[1, 1]], np.float32), "centroid"), [[1.5, 1.0]])


def test_centroid5_hand_worked() -> None:
    """5x5 heat-weighted means worked by hand: a tail two pixels out counts (the 3x3 window misses it), the image edge
    (outside weighs 0), and the [-1, 1] clip."""
    heat = np.zeros((9, 9), np.float32)
    heat[4, 4], heat[4, 6], heat[2, 5], heat[5, 3] = 0.5, 0.25, 0.125, 0.125  # window of (4, 4): total 1.0
    out = refine_subpixel(heat, np.array([[4, 4]], np.float32), "centroid5")
    # x: (0.25 * 2 + 0.125 * 1 + 0.125 * -1) / 1.0 = 0.5; y: (0.125 * -2 + 0.125 * 1) / 1.0 = -0.125
    np.testing.assert_allclose(out, [[4.5, 3.875]], atol=1e-7)
    # the 3x3 window of the same point sees 0.5 and 0.125 only: x (0.125 * -1) / 0.625 = -0.2, y 0.125 / 0.625
    np.testing.assert_allclose(refine_subpixel(heat, np.array([[4, 4]], np.float32), "centroid"), [[3.8, 4.2]])
    edge = np.zeros((5, 6), np.float32)
    edge[0, 0], edge[0, 2], edge[2, 1] = 0.5, 0.25, 0.25  # corner (0, 0): 9 of its 25 cells are inside
    # x: (0.25 * 2 + 0.25 * 1) / 1.0 = 0.75; y: (0.25 * 2) / 1.0 = 0.5
    np.testing.assert_allclose(refine_subpixel(edge, np.array([[0, 0]], np.float32), "centroid5"), [[0.75, 0.5]])
    lopsided = np.zeros((5, 5), np.float32)
    lopsided[2, 2], lopsided[2, 4], lopsided[0, 4], lopsided[4, 4] = 0.01, 1.0, 1.0, 1.0  # mean dx = 6 / 3.01 > 1
    np.testing.assert_allclose(refine_subpixel(lopsided, np.array([[2, 2]], np.float32), "centroid5"), [[3.0, 2.0]])


def test_centroid5_sees_more_of_a_wide_peak() -> None:
    """On a Gaussian peak about a pixel wide (sigma 1) off the grid, the 3x3 mean stops short of the true peak (the
    window cuts off its tails); the 5x5 mean lands closer, on the same side."""
    yy, xx = np.mgrid[0:15, 0:15].astype(np.float64)
    heat = np.exp(-((xx - 7.3) ** 2 + (yy - 6.8) ** 2) / 2.0).astype(np.float32)
    kp = np.array([[7, 7]], np.float32)
    three, five = refine_subpixel(heat, kp, "centroid")[0], refine_subpixel(heat, kp, "centroid5")[0]
    truth = np.array([7.3, 6.8])
    assert np.all(np.abs(five - truth) < np.abs(three - truth))
    assert 7.0 < three[0] < five[0] <= 7.3 and 6.8 <= five[1] < three[1] < 7.0


def test_centroid_symmetric_peak_stays_and_moves_toward_mass() -> None:
    heat = _paraboloid(16, 20, 10.0, 7.0).clip(0.0, None)
    np.testing.assert_allclose(refine_subpixel(heat, np.array([[10, 7]], np.float32), "centroid"), [[10.0, 7.0]])
    heat = _paraboloid(16, 20, 10.3, 6.8).clip(0.0, None)
    out = refine_subpixel(heat, np.array([[10, 7]], np.float32), "centroid")
    assert 10.0 < out[0, 0] <= 10.3 and 6.8 <= out[0, 1] < 7.0  # toward the true peak, not past it


def test_bad_input() -> None:
    heat = np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError, match="heatmap"):
        refine_subpixel(heat[0], np.zeros((1, 2), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        refine_subpixel(heat, np.zeros((3,), np.float32))
    with pytest.raises(ValueError, match="inside"):
        refine_subpixel(heat, np.array([[8, 0]], np.float32))
    with pytest.raises(ValueError, match="subpixel method"):
        refine_subpixel(heat, np.zeros((1, 2), np.float32), "gaussian")


def test_api_subpixel_moves_points_within_a_pixel() -> None:
    from superpoint_rt import SuperPoint

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img = (np.random.default_rng(0).random((64, 80)) * 255).astype(np.uint8)
        a = SuperPoint("random", backend="onnxruntime", conf_threshold=0.0, max_keypoints=50)(img)
        b = SuperPoint("random", backend="onnxruntime", conf_threshold=0.0, max_keypoints=50, subpixel=True)(img)
    assert len(a) == len(b) > 0
    assert np.all(np.abs(b.keypoints - a.keypoints) <= 1.0)  # the default centroid5 moves up to 1 px per axis
    assert np.any(b.keypoints != np.rint(b.keypoints))
    np.testing.assert_allclose(np.linalg.norm(b.descriptors, axis=1), 1.0, atol=1e-5)


def test_api_subpixel_method() -> None:
    """``subpixel_method="centroid"`` reaches the CPU pipeline: the same points as integer detection moved by the
    NumPy centroid of the same heatmap; an unknown name is a ValueError naming the option."""
    from superpoint_rt import SuperPoint

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img = (np.random.default_rng(1).random((64, 80)) * 255).astype(np.uint8)
        plain = SuperPoint("random", backend="onnxruntime", conf_threshold=0.0, max_keypoints=50, subpixel=False)
        cen = SuperPoint("random", backend="onnxruntime", conf_threshold=0.0, max_keypoints=50,
                         subpixel_method="centroid")  # fmt: skip
        a, b = plain(img), cen(img)
        heat = plain.heatmap(img)
        with pytest.raises(ValueError, match="subpixel_method"):
            SuperPoint("random", backend="onnxruntime", subpixel_method="gauss")
    assert len(a) == len(b) > 0
    assert np.all(np.abs(b.keypoints - a.keypoints) <= 0.5)
    np.testing.assert_array_equal(b.keypoints, refine_subpixel(heat, a.keypoints, "centroid"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wide = SuperPoint("random", backend="onnxruntime", conf_threshold=0.0, max_keypoints=50,
                          subpixel_method="centroid5")(img)  # fmt: skip
    np.testing.assert_array_equal(wide.keypoints, refine_subpixel(heat, a.keypoints, "centroid5"))
    assert np.all(np.abs(wide.keypoints - a.keypoints) <= 1.0)
