"""superpoint_rt.eval.pair_view: true errors against a hand-worked homography, colour classes, the drawing."""

from __future__ import annotations

import numpy as np
import pytest

from superpoint_rt.eval.pair_view import (
    GOOD,
    NEAR,
    WRONG,
    PairMatches,
    draw_pair,
    error_classes,
    stack_rows,
    true_errors,
)

#: image 1 -> image 2: x' = 2x + 10, y' = 2y - 4
H = np.array([[2.0, 0, 10], [0, 2.0, -4], [0, 0, 1]])


def test_true_errors_hand_worked() -> None:
    kp1 = np.array([[10.0, 20.0], [0.0, 0.0], [5.0, 5.0]])
    # H maps them to (30, 36), (10, -4), (20, 6); kp2 puts the first exactly, the second 0.5 px off in x, the third
    # 3 px off in x and 4 in y (5 px)
    kp2 = np.array([[30.0, 36.0], [10.5, -4.0], [23.0, 10.0]])
    err = true_errors(kp1, kp2, np.array([[0, 0], [1, 1], [2, 2], [0, 2]]), H)
    np.testing.assert_allclose(err, [0.0, 0.5, 5.0, np.hypot(7.0, 26.0)])
    assert error_classes(np.array([0.0, 1.0, 1.01, 3.0, 3.5, np.inf])).tolist() == [0, 0, 1, 1, 2, 2]
    assert true_errors(kp1, kp2, np.zeros((0, 2), int), H).shape == (0,)


def test_true_errors_refuses_a_bad_homography() -> None:
    with pytest.raises(ValueError, match="3x3"):
        true_errors(np.zeros((1, 2)), np.zeros((1, 2)), np.array([[0, 0]]), np.eye(2))
    with pytest.raises(ValueError, match="finite"):
        true_errors(np.zeros((1, 2)), np.zeros((1, 2)), np.array([[0, 0]]), np.full((3, 3), np.nan))


def _pair() -> tuple[np.ndarray, np.ndarray, PairMatches]:
    img1 = np.zeros((40, 50), np.uint8)
    img2 = np.zeros((100, 120), np.uint8)
    kp1 = np.array([[5.0, 5.0], [10.0, 30.0], [20.0, 10.0]])
    # H kp1 = (20, 6), (30, 56), (50, 16): one exact, one 2 px off, one 10 px off
    kp2 = np.array([[20.0, 6.0], [32.0, 56.0], [60.0, 16.0]])
    result = PairMatches(kp1, kp2, np.array([[0, 0], [1, 1], [2, 2]]), np.array([True, True, True]), 1.25, "test")
    return img1, img2, result


def _has(image: np.ndarray, colour: tuple[int, int, int], tol: float = 30.0) -> bool:
    """Some pixel within ``tol`` of ``colour`` (lines are anti-aliased, so their pixels blend a little)."""
    return bool((np.linalg.norm(image.reshape(-1, 3).astype(float) - colour, axis=1) < tol).any())


def test_draw_pair_colours_each_inlier_by_its_true_error() -> None:
    img1, img2, result = _pair()
    out = draw_pair(img1, img2, result, H, gap=8)
    assert out.dtype == np.uint8 and out.shape == (100 + 22, 50 + 8 + 120, 3)
    assert _has(out[:100], GOOD) and _has(out[:100], NEAR) and _has(out[:100], WRONG)
    # each line alone carries its own colour and no other: match 1 (2 px off) is orange
    only1 = PairMatches(result.kp1, result.kp2, result.matches, np.array([False, True, False]), 1.0, "one")
    drawn = draw_pair(img1, img2, only1, H)[:100]
    assert _has(drawn, NEAR) and not _has(drawn, GOOD) and not _has(drawn, WRONG)
    # RANSAC outliers are not drawn: with every match an outlier only grey dots remain
    quiet = PairMatches(result.kp1, result.kp2, result.matches, np.zeros(3, bool), float("inf"), "none")
    drawn = draw_pair(img1, img2, quiet, H)[:100]
    assert not any(_has(drawn, c) for c in (GOOD, NEAR, WRONG))


def test_draw_pair_refuses_bad_input() -> None:
    img1, img2, result = _pair()
    with pytest.raises(ValueError, match="uint8"):
        draw_pair(img1.astype(np.float32), img2, result, H)
    bad = PairMatches(result.kp1, result.kp2, np.array([[0, 7]]), np.array([True]), 1.0, "x")
    with pytest.raises(ValueError, match="outside"):
        draw_pair(img1, img2, bad, H)
    short = PairMatches(result.kp1, result.kp2, result.matches, np.array([True]), 1.0, "x")
    with pytest.raises(ValueError, match="inliers has 1"):
        draw_pair(img1, img2, short, H)
    with pytest.raises(ValueError, match="gray"):
        draw_pair(np.zeros((4, 4, 2), np.uint8), img2, result, H)


def test_stack_rows_pads_to_the_widest() -> None:
    a = np.zeros((10, 30, 3), np.uint8)
    b = np.zeros((5, 50, 3), np.uint8)
    out = stack_rows([a, b], gap=2)
    assert out.shape == (10 + 2 + 5, 50, 3)
    assert (out[:10, 30:] == 255).all() and (out[10:12] == 255).all() and (out[12:, :50] == 0).all()
    with pytest.raises(ValueError, match="no rows"):
        stack_rows([])
