"""scripts/checkpoint_curve.py: rows from eval JSONs, ordered by the step in the file name; mixed benchmarks refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from script_loader import SCRIPTS, load_script

SCRIPT = SCRIPTS / "checkpoint_curve.py"


def _load():  # type: ignore[no-untyped-def]
    return load_script("checkpoint_curve")


def _eval_json(path: Path, pairs: int, value: float, errors: tuple[float | None, ...] = (1.0,)) -> Path:
    keys = ("homography@1", "homography@3", "homography@5", "repeatability", "nn_map", "matching_score")
    row = {"pairs": pairs, **{k: value + i / 100 for i, k in enumerate(keys)}}
    per_pair = [{"corner_error": e} for e in errors]
    path.write_text(json.dumps({"results": [{"summary": {"all": row, "i": {"pairs": 1}}, "pairs": per_pair}]}))
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


def test_auc_comes_from_the_per_pair_corner_errors(tmp_path: Path) -> None:
    mod = _load()
    # hand-worked AUC at 5 px: pairs contribute 1 - e/5, failures (null) and errors >= 5 px nothing
    f = _eval_json(tmp_path / "step_7.json", 4, 0.5, errors=(0.0, 2.5, None, 12.0))
    (row,) = mod.read_rows([f])
    assert row["homography_auc@5"] == pytest.approx((1.0 + 0.5) / 4)
    assert mod.main([str(f), "--plot", str(tmp_path / "c.png")]) == 0 and (tmp_path / "c.png").stat().st_size > 0


def test_mixed_benchmarks_and_unnamed_steps_are_refused(tmp_path: Path) -> None:
    mod = _load()
    with pytest.raises(ValueError, match="pair counts"):
        mod.read_rows([_eval_json(tmp_path / "s1.json", 8, 0.5), _eval_json(tmp_path / "s2.json", 9, 0.5)])
    with pytest.raises(ValueError, match="no step"):
        mod.read_rows([_eval_json(tmp_path / "final.json", 8, 0.5)])
    assert mod.main([str(tmp_path / "final.json")]) == 2


def _with_trials(path: Path, trials: int, value: float) -> Path:
    doc = json.loads(path.read_text())
    result = doc["results"][0]
    result["config"] = {"homography_trials": trials}
    result["summary"]["all"].update({f"homography_trials@{e}": value + e / 1000 for e in (1, 3, 5)})
    path.write_text(json.dumps(doc))
    return path


def test_trial_averaged_homography_is_carried_when_every_file_has_it(tmp_path: Path) -> None:
    mod = _load()
    a = _with_trials(_eval_json(tmp_path / "step_1.json", 4, 0.5), 10, 0.6)
    b = _with_trials(_eval_json(tmp_path / "step_2.json", 4, 0.5), 10, 0.7)
    rows = mod.read_rows([b, a])
    assert [r["homography_trials@3"] for r in rows] == [0.603, 0.703] and rows[0]["homography_trials"] == 10
    assert mod.main([str(a), str(b), "--plot", str(tmp_path / "t.png")]) == 0 and (tmp_path / "t.png").exists()
    # a file without trials: the averages are dropped from every row, the rest stays
    c = _eval_json(tmp_path / "step_3.json", 4, 0.5)
    rows = mod.read_rows([a, b, c])
    assert all("homography_trials@3" not in r and "homography_trials" not in r for r in rows)
    assert [r["step"] for r in rows] == [1, 2, 3]
    # different trial counts cannot be compared
    d = _with_trials(_eval_json(tmp_path / "step_4.json", 4, 0.5), 5, 0.7)
    with pytest.raises(ValueError, match="homography-trials"):
        mod.read_rows([a, d])
