"""Drawing helpers: colours where expected, sub-pixel positions, shapes, input untouched, clear errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from superpoint_rt.drawing import draw_keypoints, draw_matches, draw_text, draw_tracks, to_bgr
from superpoint_rt.tracking import Tracks


def test_to_bgr() -> None:
    g = np.full((4, 5), 7, np.uint8)
    assert to_bgr(g).shape == (4, 5, 3) and (to_bgr(g) == 7).all()
    f = np.full((4, 5), 0.5, np.float32)
    assert (to_bgr(f) == 128).all()
    with pytest.raises(ValueError):
        to_bgr(np.zeros((4, 5, 2), np.uint8))
    with pytest.raises(TypeError):
        to_bgr(np.zeros((4, 5), np.int32))


def test_draw_keypoints_position_colour_and_copy() -> None:
    img = np.zeros((40, 60), np.uint8)
    out = draw_keypoints(img, np.array([[10.0, 20.0]]), color=(0, 255, 0))
    assert out.shape == (40, 60, 3) and out.dtype == np.uint8
    assert tuple(out[20, 10]) == (0, 255, 0)  # (x, y) = (column, row)
    assert out[:, 30:].max() == 0
    assert img.max() == 0  # input untouched


def test_draw_keypoints_subpixel_centre() -> None:
    out = draw_keypoints(np.zeros((40, 40), np.uint8), np.array([[15.5, 20.25]]), color=(255, 255, 255), radius=3)
    w = out[..., 0].astype(np.float64)
    ys, xs = np.mgrid[0:40, 0:40]
    cx, cy = (w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()
    assert abs(cx - 15.5) < 0.15 and abs(cy - 20.25) < 0.15  # pixel centres at integer coordinates


def test_draw_keypoints_score_colours() -> None:
    out = draw_keypoints(np.zeros((20, 40), np.uint8), np.array([[5.0, 10.0], [30.0, 10.0]]), np.array([0.1, 0.9]))
    lo = cv2.applyColorMap(np.array([[0]], np.uint8), cv2.COLORMAP_TURBO)[0, 0]
    hi = cv2.applyColorMap(np.array([[255]], np.uint8), cv2.COLORMAP_TURBO)[0, 0]
    np.testing.assert_array_equal(out[10, 5], lo)
    np.testing.assert_array_equal(out[10, 30], hi)
    with pytest.raises(ValueError, match="scores"):
        draw_keypoints(np.zeros((9, 9), np.uint8), np.zeros((2, 2)), np.zeros(3))
    with pytest.raises(ValueError, match=r"\(N,2\)"):
        draw_keypoints(np.zeros((9, 9), np.uint8), np.zeros((2, 3)))


def test_draw_matches_layout_and_inlier_colours() -> None:
    a = np.full((30, 40), 50, np.uint8)
    b = np.full((20, 50, 3), 100, np.uint8)
    ka = np.array([[5.0, 5.0], [30.0, 20.0]])
    kb = np.array([[10.0, 10.0], [40.0, 15.0]])
    m = np.array([[0, 0], [1, 1]])
    out = draw_matches(a, b, ka, kb, m, inlier_mask=np.array([True, False]))
    assert out.shape == (30, 90, 3)
    assert tuple(out[25, 45]) == (0, 0, 0)  # below the shorter image b: padding
    assert tuple(out[5, 5]) == (0, 255, 0)  # inlier endpoint in a
    assert tuple(out[10, 40 + 10]) == (0, 255, 0)  # its match in b, shifted by a's width
    assert tuple(out[20, 30]) == (0, 0, 255)  # outlier endpoint: red
    assert tuple(out[15, 40 + 40]) == (0, 0, 255)
    assert draw_matches(a, b, ka, kb, np.zeros((0, 2), np.int64)).shape == (30, 90, 3)
    with pytest.raises(ValueError, match="out of range"):
        draw_matches(a, b, ka, kb, np.array([[0, 2]]))
    with pytest.raises(ValueError, match="integer"):
        draw_matches(a, b, ka, kb, np.array([[0.0, 1.0]]))
    with pytest.raises(ValueError, match="inlier_mask"):
        draw_matches(a, b, ka, kb, m, inlier_mask=np.array([True]))


def _tracks(lengths: list[int], points: list[tuple[float, float]], max_length: int = 4) -> Tracks:
    n = len(lengths)
    hist = np.full((n, max_length, 2), np.nan, np.float32)
    for k, (ln, (x, y)) in enumerate(zip(lengths, points)):
        for j in range(min(ln, max_length)):  # moving right by 3 px per frame
            hist[k, max_length - 1 - j] = (x - 3 * j, y)
    return Tracks(
        frame_index=10,
        ids=np.arange(n, dtype=np.int64),
        lengths=np.asarray(lengths, np.int64),
        start_frames=10 - np.asarray(lengths, np.int64) + 1,
        start_points=hist[:, -1].copy(),
        history=hist,
    )


def test_draw_tracks_colour_by_length_and_min_length() -> None:
    img = np.zeros((40, 80, 3), np.uint8)
    t = _tracks([1, 2, 9], [(10.0, 10.0), (40.0, 20.0), (70.0, 30.0)], max_length=4)
    out = draw_tracks(img, t, min_length=2)
    assert out[10, 10].max() == 0  # length 1 < min_length: not drawn
    young = cv2.applyColorMap(np.array([[int(1 / 3 * 255)]], np.uint8), cv2.COLORMAP_TURBO)[0, 0]
    old = cv2.applyColorMap(np.array([[255]], np.uint8), cv2.COLORMAP_TURBO)[0, 0]
    np.testing.assert_array_equal(out[20, 40], young)  # length 2 of 4: (2-1)/(4-1) of the colormap
    np.testing.assert_array_equal(out[30, 70], old)  # length >= 4: the end of the colormap
    assert out[30, 62].max() > 0  # the polyline through its history (x = 61, 64, 67, 70)
    all_pts = draw_tracks(img, t, min_length=2, draw_all_points=True)
    assert all_pts[10, 10].max() > 0
    assert img.max() == 0
    empty = Tracks(0, *(np.zeros(0, np.int64),) * 3, np.zeros((0, 2), np.float32), np.zeros((0, 4, 2), np.float32))
    assert draw_tracks(img, empty).shape == (40, 80, 3)


def test_draw_text() -> None:
    img = np.full((60, 200, 3), 200, np.uint8)
    out = draw_text(img, ["12.3 FPS", "kpts 100"])
    assert (out[:30, :80] != 200).any()
    assert (out[50:, 120:] == 200).all()
    assert (draw_text(img, []) == img).all()


def test_draw_matches_takes_one_colour_per_match() -> None:
    a = np.full((30, 40), 50, np.uint8)
    b = np.full((20, 50, 3), 100, np.uint8)
    ka = np.array([[5.0, 5.0], [30.0, 20.0]])
    kb = np.array([[10.0, 10.0], [40.0, 15.0]])
    m = np.array([[0, 0], [1, 1]])
    colours = np.array([[255, 0, 0], [0, 200, 200]], np.uint8)
    out = draw_matches(a, b, ka, kb, m, colors=colours)
    assert tuple(out[5, 5]) == (255, 0, 0) and tuple(out[10, 40 + 10]) == (255, 0, 0)
    assert tuple(out[20, 30]) == (0, 200, 200)
    # with a mask the mask still decides what is drawn: the outlier (match 1) is left out
    out = draw_matches(a, b, ka, kb, m, inlier_mask=np.array([True, False]), draw_outliers=False, colors=colours)
    assert tuple(out[5, 5]) == (255, 0, 0) and tuple(out[20, 30]) == (50, 50, 50)
    with pytest.raises(ValueError, match="colors must be"):
        draw_matches(a, b, ka, kb, m, colors=colours[:1])
