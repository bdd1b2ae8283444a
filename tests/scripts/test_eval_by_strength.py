"""scripts/eval_by_strength.py: per-pair-index means against hand-counted values, labels, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from script_loader import load_script


def _load():  # type: ignore[no-untyped-def]
    return load_script("eval_by_strength")


def _pair(seq: str, kind: str, k: int, err: float | None, rep: float, nn_map: float) -> dict:
    return {"sequence": seq, "kind": kind, "k": k, "corner_error": err, "repeatability": rep, "nn_map": nn_map}


PAIRS = [
    # two viewpoint sequences, k = 2 and 3; one illumination pair that must not count for kind "v"
    _pair("v_a", "v", 2, 1.0, 0.8, 0.6),
    _pair("v_b", "v", 2, 4.0, 0.6, 0.4),
    _pair("v_a", "v", 3, 2.9, 0.5, 0.3),
    _pair("v_b", "v", 3, None, 0.3, 0.1),  # null corner error with descriptors: a failed estimate, a miss
    _pair("i_a", "i", 2, 9.0, 0.1, 0.1),
]


def test_by_pair_index_hand_counted() -> None:
    m = _load()
    t = m.by_pair_index(PAIRS, "v", 3.0)
    assert set(t) == {2, 3}
    assert t[2] == {"pairs": 2, "homography": 0.5, "repeatability": pytest.approx(0.7), "nn_map": pytest.approx(0.5)}
    # k=3: 2.9 <= 3 hits, the failed estimate (null) misses: accuracy 1/2; the means take both pairs
    assert t[3]["pairs"] == 2 and t[3]["homography"] == 0.5
    assert t[3]["repeatability"] == pytest.approx(0.4) and t[3]["nn_map"] == pytest.approx(0.2)
    assert m.by_pair_index(PAIRS, "v", 1.0)[2]["homography"] == 0.5  # 1.0 <= 1.0 counts
    ti = m.by_pair_index(PAIRS, "i", 3.0)
    assert set(ti) == {2} and ti[2]["homography"] == 0.0
    detector_only = [dict(p, corner_error=None, nn_map=None) for p in PAIRS]
    assert m.by_pair_index(detector_only, "v", 3.0)[2]["homography"] is None


def test_cli_table_json_and_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = _load()
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"results": [{"method": "orb", "pairs": PAIRS}, {"pairs": PAIRS}]}))
    out = tmp_path / "rows.json"
    assert m.main([str(run), "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| orb | 0.50 / 0.70 / 0.50 | 0.50 / 0.40 / 0.20 |" in table
    assert "| run[1] |" in table  # no name in the run: file stem and index
    rows = json.loads(out.read_text())["rows"]
    assert rows["orb"]["2"]["homography"] == 0.5


def test_cli_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = _load()
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    assert m.main([str(bad)]) == 2
    assert "not a superpoint-rt eval JSON" in capsys.readouterr().err
    summary_only = tmp_path / "summary.json"
    summary_only.write_text(json.dumps({"results": [{"method": "orb", "summary": {}}]}))
    assert m.main([str(summary_only)]) == 2
    assert "no per-pair results" in capsys.readouterr().err
    only_i = tmp_path / "only_i.json"
    only_i.write_text(json.dumps({"results": [{"method": "orb", "pairs": [PAIRS[-1]]}]}))
    assert m.main([str(only_i)]) == 2
    assert "no pairs of kind 'v'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        m.main([str(only_i), "--eps", "0"])
