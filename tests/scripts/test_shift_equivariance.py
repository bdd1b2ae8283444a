"""scripts/shift_equivariance.py: exact equivariance when all 64 phases are averaged, hand-worked displacements and
cell phases, the phase-bias fit recovering a planted table, the single-shift path equal to the plain pipeline, and
one run of each mode on a generated benchmark."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from rectangles import rectangles_benchmark
from script_loader import load_script

from superpoint_rt import SuperPoint

ALL_PHASES = [(dx, dy) for dy in range(8) for dx in range(8)]


def _photo(astronaut: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)
    return np.ascontiguousarray(cv2.resize(gray, (216, 184), interpolation=cv2.INTER_AREA))


def test_parse_shift_and_displacement_by_hand() -> None:
    mod = load_script("shift_equivariance")
    assert mod.parse_shift("3,5") == (3, 5)
    for bad in ("8,0", "1", "a,b", "-1,0"):
        with pytest.raises(argparse.ArgumentTypeError):
            mod.parse_shift(bad)
    ref = np.array([[0.0, 0.0], [10.0, 10.0], [20.0, 20.0]])
    moved = np.array([[0.5, 0.0], [10.0, 11.5], [50.0, 50.0]])
    np.testing.assert_allclose(mod.displacement(ref, moved), [[0.5, 0.0], [0.0, 1.5]])
    np.testing.assert_allclose(mod.displacement(ref, moved, radius=1.0), [[0.5, 0.0]])
    assert mod.displacement(ref, moved[:0]).shape == (0, 2)


def test_cell_phase_by_hand() -> None:
    mod = load_script("shift_equivariance")
    pts = np.array([[7.6, 8.4], [3.2, 9.0], [0.0, 0.0], [15.0, 22.6]])
    # nearest pixels (8, 8), (3, 9), (0, 0), (15, 23) -> places (0, 0), (3, 1), (0, 0), (7, 7)
    np.testing.assert_array_equal(mod.cell_phase(pts), [0, 8 + 3, 0, 7 * 8 + 7])


def test_peak_shape_by_hand() -> None:
    """A one-pixel peak keeps all its 5x5 heat; a flat 3x3 blob 1/9 of it; a flat 5x5 plateau 1/25; a peak in the
    corner sums only the window's part inside the heatmap; points outside raise."""
    mod = load_script("shift_equivariance")
    heat = np.zeros((20, 30))
    heat[5, 6] = 0.8  # one pixel
    heat[9:12, 19:22] = 0.1  # flat 3x3, centre (20, 10)
    heat[14:19, 2:7] = 0.04  # flat 5x5, centre (4, 16)
    heat[0, 0], heat[1, 1] = 0.5, 0.25  # corner
    kp = np.array([[6.2, 4.9], [20.0, 10.0], [4.0, 16.0], [0.0, 0.0]])
    np.testing.assert_allclose(
        mod.peak_shape(heat, kp), [[1.0, 0.8], [1 / 9, 0.9], [1 / 25, 1.0], [0.5 / 0.75, 0.75]], rtol=1e-12
    )
    np.testing.assert_allclose(mod.peak_shape(heat, kp[:1], radius=0), [[1.0, 0.8]])
    assert mod.peak_shape(heat, np.zeros((0, 2))).shape == (0, 2)
    for bad in ([[30.0, 0.0]], [[-0.6, 0.0]], [[0.0, 19.6]]):
        with pytest.raises(ValueError, match="outside"):
            mod.peak_shape(heat, np.array(bad))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        mod.peak_shape(heat[None], kp)


def test_phase_bias_fit_recovers_a_planted_table() -> None:
    """Displacements made from a known zero-mean table b (r = b[moved] - b[ref]) are explained exactly; noise that
    does not depend on the phase is left alone (the fit cannot remove it)."""
    mod = load_script("shift_equivariance")
    rng = np.random.default_rng(3)
    bias = rng.normal(0, 0.3, (64, 2))
    bias -= bias.mean(axis=0)
    ref, mov = rng.integers(0, 64, 4000), rng.integers(0, 64, 4000)
    r = bias[mov] - bias[ref]
    pairs = np.column_stack([ref, mov, r])
    np.testing.assert_allclose(mod.fit_phase_bias(pairs), bias, atol=1e-9)
    np.testing.assert_allclose(mod.remove_phase_bias(pairs, bias), 0.0, atol=1e-12)
    noise = rng.normal(0, 0.5, r.shape)
    rep = mod.phase_bias_report(np.column_stack([ref, mov, r + noise]), np.column_stack([ref, mov, noise]))
    assert rep["fit"]["corrected"]["rms_px"] == pytest.approx(np.sqrt((noise**2).sum(1).mean()), rel=0.05)
    assert rep["test"]["corrected"]["rms_px"] > 0.6  # noise plus the fit's own small error, not less
    with pytest.raises(ValueError, match="rows"):
        mod.fit_phase_bias(np.zeros((0, 4)))


def test_averaging_all_64_phases_is_exactly_shift_equivariant(astronaut: np.ndarray) -> None:
    """Crop B is crop A moved by t = (3, 5): with every phase averaged, B's heatmap is A's moved by t away from the
    borders (float rounding aside); one pass alone is not (the finding the script measures)."""
    mod = load_script("shift_equivariance")
    sp = SuperPoint(backend="onnxruntime", precision="fp32", num_threads=1)
    img = _photo(astronaut).astype(np.float32) / 255.0
    tx, ty = 3, 5
    a, b = img[:176, :208], img[ty : ty + 176, tx : tx + 208]  # b(x, y) = a(x + t)
    m = 48
    for shifts, equal in ((ALL_PHASES, True), ([(0, 0)], False)):
        ha, _ = mod.shift_averaged_heatmap(sp._pipeline, np.ascontiguousarray(a), shifts)
        hb, _ = mod.shift_averaged_heatmap(sp._pipeline, np.ascontiguousarray(b), shifts)
        diff = np.abs(ha[m + ty : 176 - m, m + tx : 208 - m] - hb[m : 176 - m - ty, m : 208 - m - tx]).max()
        assert (diff < 1e-5) if equal else (diff > 1e-3), diff


def test_one_unshifted_pass_is_the_plain_pipeline(astronaut: np.ndarray) -> None:
    mod = load_script("shift_equivariance")
    img = _photo(astronaut)
    for scales in ((1.0,), (1.0, 0.71)):
        plain = SuperPoint(backend="onnxruntime", precision="fp32", num_threads=1, scales=scales)(img)
        sp = SuperPoint(backend="onnxruntime", precision="fp32", num_threads=1, scales=scales)
        mod.install_shift_average(sp, [(0, 0)])
        got = sp(img)
        np.testing.assert_array_equal(got.keypoints, plain.keypoints)
        np.testing.assert_array_equal(got.scores, plain.scores)
        np.testing.assert_array_equal(got.descriptors, plain.descriptors)
    with pytest.raises(ValueError, match="at least one shift"):
        mod.install_shift_average(sp, [])


def test_measure_and_eval_runs(tmp_path: Path) -> None:
    mod = load_script("shift_equivariance")
    bench = rectangles_benchmark(tmp_path, photo_seed=1, bench_seed=2)
    out = tmp_path / "m.json"
    assert mod.main(["measure", str(bench), "--images", "1", "--offsets", "1,0", "0,0", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [r["offset"] for r in doc["offsets"]] == [[1, 0], [0, 0]] and doc["shifts"] == [[0, 0]]
    assert doc["offsets"][1]["median_px"] == 0.0 and doc["offsets"][1]["points"] > 10  # no shift, no motion
    assert doc["offsets"][0]["points"] > 10
    assert doc["scores"]["keypoints_per_image"] > 10 and 0 < doc["scores"]["median"] <= doc["scores"]["p90"] <= 1
    pk = doc["peaks"]
    assert pk["points"] == doc["scores"]["keypoints_per_image"]  # the same reference keypoints, one image
    assert 1 / 25 <= pk["fraction_p10"] <= pk["fraction_median"] <= 1 and 0 < pk["mass_median"] <= 25
    pb = tmp_path / "p.json"
    argv = ["phase-bias", str(bench), "--fit-data", str(bench), "--images", "1", "--offsets", "1,0", "3,5"]
    assert mod.main([*argv, "--json", str(pb)]) == 0
    doc = json.loads(pb.read_text())
    assert doc["fit"]["raw"] == doc["test"]["raw"] and doc["fit"]["raw"]["points"] > 10
    assert np.array(doc["bias_xy_by_phase_row_col"]).shape == (8, 8, 2)
    ev = tmp_path / "e.json"
    argv = ["eval", str(bench), "--shifts", "0,0", "4,4", "--kinds", "v", "--homography-trials", "2", "--name", "sa"]
    assert mod.main([*argv, "--json", str(ev)]) == 0
    r = json.loads(ev.read_text())["results"][0]
    assert r["method"] == "sa" and r["summary"]["all"]["pairs"] == 5
