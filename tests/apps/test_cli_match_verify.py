"""`superpoint-rt match --verify ... -o ... [--draw-outliers]` on the photos in tests/data (random weights)."""

from __future__ import annotations

import json

import cv2
import numpy as np
from cli_runner import run


def red_pixels(path) -> int:
    img = cv2.imread(str(path)).astype(int)
    return int(((img[:, :, 2] > 200) & (img[:, :, 1] < 60) & (img[:, :, 0] < 60)).sum())


def test_match_verify_models_and_outlier_drawing(tmp_path, capsys, data_dir, weights_file) -> None:
    base = ["match", str(data_dir / "astronaut.jpg"), str(data_dir / "astronaut_warped.jpg"), "--weights",
            weights_file, "--json", "--conf-threshold", "0.0155", "--backend", "onnxruntime"]  # fmt: skip
    recs = {}
    for verify in ("homography", "fundamental", "none"):
        out = tmp_path / f"{verify}.png"
        rc, so, _ = run([*base, "--verify", verify, "-o", str(out)], capsys)
        assert rc == 0
        rec = json.loads(so)
        assert {"keypoints_a", "keypoints_b", "matches", "inliers", "homography"} <= set(rec)  # the fields of old
        assert rec["verification"]["model"] == (None if verify == "none" else verify)
        recs[verify] = rec
        assert red_pixels(out) == 0  # inliers only by default
    h, f, none = recs["homography"], recs["fundamental"], recs["none"]
    assert none["inliers"] == none["matches"] and none["homography"] is None and none["fundamental"] is None
    assert h["verification"]["threshold_px"] == 1.5 and f["verification"]["threshold_px"] == 1.0
    if h["verification"]["ransac"] == "fitted":
        assert np.asarray(h["homography"]).shape == (3, 3) and h["fundamental"] is None
    if f["verification"]["ransac"] == "fitted":
        assert np.asarray(f["fundamental"]).shape == (3, 3) and f["homography"] is None
    rejected = h["matches"] - h["inliers"]
    assert rejected == sum(h["verification"]["rejected"].values())
    out = tmp_path / "outliers.png"
    rc, so, _ = run([*base, "--verify", "homography", "-o", str(out), "--draw-outliers"], capsys)
    assert rc == 0 and json.loads(so)["inliers"] == h["inliers"]
    assert rejected > 0 and red_pixels(out) > 0  # random weights: plenty of wrong matches, drawn in red on request


def test_match_rejects_a_bad_threshold(capsys, data_dir, weights_file) -> None:
    argv = ["match", str(data_dir / "astronaut.jpg"), str(data_dir / "astronaut.jpg"), "--weights", weights_file,
            "--ransac-threshold", "-1"]  # fmt: skip
    rc, _, err = run(argv, capsys)
    assert rc == 2 and "ransac_threshold" in err
