"""Random homographies: the target never shows area outside the source (no artifacts), point warps are exact."""

from __future__ import annotations

import numpy as np
import pytest

from superpoint_rt.geometry import HomographyConfig, points_inside, sample_homography, warp_image, warp_points


def test_warp_points_hand_worked():
    h = np.array([[2.0, 0, 1], [0, 3, -1], [0, 0, 1]])
    np.testing.assert_allclose(warp_points(np.array([[1.0, 2.0]]), h), [[3.0, 5.0]])
    persp = np.array([[1.0, 0, 0], [0, 1, 0], [0.5, 0, 1]])
    np.testing.assert_allclose(warp_points(np.array([[2.0, 4.0]]), persp), [[1.0, 2.0]])
    with pytest.raises(ValueError):
        warp_points(np.zeros((1, 2)), np.eye(2))


@pytest.mark.parametrize("seed", range(20))
def test_target_corners_map_inside_source(seed):
    h, w = 120, 160
    H = sample_homography(h, w, np.random.default_rng(seed))
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float)
    src = warp_points(corners, np.linalg.inv(H))
    assert points_inside(src, h, w, margin=-1e-6).all()


def test_artifacts_keep_most_of_the_image_valid():
    rng = np.random.default_rng(0)
    cfg = HomographyConfig(allow_artifacts=True)
    fractions = []
    for _ in range(20):
        H = sample_homography(120, 160, rng, cfg)
        mask = warp_image(np.ones((120, 160), np.float32), H)
        fractions.append(mask.mean())
    assert np.mean(fractions) > 0.7


def test_no_perturbation_is_the_centre_crop():
    cfg = HomographyConfig(translation=False, rotation=False, scaling=False, perspective=False, patch_ratio=0.5)
    H = sample_homography(101, 201, np.random.default_rng(0), cfg)
    # the centre patch [50, 150] x [25, 75] maps onto the full image
    np.testing.assert_allclose(warp_points(np.array([[50.0, 25.0], [150.0, 75.0]]), H), [[0, 0], [200, 100]], atol=1e-9)
