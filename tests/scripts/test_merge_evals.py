"""scripts/merge_evals.py: two hand-made parts (viewpoint, illumination) merge into the summary worked out by hand,
failed estimates (null) stay failures, RANSAC trials average per pair; refusals for overlapping pairs, other
methods and other protocol settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from script_loader import load_script

CONFIG: dict[str, Any] = {"hom_eps": [1.0, 3.0, 5.0], "homography_trials": 2, "rep_size": [240, 320]}


def _pair(seq: str, kind: str, k: int, err: float | None, trials: list[float | None], rep: float | None) -> dict:
    return {
        "sequence": seq, "kind": kind, "k": k, "repeatability": rep, "localization_error": 1.0,
        "n_rep": [10, 10], "nn_map": 0.5, "matching_score": 0.25, "corner_error": err, "corner_errors": trials,
        "n_matches": 50, "n_inliers": 20,
    }  # fmt: skip


def _part(path: Path, kinds: str, pairs: list[dict], method: str = "sp", **config: Any) -> Path:
    summary = {"all": {"nn_map": 0.5}}  # only read to tell a method with descriptors
    result = {"method": method, "data_dir": "bench", "config": {**CONFIG, "kinds": kinds, **config},
              "seconds_per_image": 0.1 * len(pairs), "summary": summary, "pairs": pairs}  # fmt: skip
    path.write_text(json.dumps({"results": [result]}))
    return path


def test_merged_summary_by_hand(tmp_path: Path) -> None:
    m = load_script("merge_evals")
    v = _part(tmp_path / "v.json", "v", [
        _pair("v_a", "v", 2, 0.5, [0.5, 2.0], 0.8),
        _pair("v_a", "v", 3, None, [None, 4.0], None),  # failed estimate; repeatability undefined
    ])  # fmt: skip
    i = _part(tmp_path / "i.json", "i", [_pair("i_b", "i", 2, 2.5, [2.5, 6.0], 0.6)])
    out = tmp_path / "all.json"
    assert m.main([str(v), str(i), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    r = doc["results"][0]
    assert doc["merged_from"] == [str(v), str(i)] and r["config"]["kinds"] == "iv"
    assert [(p["sequence"], p["k"]) for p in r["pairs"]] == [("v_a", 2), ("v_a", 3), ("i_b", 2)]
    s = r["summary"]
    assert s["all"]["pairs"] == 3 and s["v"]["pairs"] == 2 and s["i"]["pairs"] == 1
    # corner errors 0.5, failed, 2.5: within 1 px 1 of 3, within 3 and 5 px 2 of 3
    assert s["all"]["homography@1"] == pytest.approx(1 / 3) and s["all"]["homography@3"] == pytest.approx(2 / 3)
    assert s["v"]["homography@3"] == pytest.approx(0.5) and s["i"]["homography@1"] == 0.0
    # trials per pair within 3 px: 2/2, 0/2 (failed, 4.0), 1/2 -> mean 0.5; within 5 px: 1, 1/2, 1/2
    assert s["all"]["homography_trials@3"] == pytest.approx(0.5)
    assert s["all"]["homography_trials@5"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert s["all"]["repeatability"] == pytest.approx(0.7)  # the undefined pair is left out, as the evaluator does
    assert s["all"]["nn_map"] == pytest.approx(0.5) and s["all"]["matching_score"] == pytest.approx(0.25)
    assert r["seconds_per_image"] == pytest.approx((0.2 * 2 + 0.1 * 1) / 3)
    assert r["pairs"][1]["corner_error"] is None  # still stored as a failure


def test_refusals(tmp_path: Path) -> None:
    m = load_script("merge_evals")
    v = _part(tmp_path / "v.json", "v", [_pair("v_a", "v", 2, 0.5, [0.5, 0.5], 0.8)])
    out = str(tmp_path / "o.json")
    with pytest.raises(ValueError, match="more than one run"):
        m.main([str(v), str(v), "--json", out])
    other = _part(tmp_path / "o1.json", "i", [_pair("i_b", "i", 2, 1.0, [1.0, 1.0], 0.6)], method="orb")
    with pytest.raises(ValueError, match="different methods"):
        m.main([str(v), str(other), "--json", out])
    trials = _part(tmp_path / "o2.json", "i", [_pair("i_b", "i", 2, 1.0, [1.0], 0.6)], homography_trials=1)
    with pytest.raises(ValueError, match="homography_trials"):
        m.main([str(v), str(trials), "--json", out])
    with pytest.raises(ValueError, match="at least two"):
        m.main([str(v), "--json", out])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="not a `superpoint-rt eval --json` file"):
        m.main([str(v), str(tmp_path / "bad.json"), "--json", out])
