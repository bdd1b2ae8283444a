"""scripts/compare_labels.py: counts and cross-set repeatability on hand-made shards, refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from script_loader import SCRIPTS, load_script

from superpoint_rt.train.labels import write_shard


def _pts(*xy: tuple[float, float]) -> np.ndarray:
    return np.array([[x, y, 0.5] for x, y in xy], np.float32).reshape(-1, 3)


def test_hand_counted(tmp_path: Path) -> None:
    (tmp_path / "A").mkdir()
    # crop a: A has 2 points, B has 3; A's (10,10) has B's (12,10) within 3 px, A's (50,50) none; B's (12,10) matched,
    # (100,100) and (200,200) not -> (1 + 1) / (2 + 3) = 0.4. crop b: identical -> 1.0. crop c only in B.
    write_shard(tmp_path / "A" / "shard_00000.npz", ["a.png", "b.png"], [_pts((10, 10), (50, 50)), _pts((5, 5))],
                (240, 320))  # fmt: skip
    (tmp_path / "B").mkdir()
    write_shard(
        tmp_path / "B" / "shard_00000.npz",
        ["a.png", "b.png", "c.png"],
        [_pts((12, 10), (100, 100), (200, 200)), _pts((5, 5)), _pts((1, 1))],
        (240, 320),
    )
    mod = load_script("compare_labels")
    out = mod.compare(mod.load_labels(tmp_path / "A"), mod.load_labels(tmp_path / "B"), (240, 320), 3.0)
    assert out["crops"] == 2 and out["only_in_a"] == 0 and out["only_in_b"] == 1
    assert out["points_per_crop_a"] == pytest.approx(1.5) and out["points_per_crop_b"] == pytest.approx(2.0)
    assert out["repeatability_mean"] == pytest.approx((0.4 + 1.0) / 2)
    assert out["least_repeated"][0]["crop"] == "a.png"
    res = subprocess.run(
        [sys.executable, str(SCRIPTS / "compare_labels.py"), str(tmp_path / "A"), str(tmp_path / "B"), "--json",
         str(tmp_path / "o.json")], capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "2 crops" in res.stdout and json.loads((tmp_path / "o.json").read_text())["crops"] == 2


def test_refuses_different_sizes_and_disjoint_sets(tmp_path: Path) -> None:
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    write_shard(tmp_path / "A" / "shard_00000.npz", ["a.png"], [_pts((1, 1))], (240, 320))
    write_shard(tmp_path / "B" / "shard_00000.npz", ["z.png"], [_pts((1, 1))], (120, 160))
    res = subprocess.run(
        [sys.executable, str(SCRIPTS / "compare_labels.py"), str(tmp_path / "A"), str(tmp_path / "B")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode != 0 and "label sizes differ" in res.stderr
    mod = load_script("compare_labels")
    with pytest.raises(ValueError, match="share no crop"):
        mod.compare(mod.load_labels(tmp_path / "A"), mod.load_labels(tmp_path / "B"), (240, 320), 3.0)
