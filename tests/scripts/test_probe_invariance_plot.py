"""scripts/probe_invariance.py's picture: one colour per method however many there are, the legend off the panels;
and when it writes its benchmark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from script_loader import load_script


@pytest.mark.parametrize("n", [1, 3, 10, 11, 20, 21, 30])
def test_method_colours_are_distinct(n: int) -> None:
    colours = load_script("probe_invariance").method_colors(n)
    assert len(colours) == n and len(set(colours)) == n
    assert all(len(c) == 4 and all(0.0 <= v <= 1.0 for v in c) for c in colours)


def test_plot_puts_the_legend_beside_the_panels(tmp_path: Path) -> None:
    """With 11 methods (v1..v8, ORB, SIFT and one more) the picture is written, and the legend widens it: the
    panels alone are 4 x 3.4 in wide at 90 dpi (1224 px); a legend inside the first panel would not add width."""
    import cv2

    from superpoint_rt.eval.invariance import LEVELS

    mod = load_script("probe_invariance")
    rng = np.random.default_rng(0)
    curves = {
        f"method {i}": {k: {"homography": list(rng.random(5)), "repeatability": list(rng.random(5))} for k in LEVELS}
        for i in range(11)
    }
    curves["method 10"]["rot"]["homography_trials"] = list(rng.random(5))
    out = tmp_path / "probe.png"
    mod._plot(curves, out, "test")
    img = cv2.imread(str(out))
    assert img is not None
    assert img.shape[1] > 1224 + 100, img.shape


def test_benchmark_is_written_unless_sequences_are_there(tmp_path: Path) -> None:
    needs = load_script("probe_invariance").needs_benchmark
    out = tmp_path / "probe"
    assert needs(out)  # missing
    out.mkdir()
    assert needs(out)  # empty
    (out / "log.txt").write_text("a log written into the folder")
    assert needs(out)  # only other files: no sequence to evaluate
    (out / "v_photo0_rot10").mkdir()
    assert not needs(out)
