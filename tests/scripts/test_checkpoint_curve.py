"""scripts/checkpoint_curve.py: rows from eval JSONs, ordered by the step in the file name; mixed benchmarks refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from script_loader import SCRIPTS, load_script

SCRIPT = SCRIPTS / "checkpoint_curve.py"


def _load():  # type: ignore[no-untyped-def]
    return load_script("checkpoint_curve")


def _eval_json(path: Path, pairs: int, value: float) -> Path:
    keys = ("homography@1", "homography@3", "homography@5", "repeatability", "nn_map", "matching_score")
    row = {"pairs": pairs, **{k: value + i / 100 for i, k in enumerate(keys)}}
    path.write_text(json.dumps({"results": [{"summary": {"all": row, "i": {"pairs": 1}}}]}))
    return path


def test_rows_follow_the_step_in_the_name(tmp_path: Path) -> None:
    mod = _load()
    files = [_eval_json(tmp_path / "step_10000.json", 8, 0.5), _eval_json(tmp_path / "run2_step_900.json", 8, 0.25)]
    rows = mod.read_rows(files)
    assert [r["step"] for r in rows] == [900, 10000]  # numeric order, the last integer of the name
    assert rows[0]["homography@1"] == 0.25 and rows[0]["homography@3"] == 0.26 and rows[1]["matching_score"] == 0.55
    out = tmp_path / "c.json"
    assert mod.main([*map(str, files), "--json", str(out), "--shipped", "900"]) == 0
    assert json.loads(out.read_text())["rows"] == rows


def test_mixed_benchmarks_and_unnamed_steps_are_refused(tmp_path: Path) -> None:
    mod = _load()
    with pytest.raises(ValueError, match="pair counts"):
        mod.read_rows([_eval_json(tmp_path / "s1.json", 8, 0.5), _eval_json(tmp_path / "s2.json", 9, 0.5)])
    with pytest.raises(ValueError, match="no step"):
        mod.read_rows([_eval_json(tmp_path / "final.json", 8, 0.5)])
    assert mod.main([str(tmp_path / "final.json")]) == 2
