"""scripts/plot_subpixel.py: the pooled residuals are the true residuals of the evaluator's matches, per method."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from rectangles import rectangles_benchmark
from script_loader import load_script

from superpoint_rt.eval import metrics as M
from superpoint_rt.eval.hpatches import list_sequences, load_sequence


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rectangles_benchmark(tmp_path_factory.mktemp("subpx"), 5, 6, count=90)


def test_residuals_are_the_matches_true_errors(bench: Path) -> None:
    """Oracle: for one pair, mutual NN on the default call's features, warped by the true homography, written out."""
    from superpoint_rt import SuperPoint

    mod = load_script("plot_subpixel")
    res = mod.residuals(bench, ["centroid5", "forstner"], None, "v", progress=False)
    seq = load_sequence(list_sequences(bench, "v")[0], mod.SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = SuperPoint(backend="onnxruntime", precision="fp32", num_threads=1, subpixel_method="forstner")
    f1, f3 = sp(seq.images[0]), sp(seq.images[2])
    o1, o3 = (np.argsort(-f.scores, kind="stable")[:1000] for f in (f1, f3))
    m = M.mutual_nn_matches(f1.descriptors[o1], f3.descriptors[o3])
    p1 = f1.keypoints[o1][m[:, 0]].astype(np.float64)
    p3 = f3.keypoints[o3][m[:, 1]].astype(np.float64)
    h = seq.homographies[1]
    q = np.c_[p1, np.ones(len(p1))] @ h.T
    r = np.linalg.norm(q[:, :2] / q[:, 2:] - p3, axis=1)
    pts, err, _ = res["forstner"]["pairs"][(seq.name, 3)]
    np.testing.assert_allclose(np.sort(np.linalg.norm(err, axis=1)), np.sort(r[r < 3]), atol=1e-6)
    assert len(pts) == int((r < 3).sum()) > 0
    s = mod.summary(res)
    for v in s.values():
        assert v["matches"] > 0 and 0 <= v["within_0.5px"] <= v["within_1px"] <= 1


def test_cli_writes_json_and_plot(bench: Path, tmp_path: Path) -> None:
    mod = load_script("plot_subpixel")
    out, png = tmp_path / "s.json", tmp_path / "s.png"
    assert mod.main([str(bench), "--methods", "centroid", "--json", str(out), "--plot", str(png), "--no-progress"]) == 0
    saved = json.loads(out.read_text())
    assert set(saved["summary"]) == {"centroid"} and "cpu" in saved
    assert png.stat().st_size > 1000
    assert mod.main([str(tmp_path / "missing"), "--no-progress"]) == 2
