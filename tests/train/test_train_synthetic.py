"""Synthetic Shapes: labels are the true (visible) corners; determinism by seed; augmentation geometry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

pytest.importorskip("torch")

from superpoint_rt.geometry import HomographyConfig, warp_points
from superpoint_rt.train import synthetic
from superpoint_rt.train.augment import PhotometricConfig, homographic_augment, photometric_augment
from superpoint_rt.train.synthetic import PRIMITIVES, ShapesConfig, finalize, generate_shape, visible_polygon_points


def _sorted(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64).reshape(-1, 2)
    return p[np.lexsort((p[:, 1], p[:, 0]))]


def test_occlusion_hand_built_rectangles() -> None:
    # A: 0..10 square; B (on top) covers A's corner (10, 10): B = 6..16 square.
    a = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    b = np.array([[6, 6], [16, 6], [16, 16], [6, 16]], float)
    got = visible_polygon_points([a, b], margin=0.5)
    # A's visible corners (3), B's corners (4), T-junctions where B's edges cross A's edges: (10,6), (6,10)
    want = [[0, 0], [10, 0], [0, 10], [6, 6], [16, 6], [16, 16], [6, 16], [10, 6], [6, 10]]
    np.testing.assert_allclose(_sorted(got), _sorted(np.array(want)), atol=1e-9)


def test_occlusion_third_polygon_hides_junction_and_corner() -> None:
    a = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    b = np.array([[6, 6], [16, 6], [16, 16], [6, 16]], float)
    c = np.array([[8, 4], [12, 4], [12, 8], [8, 8]], float)  # covers the junction (10, 6) and B's corner? no
    got = visible_polygon_points([a, b, c], margin=0.5)
    want = [
        [0, 0], [10, 0], [0, 10],  # A
        [6, 6], [16, 6], [16, 16], [6, 16],  # B (none covered by C)
        [6, 10],  # A x B junction; (10, 6) is under C
        [8, 4], [12, 4], [12, 8], [8, 8],  # C
        [10, 4],  # C's top edge crosses A's right edge (x=10); A's edge is visible there
        [12, 6], [8, 6],  # C's vertical edges cross B's top edge (y=6)
    ]  # fmt: skip
    np.testing.assert_allclose(_sorted(got), _sorted(np.array(want)), atol=1e-9)


def test_rendered_rectangle_labels_are_the_image_corners() -> None:
    cfg = ShapesConfig(height=64, width=80, draw_scale=2, blur_sigma=(0.0, 0.0))
    s = cfg.draw_scale
    hires = np.zeros((cfg.height * s, cfg.width * s), np.uint8)
    # output-pixel corners (20, 16) .. (50, 40) -> high-res p = (q + 0.5) * s - 0.5
    corners = np.array([[20, 16], [50, 16], [50, 40], [20, 40]], float)
    hi = (corners + 0.5) * s - 0.5
    cv2.fillPoly(hires, [synthetic._ipoly(hi)], 255, cv2.LINE_AA, synthetic._SHIFT)
    img, pts = finalize(hires, hi, cfg, np.random.default_rng(0))
    np.testing.assert_allclose(_sorted(pts), _sorted(corners), atol=1e-5)
    # independent check on the pixels: the corner response peaks within 1 px of each label
    resp = cv2.cornerHarris(img.astype(np.float32), 3, 3, 0.04)
    for x, y in corners.astype(int):
        win = resp[y - 4 : y + 5, x - 4 : x + 5]
        dy, dx = np.unravel_index(np.argmax(win), win.shape)
        assert abs(dx - 4) <= 1 and abs(dy - 4) <= 1
    # inside bright, outside dark, around each corner
    assert img[28, 35] > 200 and img[10, 10] < 50


def test_points_outside_image_dropped() -> None:
    cfg = ShapesConfig(height=32, width=32, draw_scale=1, blur_sigma=(0.0, 0.0))
    hires = np.zeros((32, 32), np.uint8)
    pts = np.array([[-1.0, 5.0], [5.0, 5.0], [31.0, 31.0], [31.6, 3.0], [3.0, 32.0]])
    _, out = finalize(hires, pts, cfg, np.random.default_rng(0))
    np.testing.assert_allclose(out, [[5.0, 5.0], [31.0, 31.0]])


@pytest.mark.parametrize("primitive", PRIMITIVES)
def test_every_primitive_deterministic_and_in_bounds(primitive: str) -> None:
    cfg = ShapesConfig()
    a = generate_shape(np.random.default_rng(7), cfg, primitive)
    b = generate_shape(np.random.default_rng(7), cfg, primitive)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    img, pts, name = a
    assert img.shape == (cfg.height, cfg.width) and img.dtype == np.uint8 and name == primitive
    assert pts.dtype == np.float32 and pts.ndim == 2 and pts.shape[1] == 2
    assert np.all((pts >= 0) & (pts <= [cfg.width - 1, cfg.height - 1]))
    if primitive in ("ellipses", "gaussian_noise"):
        assert len(pts) == 0


def test_different_seeds_differ() -> None:
    a = generate_shape(np.random.default_rng(1))[0]
    b = generate_shape(np.random.default_rng(2))[0]
    assert not np.array_equal(a, b)


def test_homographic_augment_moves_points_with_the_image() -> None:
    rng = np.random.default_rng(3)
    img = np.zeros((120, 160), np.uint8)
    img[50:53, 70:73] = 255  # a 3x3 bright blob centred at (71, 51)
    warped, pts, valid, h = homographic_augment(img, np.array([[71.0, 51.0]]), rng, HomographyConfig(patch_ratio=0.8))
    np.testing.assert_allclose(pts, warp_points([[71.0, 51.0]], h), atol=1e-4)
    if len(pts):
        ys, xs = np.nonzero(warped > 60)
        centroid = np.array([xs.mean(), ys.mean()])
        assert np.linalg.norm(centroid - pts[0]) < 1.5
    assert valid.dtype == bool and valid.shape == img.shape


def test_photometric_range_and_determinism() -> None:
    img = np.full((40, 48), 128, np.uint8)
    a = photometric_augment(img, np.random.default_rng(5), PhotometricConfig())
    b = photometric_augment(img, np.random.default_rng(5), PhotometricConfig())
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.min() >= 0 and a.max() <= 255
    off = photometric_augment(img, np.random.default_rng(5), PhotometricConfig(enable=False))
    np.testing.assert_array_equal(off, img.astype(np.float32))


def test_config_errors() -> None:
    with pytest.raises(ValueError):
        ShapesConfig(primitives=("nope",))
    with pytest.raises(ValueError):
        ShapesConfig(height=4)
    with pytest.raises(ValueError):
        generate_shape(np.random.default_rng(0), ShapesConfig(), "circle")
