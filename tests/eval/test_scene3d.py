"""The rendered 3-D scene (superpoint_rt.eval.scene3d) against hand-worked projections and its own geometry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from superpoint_rt.eval.scene3d import (
    BOUNDARY,
    HIDDEN,
    NO_SURFACE,
    VISIBLE,
    Face,
    Scene,
    intrinsics,
    look_camera,
    make_scene,
)

K = intrinsics(320, 240, 200.0)  # f = 200, principal point (159.5, 119.5)


def flat(level: int) -> np.ndarray:
    return np.full((8, 8), level, np.uint8)


def hand_scene() -> Scene:
    """A ground (face 0: Y = 0, X in [-6, 6], Z in [0, 20]) and three faces of a unit box standing on it at
    X in [1, 2], Z in [5, 6] (1 front: Z = 5; 2 top: Y = -1; 3 left: X = 1); the camera 1.5 m above the ground
    looking along +Z (R = I), then 1 m further forward."""
    x, y, z = np.eye(3)
    faces = (
        Face(np.array([-6.0, 0, 0]), x, z, (12.0, 20.0), flat(100)),
        Face(np.array([1.0, -1, 5]), x, y, (1.0, 1.0), flat(250)),
        Face(np.array([1.0, -1, 5]), x, z, (1.0, 1.0), flat(200)),
        Face(np.array([1.0, -1, 5]), z, y, (1.0, 1.0), flat(50)),
    )
    cams = (look_camera(K, (0.0, -1.5, 0.0)), look_camera(K, (0.0, -1.5, 1.0)))
    return Scene(faces, cams, 240, 320, background=140.0, noise=0.0)


def test_box_corner_and_faces_by_hand() -> None:
    scene = hand_scene()
    cam = scene.cameras[0]
    np.testing.assert_allclose(cam.R, np.eye(3))
    np.testing.assert_allclose(cam.t, [0, 1.5, 0])
    # the box's top-front-left corner (1, -1, 5) is (1, 0.5, 5) in the camera: x = 159.5 + 200 * 1 / 5 = 199.5,
    # y = 119.5 + 200 * 0.5 / 5 = 139.5
    uv, z = cam.project(np.array([[1.0, -1.0, 5.0]]))
    np.testing.assert_allclose(uv, [[199.5, 139.5]])
    assert z[0] == 5.0
    f = scene.render(0)
    # around that corner: front face below-right, top face above-right, left face below-left
    assert f.face[140, 200] == 1 and f.depth[140, 200] == pytest.approx(5.0)
    assert f.face[139, 200] == 2  # ray y = 19.5 / 200: Y_c = 0.5 at Z = 5.128, X = 5.128 * 40.5 / 200 = 1.038
    assert f.depth[139, 200] == pytest.approx(0.5 / (19.5 / 200))
    assert f.face[140, 199] == 3  # ray x = 39.5 / 200: X = 1 at Z = 5.063, Y_c = 5.063 * 20.5 / 200 = 0.519
    assert f.depth[140, 199] == pytest.approx(1.0 / (39.5 / 200))
    # the front face covers the pixel centres x 200..239 (X = 1..2 at Z = 5), y 140..179 (Y_c = 0.5..1.5)
    front = np.argwhere(f.face == 1)
    assert front[:, 1].min() == 200 and front[:, 1].max() == 239
    assert front[:, 0].min() == 140 and front[:, 0].max() == 179
    assert np.allclose(f.depth[f.face == 1], 5.0)
    # the top face at pixel (201, 138): Z = 0.5 / (18.5 / 200) = 5.405; the left face at (198, 141): Z = 1 / 0.1925
    assert f.face[138, 201] == 2 and f.depth[138, 201] == pytest.approx(5.4054, abs=1e-4)
    assert f.face[141, 198] == 3 and f.depth[141, 198] == pytest.approx(5.1948, abs=1e-4)
    # past the box, the ground: (190, 141): Z = 1.5 / 0.1075 = 13.95 (the ray passes X = 1 at Z = 6.56, behind it)
    assert f.face[141, 190] == 0 and f.depth[141, 190] == pytest.approx(13.9535, abs=1e-4)
    # above the horizon, nothing
    assert f.face[10, 10] == -1 and np.isinf(f.depth[10, 10])
    # the image: flat textures times the shade (1.0), the background, anti-aliased edges in between
    assert f.image[160, 220] == 250 and f.image[230, 20] == 100 and f.image[10, 10] == 140
    assert f.image[150, 215] == 250 and f.image[137, 215] == 200


def test_transfer_by_hand() -> None:
    scene = hand_scene()
    frames = scene.render_all()
    pts = np.array(
        [
            [210.5, 150.5],  # front face: (1.275, -0.725, 5) in the world
            [215.0, 137.2],  # the top face's far edge, against the ground 18 m away: an occlusion edge
            [10.0, 10.0],  # sky
            [20.5, 230.5],  # ground at Z = 2.70: leaves the view when the camera moves 1 m forward
        ]
    )
    pos, status = scene.transfer(pts, 0, 1, frames)
    assert status.tolist() == [VISIBLE, BOUNDARY, NO_SURFACE, HIDDEN]
    # front face: X = 5 * 51 / 200 = 1.275, Y_c = 5 * 31 / 200 = 0.775; one metre nearer (Z = 4):
    # x = 159.5 + 200 * 1.275 / 4 = 223.25, y = 119.5 + 200 * 0.775 / 4 = 158.25
    np.testing.assert_allclose(pos[0], [223.25, 158.25], atol=1e-9)
    # ground: Z = 1.5 / (111 / 200) = 2.7027, X = -2.7027 * 139 / 200; at Z - 1: x < 0, out of the image
    z0 = 1.5 / (111 / 200)
    x_w = -z0 * 139 / 200
    np.testing.assert_allclose(pos[3], [159.5 + 200 * x_w / (z0 - 1), 119.5 + 200 * 1.5 / (z0 - 1)], atol=1e-9)
    assert np.isnan(pos[1:3]).all()
    same, st = scene.transfer(pts[:1], 0, 0, frames)  # frame to itself: the identity
    np.testing.assert_allclose(same, pts[:1], atol=1e-9)
    assert st.tolist() == [VISIBLE]


def test_generated_scene_is_deterministic_and_consistent_with_its_geometry() -> None:
    scene = make_scene(seed=0, frames=3, noise=0.0)
    frames = scene.render_all()
    assert len(scene) == 3 and frames[0].image.shape == (240, 320) and frames[0].image.dtype == np.uint8
    np.testing.assert_array_equal(make_scene(seed=0, frames=3, noise=0.0).render(2).image, frames[2].image)
    assert not np.array_equal(make_scene(seed=1, frames=3, noise=0.0).render(2).image, frames[2].image)
    assert len(np.unique(frames[0].face)) >= 10  # ground, wall, sky and several box faces in view
    # every visible point of frame 0 looks the same at its true position in frame 2 (bilinear samples)
    ys, xs = np.mgrid[4:236:3, 4:316:3]
    p = np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.3
    q, st = scene.transfer(p, 0, 2, frames)
    v = st == VISIBLE
    assert v.mean() > 0.6 and (st == BOUNDARY).mean() < 0.1

    def sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
        m = pts.astype(np.float32)
        return cv2.remap(img.astype(np.float32), m[None, :, 0], m[None, :, 1], cv2.INTER_LINEAR)[0]

    a = sample(frames[0].image, p[v])
    ncc = np.corrcoef(a, sample(frames[2].image, q[v]))[0, 1]
    ncc_off = np.corrcoef(a, sample(frames[2].image, q[v] + [3.0, 0.0]))[0, 1]
    assert ncc > 0.97 and ncc > ncc_off + 0.1
