"""scripts/compare_evals.py: McNemar against hand-worked binomial tails, bootstrap on known differences (pairs and
whole sequences, the latter against a brute-force float64 resampler), refusals."""

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
    assert m.main([str(a), str(b), "--resample", "pairs", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["resample"] == "pairs" and doc["all"]["sequences"] == 4
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


def test_sequence_bootstrap_of_equal_sequences_is_the_bootstrap_of_their_means() -> None:
    m = _load()
    values = np.random.default_rng(3).normal(0.0, 1.0, 30)
    groups = np.repeat([f"s{i:02d}" for i in range(30)], 4)  # sorted names: np.unique keeps this order
    # every pair of a sequence has the sequence's value: resampling sequences = resampling their 30 means
    seq = m.sequence_bootstrap(np.repeat(values, 4), groups)
    assert seq == pytest.approx(m.paired_bootstrap(values), abs=1e-12)


def test_sequence_bootstrap_against_a_brute_force_resampler() -> None:
    m = _load()
    rng = np.random.default_rng(7)
    sizes = [1, 5, 2, 7, 3, 5, 4]  # unequal sequences: a resample's mean is over the pairs it drew
    groups = np.concatenate([[f"g{i}"] * n for i, n in enumerate(sizes)])
    diff = rng.normal(0.2, 1.0, len(groups))
    n_boot = 500
    draws = np.random.default_rng(11).integers(0, len(sizes), size=(n_boot, len(sizes)))
    means = [np.mean(np.concatenate([diff[groups == f"g{j}"] for j in row])) for row in draws]
    expect = np.percentile(np.array(means, dtype=np.float64), [2.5, 97.5])
    got = m.sequence_bootstrap(diff, groups, n_boot=n_boot, seed=11)
    assert got == pytest.approx(tuple(expect), abs=1e-12)


def test_sequence_bootstrap_widens_for_correlated_pairs() -> None:
    m = _load()
    rng = np.random.default_rng(5)
    # 40 sequences x 5 pairs sharing their sequence's offset: 40 independent values, not 200
    diff = np.repeat(rng.normal(0.0, 1.0, 40), 5)
    groups = np.repeat(np.arange(40), 5)
    lo_p, hi_p = m.paired_bootstrap(diff)
    lo_s, hi_s = m.sequence_bootstrap(diff, groups)
    assert (hi_s - lo_s) / (hi_p - lo_p) == pytest.approx(np.sqrt(5), rel=0.2)
    with pytest.raises(ValueError, match="same non-empty"):
        m.sequence_bootstrap(diff, groups[:-1])
    with pytest.raises(ValueError, match="resample"):
        m.interval(diff, groups, "photos")


def test_cli_by_sequences_by_hand(tmp_path: Path) -> None:
    m = _load()
    # two sequences of 5 pairs (the _eval helper names them v_s0 and v_s1); B gains 0.1 repeatability on the first
    # only. By pairs that is beyond noise; by sequences a resample draws the second twice with probability 1/4, so
    # the interval reaches 0 (its 2.5% point is a mean of 0) and it is not.
    a = _eval(tmp_path / "a.json", [1.0] * 10, [0.5] * 10, "v" * 10)
    b = _eval(tmp_path / "b.json", [1.0] * 5 + [9.0] * 5, [0.6] * 5 + [0.5] * 5, "v" * 10)
    out = tmp_path / "cmp.json"
    assert m.main([str(a), str(b), "--resample", "pairs", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["all"]["continuous"]["repeatability"]["beyond_noise"]
    assert m.main([str(a), str(b), "--json", str(out)]) == 0  # sequences: the default
    doc = json.loads(out.read_text())
    rep = doc["all"]["continuous"]["repeatability"]
    assert doc["resample"] == "sequences" and doc["all"]["sequences"] == 2
    assert rep["diff"] == pytest.approx(0.05) and rep["ci95"] == [0.0, 0.1] and not rep["beyond_noise"]
    h = doc["all"]["homography"]["3"]  # B loses the second sequence's 5 pairs: McNemar p = 2/32 (noise either way)
    assert (h["a_only"], h["b_only"]) == (5, 0) and h["ci95"] == [-1.0, 0.0] and not h["beyond_noise"]


def test_kinds_compares_the_viewpoint_pairs_of_a_full_run_with_a_viewpoint_only_run(tmp_path: Path) -> None:
    m = _load()
    full = _eval(tmp_path / "full.json", [1.0] * 5 + [2.0] * 5, [0.5] * 10, "vvvvviiiii")
    vonly = _eval(tmp_path / "v.json", [1.0, 1.0, 9.0, 1.0, 1.0], [0.7] * 5, "vvvvv")
    assert m.main([str(full), str(vonly)]) == 2  # different pairs
    out = tmp_path / "cmp.json"
    assert m.main([str(full), str(vonly), "--kinds", "v", "--resample", "pairs", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["kinds"] == "v" and doc["all"]["pairs"] == 5 and doc["i"]["pairs"] == 0
    h = doc["v"]["homography"]["3"]
    assert (h["a_only"], h["b_only"]) == (1, 0)
    assert doc["v"]["continuous"]["repeatability"]["diff"] == pytest.approx(0.2)


def test_photo_of_strips_kind_and_seed() -> None:
    m = _load()
    assert m.photo_of("v_kleiber-by-lukas-baubkus-s12") == "kleiber-by-lukas-baubkus"
    assert m.photo_of("i_grace-hopper-s3") == "grace-hopper"
    assert m.photo_of("v_photo") == "photo"  # no seed suffix (the bundled and val benchmarks)
    assert m.photo_of("v_bus-stop") == "bus-stop"  # "-s" not followed by digits stays
    assert m.photo_of("hpatches_seq") == "hpatches_seq"


def test_by_photo_hand_worked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two photos x two seeds x 2 pairs, 4 RANSAC trials each; hand-counted shares of trials within 3 px."""
    m = _load()

    def run(path: Path, trials: dict[str, list[list[float | None]]]) -> Path:
        pairs = []
        for seq, per_pair in trials.items():
            for j, errs in enumerate(per_pair):
                pair = {"sequence": seq, "kind": "v", "k": 2 + j, "corner_error": errs[0], "corner_errors": errs}
                pair.update(repeatability=0.5, nn_map=0.5, matching_score=0.5, localization_error=1.0)
                pairs.append(pair)
        path.write_text(json.dumps({"results": [{"method": "m", "pairs": pairs}]}))
        return path

    ok, bad, half = [1.0, 1.0, 1.0, 1.0], [9.0, None, 9.0, 9.0], [1.0, 9.0, 1.0, None]
    a = run(tmp_path / "a.json", {"v_bird-s1": [ok, ok], "v_bird-s2": [ok, ok], "v_wall-s1": [ok, half],
                                  "v_wall-s2": [bad, ok]})  # fmt: skip
    b = run(tmp_path / "b.json", {"v_bird-s1": [bad, half], "v_bird-s2": [ok, half], "v_wall-s1": [ok, ok],
                                  "v_wall-s2": [half, ok]})  # fmt: skip
    _, pa = m._pairs(a, 0)
    _, pb = m._pairs(b, 0)
    rows = m.by_photo(pa, pb, 3.0)
    # bird: A 4 of 4 pairs (4.0), B 0 + 0.5 + 1 + 0.5 = 2.0 -> -2.0
    # wall: A 1 + 0.5 + 0 + 1 = 2.5, B 1 + 1 + 0.5 + 1 = 3.5 -> +1.0
    assert [r["photo"] for r in rows] == ["bird", "wall"]
    assert (rows[0]["pairs"], rows[0]["a"], rows[0]["b"], rows[0]["net_pairs"]) == (4, 1.0, 0.5, -2.0)
    assert (rows[1]["a"], rows[1]["b"], rows[1]["net_pairs"]) == (0.625, 0.875, 1.0)
    out = tmp_path / "cmp.json"
    assert m.main([str(a), str(b), "--eps", "3", "--by-photo", "3", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["by_photo"]["without"] == "bird" and doc["by_photo"]["all_without"]["pairs"] == 4
    assert doc["by_photo"]["all_without"]["continuous"]["homography_trials@3"]["diff"] == pytest.approx(0.25)
    assert "without bird (4 pairs, post hoc)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        m.main([str(a), str(b), "--by-photo", "0"])
