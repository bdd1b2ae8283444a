"""scripts/homography_failures.py: one run on a generated benchmark, then the table and plot from its JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from script_loader import load_script

from superpoint_rt.eval.failures import CLASSES
from superpoint_rt.eval.generate import make_benchmark


def test_run_then_include_and_plot(tmp_path: Path, astronaut: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    mod = load_script("homography_failures")
    cv2.imwrite(str(tmp_path / "p.png"), cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY))
    make_benchmark([tmp_path / "p.png"], tmp_path / "bench", size=(192, 256), seed=3, ext=".png")
    out = tmp_path / "f.json"
    argv = ["homography_failures.py", str(tmp_path / "bench"), "--method", "sift", "--desc-size", "192x256"]
    monkeypatch.setattr(sys, "argv", [*argv, "--json", str(out), "--no-progress"])
    assert mod.main() == 0
    doc = json.loads(out.read_text())
    assert doc["method"] == "sift" and doc["config"]["desc_size"] == [192, 256]
    assert len(doc["pairs"]) == 5 and all(p["kind"] == "v" for p in doc["pairs"])
    assert sum(doc["summary"]["counts"][c] for c in CLASSES) == 5
    for p in doc["pairs"]:  # the class agrees with the numbers it was made from
        err = np.inf if p["error"] is None else p["error"]
        assert (p["label"] == "correct") == (err <= 3.0)
    old = {**doc, "summary": {"pairs": 5}}  # an output written before the summary grew: rebuilt from its pairs
    assert mod.resummarize(old)["summary"] == doc["summary"]
    png = tmp_path / "f.png"
    monkeypatch.setattr(sys, "argv", ["homography_failures.py", "--include", str(out), str(out), "--plot", str(png)])
    assert mod.main() == 0
    assert cv2.imread(str(png)) is not None


def test_superpoint_pyramid_run(tmp_path: Path, astronaut: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = load_script("homography_failures")
    cv2.imwrite(str(tmp_path / "p.png"), cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY))
    make_benchmark([tmp_path / "p.png"], tmp_path / "bench", size=(192, 256), seed=3, ext=".png")
    out = tmp_path / "s.json"
    argv = ["homography_failures.py", str(tmp_path / "bench"), "--desc-size", "192x256", "--scales", "1", "0.71"]
    monkeypatch.setattr(sys, "argv", [*argv, "--name", "sp 2 levels", "--json", str(out), "--no-progress"])
    assert mod.main() == 0
    doc = json.loads(out.read_text())
    assert doc["method"] == "sp 2 levels" and doc["config"]["scales"] == [1.0, 0.71]
    assert doc["summary"]["pairs"] == 5 and doc["environment"]["cpu"]
    levels = doc["levels"]  # the inliers pooled by the levels of their points: the pyramid's scales only
    assert levels and sum(r["inliers"] for r in levels) == sum(p["n_inliers"] for p in doc["pairs"])
    for r in levels:
        a, b = (float(x) for x in r["levels"].split("->"))
        assert {a, b} <= {1.0, 0.71}
        assert r["residual_median_level_px"] == pytest.approx(r["residual_median"] * b)


def test_needs_data_or_include(monkeypatch: pytest.MonkeyPatch) -> None:
    mod = load_script("homography_failures")
    monkeypatch.setattr(sys, "argv", ["homography_failures.py"])
    with pytest.raises(SystemExit):
        mod.main()
    with pytest.raises(Exception, match="HEIGHTxWIDTH"):
        mod.parse_size("480by640")
