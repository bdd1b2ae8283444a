"""scripts/repeatability_sweep.py: detector metrics equal the evaluator's; rep_nms removes stacked copies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rectangles import rectangles_benchmark
from script_loader import load_script

from superpoint_rt.eval.methods import CallableMethod, OpenCVMethod
from superpoint_rt.eval.runner import EvalConfig, evaluate

SMALL = EvalConfig(rep_size=(96, 128), desc_size=(192, 256), rep_keypoints=100, desc_keypoints=300)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rectangles_benchmark(tmp_path_factory.mktemp("sweep"), 0, 2)


def test_detector_metrics_equal_the_evaluator(bench: Path) -> None:
    mod = load_script("repeatability_sweep")
    harris = OpenCVMethod("harris")
    want = evaluate(bench, harris, SMALL, progress=False)
    got = mod.detector_metrics(bench, harris, "iv", None, SMALL)
    assert got["pairs"] == len(want.pairs)
    assert got["per_pair"] == pytest.approx([p.repeatability for p in want.pairs])
    assert got["repeatability"] == pytest.approx(np.mean([p.repeatability for p in want.pairs]))


def test_rep_nms_counts_stacked_points_once(bench: Path, tmp_path: Path) -> None:
    mod = load_script("repeatability_sweep")
    harris = OpenCVMethod("harris")

    def stacked(image: np.ndarray, k: int | None) -> tuple[np.ndarray, np.ndarray, None]:
        kp, sc, _ = harris(image)
        return np.concatenate([kp, kp + 0.5]), np.concatenate([sc, sc * 0.5]), None

    once = mod.detector_metrics(bench, harris, "v", None, SMALL)
    dedup = mod.detector_metrics(bench, CallableMethod(stacked, "stacked"), "v", 1.0, SMALL)
    raw = mod.detector_metrics(bench, CallableMethod(stacked, "stacked"), "v", None, SMALL)
    assert dedup["per_pair"] == pytest.approx(once["per_pair"])
    assert once["stacked_2px"] == 0.0 == dedup["stacked_2px"]  # Harris keeps points 5 px apart
    assert raw["stacked_2px"] > 0.0
    with pytest.raises(ValueError, match="sequence"):
        mod.detector_metrics(tmp_path, harris, "v")  # an empty folder


def test_stacked_share_by_hand() -> None:
    mod = load_script("repeatability_sweep")
    pts = np.array([[10.0, 10.0], [11.0, 11.5], [30.0, 30.0], [31.5, 30.0]])
    # ranked 0.9 (10,10), 0.8 (30,30), 0.5 (11,11.5): 1.5 px from the first, 0.4 (31.5,30): 1.5 px from the second
    assert mod.stacked_share(pts, np.array([0.9, 0.5, 0.8, 0.4]), top_k=4) == pytest.approx(0.5)
    assert mod.stacked_share(pts, np.array([0.9, 0.5, 0.8, 0.4]), top_k=2) == 0.0  # the two best are apart
    assert np.isnan(mod.stacked_share(np.zeros((0, 2)), np.zeros(0), 300))


def test_cli_writes_rows(bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mod = load_script("repeatability_sweep")
    out = tmp_path / "s.json"
    args = [str(bench), "--conf", "0.015", "--nms", "4", "--baselines", "orb", "--rep-nms", "0", "4"]
    assert mod.main([*args, "--json", str(out), "--plot", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = json.loads(out.read_text())["rows"]
    assert [(r["method"], r.get("rep_nms"), r.get("conf_threshold")) for r in rows] == [
        ("orb", 0, None),
        ("orb", 4, None),
        ("superpoint", None, 0.015),
    ]
    assert all(0.0 <= r["repeatability"] <= 1.0 and r["pairs"] == 5 for r in rows)
    printed = capsys.readouterr().out
    assert "| orb | rep_nms 4 |" in printed and "| orb | points as returned |" in printed
    assert mod.main([str(tmp_path / "missing")]) == 2
