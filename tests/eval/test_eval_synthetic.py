"""Detector metrics on held-out Synthetic Shapes (superpoint_rt.eval.synthetic): hand-worked cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from superpoint_rt.apps.eval_cli import main as cli_main
from superpoint_rt.eval.methods import CallableMethod
from superpoint_rt.eval.synthetic import (
    average_precision,
    claim_detections,
    evaluate_synthetic,
    synthetic_benchmark,
    synthetic_table,
)
from superpoint_rt.geometry import warp_points


def test_claim_detections_hand_case() -> None:
    truth = np.array([[10.0, 10.0], [30.0, 10.0]])
    # by score: (11,10) claims corner 0; (10,12) finds corner 0 taken and corner 1 too far; (30,13) claims 1;
    # (50,50) is far from everything
    kp = np.array([[10.0, 12.0], [11.0, 10.0], [30.0, 13.0], [50.0, 50.0]])
    scores = np.array([0.5, 0.9, 0.4, 0.8])
    ok = claim_detections(kp, scores, truth, eps=3.0)
    assert ok.tolist() == [False, True, True, False]
    assert claim_detections(kp[:0], scores[:0], truth, 3.0).shape == (0,)
    assert not claim_detections(kp, scores, truth[:0], 3.0).any()


def test_average_precision_hand_case() -> None:
    # ranked: correct, wrong, correct; 4 true corners: (1/1 + 2/3) / 4
    ap = average_precision(np.array([True, False, True]), np.array([0.9, 0.8, 0.7]), 4)
    assert ap == pytest.approx((1.0 + 2.0 / 3.0) / 4.0)
    # order comes from the scores, not from the input order
    assert average_precision(np.array([True, True, False]), np.array([0.9, 0.7, 0.8]), 4) == pytest.approx(ap)
    assert np.isnan(average_precision(np.array([], bool), np.array([]), 0))
    assert average_precision(np.array([], bool), np.array([]), 3) == 0.0


def test_benchmark_is_deterministic_and_held_out() -> None:
    a = synthetic_benchmark(9, seed=5)
    b = synthetic_benchmark(9, seed=5)
    c = synthetic_benchmark(9, seed=6)
    assert len({s.primitive for s in a}) == 9  # each primitive once
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.homography, y.homography)
    assert any(not np.array_equal(x.image, z.image) for x, z in zip(a, c, strict=True))
    with pytest.raises(ValueError, match="n must be"):
        synthetic_benchmark(0)


def test_oracle_method_scores_one() -> None:
    """A method that returns exactly the true corners (and their warps): mAP, precision, recall, rep. = 1."""
    samples = [s for s in synthetic_benchmark(18, seed=3) if len(s.points)]
    lookup = {}
    for s in samples:
        lookup[s.image.tobytes()] = s.points
        w = warp_points(s.points, s.homography)
        inside = (w[:, 0] >= 0) & (w[:, 0] <= s.image.shape[1] - 1) & (w[:, 1] >= 0) & (w[:, 1] <= s.image.shape[0] - 1)
        lookup[s.warped.tobytes()] = w[inside]

    def oracle(image: np.ndarray, k: int | None) -> tuple[np.ndarray, np.ndarray, None]:
        pts = lookup[image.tobytes()].astype(np.float32)
        return pts, np.linspace(1.0, 0.5, len(pts), dtype=np.float32), None

    r = evaluate_synthetic(CallableMethod(oracle, "oracle"), samples, progress=False)
    assert r.map == pytest.approx(1.0) and r.precision == 1.0 and r.recall == 1.0
    assert r.repeatability == pytest.approx(1.0) and r.localization_error == pytest.approx(0.0, abs=1e-4)
    assert "| oracle |" in synthetic_table([r])


def test_shifted_method_misses_beyond_eps() -> None:
    samples = [s for s in synthetic_benchmark(9, seed=4) if len(s.points)]
    lookup = {s.image.tobytes(): s.points for s in samples}

    def shifted(image: np.ndarray, k: int | None) -> tuple[np.ndarray, np.ndarray, None]:
        pts = lookup.get(image.tobytes(), np.zeros((0, 2), np.float32)) + np.float32(4.0)
        return pts.astype(np.float32), np.ones(len(pts), np.float32), None

    r = evaluate_synthetic(CallableMethod(shifted, "shifted"), samples, eps=3.0, progress=False)
    assert r.map == 0.0 and r.precision == 0.0 and r.recall == 0.0  # sqrt(32) > 3
    r6 = evaluate_synthetic(CallableMethod(shifted, "shifted"), samples, eps=6.0, progress=False)
    assert r6.map == pytest.approx(1.0) and r6.recall == 1.0


def test_cli_synthetic_baselines(tmp_path, capsys) -> None:
    out = tmp_path / "syn.json"
    argv = ["synthetic", "--method", "harris", "orb", "--images", "9", "--no-progress", "--json", str(out)]
    assert cli_main(argv) == 0
    captured = capsys.readouterr()
    assert "| harris | 9 |" in captured.out and "skipping orb" in captured.err
    rows = json.loads(out.read_text())
    assert rows[0]["method"] == "harris" and 0.0 <= rows[0]["map"] <= 1.0
    assert cli_main(["synthetic", "extra", "--no-progress"]) == 2
