"""scripts/draw_pair.py: row specs, and one picture of a generated pair for SIFT and SuperPoint."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from script_loader import load_script

from superpoint_rt.eval.generate import make_benchmark


def test_parse_row() -> None:
    mod = load_script("draw_pair")
    assert mod.parse_row("sift") == ("sift", {})
    assert mod.parse_row("superpoint, weights=w.npz ,scales=1/0.71,name=a b") == (
        "superpoint",
        {"weights": "w.npz", "scales": "1/0.71", "name": "a b"},
    )
    with pytest.raises(ValueError, match="superpoint, sift or orb"):
        mod.parse_row("harris")
    with pytest.raises(ValueError, match="key=value"):
        mod.parse_row("superpoint,colour=red")
    with pytest.raises(ValueError, match="only superpoint rows"):
        mod.parse_row("sift,weights=w.npz")
    with pytest.raises(ValueError, match="numbers separated"):
        mod.make_method("superpoint", {"scales": "1,0.5"})


def test_draws_one_row_per_method(tmp_path: Path, astronaut: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = load_script("draw_pair")
    cv2.imwrite(str(tmp_path / "p.png"), cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY))
    make_benchmark([tmp_path / "p.png"], tmp_path / "bench", size=(96, 128), seed=3, ext=".png")
    seq = next(p for p in sorted((tmp_path / "bench").iterdir()) if p.name.startswith("v_"))
    out = tmp_path / "pair.png"
    argv = ["draw_pair.py", str(seq), "--k", "3", "--size", "96x128", "--out", str(out), "--row", "sift"]
    argv += ["--row", "superpoint,backend=onnxruntime,precision=fp32,name=ours"]
    monkeypatch.setattr(sys, "argv", argv)
    assert mod.main() == 0
    img = cv2.imread(str(out))
    # two rows of (96 + 22) px with a 6 px gap; each row is the two 128 px images and an 8 px gap
    assert img is not None and img.shape == (2 * (96 + 22) + 6, 2 * 128 + 8, 3)
    for bad in (["--k", "7", "--row", "sift"], ["--row", "superpoint,scales=1;0.5"], ["--row", "fast"]):
        monkeypatch.setattr(sys, "argv", ["draw_pair.py", str(seq), "--out", str(out), *bad])
        with pytest.raises(SystemExit) as e:
            mod.main()
        assert e.value.code == 2  # an argparse error naming the problem, not a traceback
