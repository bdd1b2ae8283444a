"""scripts/nn_error_anatomy.py: pooled shares by hand, and one run on a generated benchmark."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from script_loader import load_script

from superpoint_rt.eval.generate import make_benchmark
from superpoint_rt.eval.metrics import NNErrorAnatomy


def test_summarise_pools_points_not_pairs() -> None:
    mod = load_script("nn_error_anatomy")
    s = mod.summarise([NNErrorAnatomy(10, 8, 1, 1), NNErrorAnatomy(30, 12, 3, 15), NNErrorAnatomy(0, 0, 0, 0)])
    assert s == {"pairs": 3, "with_partner": 40, "correct": 0.5, "near": 0.1, "far": 0.4}
    assert mod.summarise([]) == {"pairs": 0, "with_partner": 0, "correct": 0.0, "near": 0.0, "far": 0.0}


def test_run_on_a_generated_benchmark(tmp_path: Path, astronaut: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = load_script("nn_error_anatomy")
    cv2.imwrite(str(tmp_path / "p.png"), cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY))
    make_benchmark([tmp_path / "p.png"], tmp_path / "bench", size=(192, 256), seed=3, ext=".png")
    out = tmp_path / "a.json"
    argv = ["nn_error_anatomy.py", str(tmp_path / "bench"), "--kind", "v", "--json", str(out), "--no-progress"]
    monkeypatch.setattr(sys, "argv", argv)
    assert mod.main() == 0
    r = json.loads(out.read_text())
    assert sorted(r["by_k"]) == ["2", "3", "4", "5", "6"]
    assert r["all"]["pairs"] == 5 and r["all"]["with_partner"] > 0
    assert r["all"]["correct"] + r["all"]["near"] + r["all"]["far"] == pytest.approx(1.0)
    assert r["cpu"]
