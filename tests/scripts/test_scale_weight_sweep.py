"""scripts/scale_weight_sweep.py: each weight's errors equal the evaluator's on SuperPoint(scale_weight=g)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rectangles import rectangles_benchmark
from script_loader import load_script

from superpoint_rt.eval.methods import superpoint_method
from superpoint_rt.eval.runner import EvalConfig, evaluate

SCALES = (1.41, 1.0, 0.71, 0.5)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rectangles_benchmark(tmp_path_factory.mktemp("swsweep"), 3, 4, count=90)


def test_sweep_equals_the_evaluator_per_weight(bench: Path) -> None:
    mod = load_script("scale_weight_sweep")
    weights = [0.0, 0.65, 2.0]
    rows = mod.sweep(bench, None, SCALES, weights, kinds="v", trials=3, size=(192, 256), keypoints=300, progress=False)
    cfg = EvalConfig(
        rep_size=(96, 128), desc_size=(192, 256), rep_keypoints=100, desc_keypoints=300, kinds="v", homography_trials=3
    )
    for row, g in zip(rows, weights):
        sp = superpoint_method(
            backend="onnxruntime", precision="fp32", num_threads=1, scales=SCALES, scale_weight=g, name=f"g{g}"
        )
        ref = evaluate(bench, sp, cfg, progress=False)
        assert row["pairs"] == len(ref.pairs) == 5
        for mine, theirs in zip(row["per_pair"], ref.pairs):
            assert (mine["sequence"], mine["k"]) == (theirs.sequence, theirs.k)
            np.testing.assert_allclose([np.inf if e is None else e for e in mine["errors"]], theirs.corner_errors)
        e = np.array([[np.inf if x is None else x for x in p["errors"]] for p in row["per_pair"]])
        assert row["trials@3"] == pytest.approx(float((e <= 3).mean()))
        assert sum(row["level_share"].values()) == pytest.approx(1.0)
    # a heavier weight keeps more of the finest level's points in the top-k
    fine = [r["level_share"]["1.41"] for r in rows]
    assert fine[0] < fine[1] < fine[2]


def test_cli_writes_json_and_plot(bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mod = load_script("scale_weight_sweep")
    out, png = tmp_path / "s.json", tmp_path / "s.png"
    args = [str(bench), "--scales", "1", "0.5", "--scale-weights", "0", "1", "--trials", "2", "--json", str(out)]
    args += ["--plot", str(png)]
    assert mod.main([*args, "--no-progress"]) == 0
    saved = json.loads(out.read_text())
    assert [r["scale_weight"] for r in saved["rows"]] == [0.0, 1.0] and saved["trials"] == 2
    assert png.stat().st_size > 1000
    assert "| scale_weight |" in capsys.readouterr().out
    assert mod.main([str(tmp_path / "missing")]) == 2
