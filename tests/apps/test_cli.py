"""CLI end to end on the real photos in tests/data (random weights: the engine path, drawing and outputs)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from cli_runner import run

from superpoint_rt.apps.cli import main
from superpoint_rt.backends.auto import RULES


def test_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    for cmd in ("detect", "match", "export", "info"):
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        assert e.value.code == 0


def test_detect_draws_and_reports_json(tmp_path, capsys, data_dir, weights_file):
    out = tmp_path / "kp.png"
    rc, so, _ = run(
        ["detect", str(data_dir / "astronaut.jpg"), "-o", str(out), "--weights", weights_file, "--json",
         "--backend", "onnxruntime", "--conf-threshold", "0.0155", "--save-features", str(tmp_path / "f.npz")],
        capsys,
    )  # fmt: skip
    assert rc == 0
    rec = json.loads(so)
    assert rec["results"][0]["num_keypoints"] > 0
    img = cv2.imread(str(out))
    assert img is not None and img.shape[:2] == (320, 320)
    z = np.load(tmp_path / "f.npz")
    assert z["descriptors"].shape == (rec["results"][0]["num_keypoints"], 256)


def test_match_prints_counts(tmp_path, capsys, data_dir, weights_file):
    out = tmp_path / "m.png"
    rc, so, _ = run(
        ["match", str(data_dir / "astronaut.jpg"), str(data_dir / "astronaut_warped.jpg"), "-o", str(out),
         "--weights", weights_file, "--json", "--conf-threshold", "0.0155"],
        capsys,
    )  # fmt: skip
    assert rc == 0
    rec = json.loads(so)
    assert {"keypoints_a", "keypoints_b", "matches", "inliers", "homography"} <= set(rec)
    assert cv2.imread(str(out)).shape[1] == 640


def test_export_onnx_and_npz(tmp_path, capsys, weights_file):
    argv = ["export", "--weights", weights_file, "--onnx", str(tmp_path / "a.onnx"), "--npz", str(tmp_path / "b.npz")]
    rc, _, _ = run(argv, capsys)
    assert rc == 0 and (tmp_path / "a.onnx").exists() and (tmp_path / "b.npz").exists()


def test_clear_errors(tmp_path, capsys, weights_file, data_dir):
    rc, _, err = run(["detect", str(tmp_path / "missing.jpg"), "--weights", weights_file], capsys)
    assert rc == 2 and "not found" in err
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    rc, _, err = run(["detect", str(bad), "--weights", weights_file], capsys)
    assert rc == 2 and "cannot read" in err
    corrupt = tmp_path / "w.npz"
    corrupt.write_bytes(b"garbage")
    rc, _, err = run(["detect", str(data_dir / "camera.png"), "--weights", str(corrupt)], capsys)
    assert rc == 2 and "error" in err


def test_info(capsys):
    rc, so, _ = run(["info"], capsys)
    assert rc == 0
    info = json.loads(so)
    assert "extension" in info and "backends" in info
    # what `auto` runs here, and why (superpoint_rt.backends.auto)
    auto = info["auto"]
    assert auto["rule"] in {r.id for r in RULES} and auto["reason"] and auto["measured"]
    assert auto["precision"] in ("bf16", "int8", "fp32") and auto["backend"] in info["backends"]
    assert {"avx2", "amx", "native_bf16", "model"} <= set(info["cpu"])
    if "default_weights_meta" in info:  # an installation with the packaged weights: which ones, by name
        from superpoint_rt.weights import PACKAGED_WEIGHTS, load_weights

        meta = info["default_weights_meta"]
        assert meta["fingerprint"] == load_weights(None).fingerprint and meta["step"] is not None
        assert set(info["packaged_weights"]) <= set(PACKAGED_WEIGHTS) and "superpoint-rt-v1" in info["packaged_weights"]


def test_detect_multiscale(tmp_path, capsys, data_dir, weights_file):
    feats = tmp_path / "f.npz"
    argv = ["detect", str(data_dir / "astronaut.jpg"), "--weights", weights_file, "--backend", "onnxruntime"]
    rc, out, _ = run(
        [*argv, "--scales", "1", "0.5", "--max-keypoints", "200", "--save-features", str(feats), "--json"], capsys
    )
    assert rc == 0
    rep = json.loads(out)
    assert rep["engine"]["scales"] == [1.0, 0.5]
    with np.load(feats) as z:
        assert set(np.unique(z["scales"])) <= {1.0, 0.5} and len(z["scales"]) == len(z["keypoints"]) == 200
    rc, _, err = run([*argv, "--scales", "1", "0"], capsys)
    assert rc != 0 and "(0, 2]" in err
