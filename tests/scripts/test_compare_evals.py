"""scripts/compare_evals.py: McNemar against hand-worked binomial tails, bootstrap on known differences, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from script_loader import load_script


def _load():  # type: ignore[no-untyped-def]
    return load_script("compare_evals")


def test_mcnemar_exact_hand_worked() -> None:
    m = _load()
    assert m.mcnemar_exact(0, 0) == 1.0
    assert m.mcnemar_exact(0, 6) == pytest.approx(2 / 64)  # both tails of Binomial(6, 1/2) at 0 and 6
    assert m.mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 1024)
    assert m.mcnemar_exact(5, 5) == 1.0  # the two-sided tail is capped at 1
    assert m.mcnemar_exact(9, 1) == m.mcnemar_exact(1, 9)


def test_bootstrap_interval_of_a_constant_and_of_noise() -> None:
    m = _load()
    lo, hi = m.paired_bootstrap(np.full(50, 0.1))
    assert lo == pytest.approx(0.1) and hi == pytest.approx(0.1)
    lo, hi = m.paired_bootstrap(np.random.default_rng(1).normal(0.0, 1.0, 400))
    assert lo < 0 < hi and hi - lo == pytest.approx(2 * 1.96 / 20, rel=0.2)  # ~ +-1.96 sigma / sqrt(n)


def _eval(path: Path, errors: list[float | None], rep: list[float], kinds: str) -> Path:
    pairs = [
        {"sequence": f"{kinds[i]}_s{i // 5}", "kind": kinds[i], "k": 2 + i % 5, "corner_error": e,
         "repeatability": r, "nn_map": r, "matching_score": r, "localization_error": 1.0}
        for i, (e, r) in enumerate(zip(errors, rep))
    ]  # fmt: skip
    path.write_text(json.dumps({"results": [{"method": "superpoint", "pairs": pairs}]}))
    return path


def test_cli_counts_discordant_pairs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = _load()
    kinds = "v" * 10 + "i" * 10
    # A: right (<=3 px) on pairs 0-9; B: right on 0-7 and 10-17 -> at eps 3: A only 2, B only 8
    ea = [1.0] * 10 + [9.0] * 10
    eb = [1.0] * 8 + [None, 7.0] + [2.0] * 8 + [float("inf"), 4.0]
    a = _eval(tmp_path / "a.json", ea, [0.5] * 20, kinds)
    b = _eval(tmp_path / "b.json", eb, [0.6] * 20, kinds)
    out = tmp_path / "cmp.json"
    assert m.main([str(a), str(b), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    h = doc["all"]["homography"]["3"]
    assert (h["a_only"], h["b_only"], h["a"], h["b"]) == (2, 8, 0.5, 0.8)
    assert h["p_mcnemar"] == pytest.approx(m.mcnemar_exact(2, 8), abs=1e-4) and not h["beyond_noise"]
    assert doc["v"]["homography"]["3"]["a_only"] == 2 and doc["i"]["homography"]["3"]["b_only"] == 8
    rep = doc["all"]["continuous"]["repeatability"]
    assert rep["diff"] == pytest.approx(0.1) and rep["beyond_noise"]
    assert "McNemar" in capsys.readouterr().out
    # AUC at 5 px by hand: A = (10 * (1 - 1/5)) / 20 = 0.4; B = (8 * 0.8 + 8 * 0.6 + 1 * 0.2) / 20 = 0.57
    auc = doc["all"]["continuous"]["homography_auc"]
    assert doc["auc_eps"] == 5.0 and auc["a"] == pytest.approx(0.4) and auc["b"] == pytest.approx(0.57)
    assert auc["diff"] == pytest.approx(0.17)
    assert m.main([str(a), str(b), "--auc-eps", "10", "--json", str(out)]) == 0
    # at 10 px: A = (10 * 0.9 + 10 * 0.1) / 20 = 0.5
    assert json.loads(out.read_text())["all"]["continuous"]["homography_auc"]["a"] == pytest.approx(0.5)


def test_different_benchmarks_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = _load()
    a = _eval(tmp_path / "a.json", [1.0] * 5, [0.5] * 5, "vvvvv")
    b = _eval(tmp_path / "b.json", [1.0] * 6, [0.5] * 6, "vvvvvv")
    assert m.main([str(a), str(b)]) == 2
    assert "not the same benchmark" in capsys.readouterr().err
    (tmp_path / "c.json").write_text("{}")
    assert m.main([str(a), str(tmp_path / "c.json")]) == 2


def test_trial_accuracy_by_hand(tmp_path: Path) -> None:
    m = _load()
    a = _eval(tmp_path / "a.json", [1.0, 1.0, 9.0, 9.0, 1.0], [0.5] * 5, "vvvvv")
    b = _eval(tmp_path / "b.json", [1.0, 9.0, 1.0, 9.0, 1.0], [0.5] * 5, "vvvvv")
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    # A's 4 trials per pair: shares within 3 px 1, 3/4, 0, 1/4, 1/2 (None = failed) -> mean 0.5
    ta = [[1.0, 2, 2, 2], [1.0, 2, None, 2], [9.0, 4, 4, 4], [9.0, 1, 5, 5], [1.0, 1, 7, 7]]
    # B's: 1, 1/4, 1, 0, 1/2 -> mean 0.55
    tb = [[1.0, 1, 1, 1], [9.0, 1, 9, 9], [1.0, 1, 1, 1], [9.0, 4, 4, None], [1.0, 2, 8, 8]]
    for doc, t in ((da, ta), (db, tb)):
        for p, errs in zip(doc["results"][0]["pairs"], t):
            p["corner_errors"] = errs
    a.write_text(json.dumps(da))
    b.write_text(json.dumps(db))
    out = tmp_path / "cmp.json"
    assert m.main([str(a), str(b), "--eps", "3", "--json", str(out)]) == 0
    c = json.loads(out.read_text())["all"]["continuous"]["homography_trials@3"]
    assert (c["a"], c["b"], c["trials"], c["diff"]) == (0.5, 0.55, 4, 0.05)
    keys = sorted(m._pairs(a, 0)[1])
    assert m.trial_accuracy(m._pairs(b, 0)[1], keys, 3.0).tolist() == [1.0, 0.25, 1.0, 0.0, 0.5]
    # runs without trials (or with different counts) get no trial row
    plain = _eval(tmp_path / "p.json", [1.0, 1.0, 9.0, 9.0, 1.0], [0.5] * 5, "vvvvv")
    assert m.main([str(plain), str(b), "--json", str(out)]) == 0
    assert "homography_trials@3" not in json.loads(out.read_text())["all"]["continuous"]
