"""SfM on the rendered 3-D scene: every view registered, relative rotations within 2 degrees of the truth."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("h5py", reason="h5py is an optional extra: pip install '.[mapping]'")
pycolmap = pytest.importorskip("pycolmap", reason="pycolmap is an optional extra: pip install '.[mapping]'")

from superpoint_rt.mapping.colmap import from_colmap_keypoints, to_colmap_keypoints  # noqa: E402
from superpoint_rt.mapping.sfm import camera_poses, compare_poses, rotation_angle_deg  # noqa: E402

VIEWS = 6


@pytest.fixture(scope="module")
def parallax_scene(tmp_path_factory: pytest.TempPathFactory):
    """The standard scene's boxes seen by 6 cameras on a 4 m sideways baseline (x = -2 .. 2 m, 1.6 m up, looking
    ahead and 10 degrees down): enough parallax to triangulate, every view sees the boxes."""
    import cv2

    from superpoint_rt.eval.scene3d import look_camera, make_scene

    scene = make_scene(seed=0, frames=2)
    K = scene.cameras[0].K
    cams = []
    for i in range(VIEWS):
        c = np.array([-2.0 + 4.0 * i / (VIEWS - 1), -1.6, 0.0])
        cams.append(look_camera(K, c, math.atan2(-c[0], 9.0), math.radians(10)))
    scene = dataclasses.replace(scene, cameras=tuple(cams))
    d = tmp_path_factory.mktemp("parallax") / "images"
    d.mkdir()
    for k in range(VIEWS):
        cv2.imwrite(str(d / f"v{k}.png"), scene.render(k).image)
    return scene, d


def test_pixel_convention() -> None:
    kp = np.array([[0.0, 0.0], [319.0, 239.0]], np.float32)
    np.testing.assert_array_equal(to_colmap_keypoints(kp), [[0.5, 0.5], [319.5, 239.5]])
    np.testing.assert_array_equal(from_colmap_keypoints(to_colmap_keypoints(kp)), kp)


def test_compare_poses_by_hand() -> None:
    rng = np.random.default_rng(0)

    def rot(axis: np.ndarray, deg: float) -> np.ndarray:
        import cv2

        return cv2.Rodrigues(np.asarray(axis, np.float64) / np.linalg.norm(axis) * math.radians(deg))[0]

    truth = {f"c{i}": (rot(rng.normal(size=3), 20 * i), rng.normal(size=3)) for i in range(4)}
    g, s, t = rot([1, 2, 3], 40), 2.5, np.array([1.0, -2.0, 0.5])  # X_est = s g X_true + t
    est = {n: (r @ g.T, s * tv - r @ g.T @ t) for n, (r, tv) in truth.items()}
    cmp = compare_poses(est, truth)
    assert cmp["scale"] == pytest.approx(1 / s) and cmp["center_error_max"] < 1e-9
    assert cmp["rotation_error_deg_max"] < 1e-4 and cmp["relative_rotation_error_deg_max"] < 1e-4
    assert rotation_angle_deg(rot([0, 0, 1], 3.0)) == pytest.approx(3.0)


def test_sfm_on_rendered_scene(parallax_scene, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from superpoint_rt.apps.cli import main

    scene, images = parallax_scene
    focal = float(scene.cameras[0].K[0, 0])
    out = tmp_path / "sfm"
    args = ["sfm", str(images), "--out", str(out), "--backend", "onnxruntime", "--no-progress", "--json"]
    assert main([*args, "--focal", str(focal)]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["registered_images"] == VIEWS, rec
    assert rec["points3D"] > 100 and rec["mean_track_length"] > 2.5 and rec["mean_reprojection_error_px"] < 1.5
    for f in ("features.h5", "matches.h5", "database.db", "reconstruction.png", "model/cameras.bin"):
        assert (out / f).is_file(), f
    model = pycolmap.Reconstruction(str(out / "model"))
    truth = {f"v{k}.png": (scene.cameras[k].R, scene.cameras[k].t) for k in range(VIEWS)}
    cmp = compare_poses(camera_poses(model), truth)
    assert cmp["images"] == VIEWS
    assert cmp["relative_rotation_error_deg_max"] < 2.0, cmp
    assert cmp["rotation_error_deg_max"] < 2.0, cmp
    assert cmp["center_error_max"] < 0.2, cmp  # metres, after the similarity; the baseline is 4 m
    cam = next(iter(model.cameras.values()))
    assert cam.params[1] == pytest.approx(scene.width / 2) and cam.params[2] == pytest.approx(scene.height / 2)
