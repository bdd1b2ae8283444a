#!/usr/bin/env python
"""Is B better than A beyond noise? A paired comparison of two ``superpoint-rt eval --json`` runs on the same pairs.

    python scripts/compare_evals.py A.json B.json [--method-a 0] [--method-b 0] [--eps 3] [--auc-eps 5] [--kinds v] \
        [--resample sequences|pairs] [--by-photo 3] [--json out.json]

Both files must hold the same benchmark (the same sequence/pair list, after ``--kinds`` keeps only i or v pairs).
For homography accuracy at each ε the pairs are matched one to one: ``a_only`` pairs only A gets right, ``b_only``
only B; the exact two-sided McNemar test (binomial on the discordant pairs) gives the p-value that the two are
equally accurate. For the per-pair continuous metrics (repeatability, NN mAP, matching score, localisation error,
and each pair's share of the homography AUC at ``--auc-eps`` px, ``max(0, 1 - corner error / T)``, smoother than
accuracy at one ε) the mean difference B - A gets a paired bootstrap 95% interval (A's and B's values of a pair
resampled together, fixed seed). Runs made with ``--homography-trials N`` (both, same N) also get
``homography_trials@eps``: each pair's share of its N RANSAC runs within eps, compared like the continuous metrics.

What is resampled (``--resample``): ``sequences`` (the default) draws whole sequences with all their pairs, because
the pairs of one sequence share a source photo and their differences are correlated: treating them as independent
(``pairs``, the only form before the 12th session of 2026-12-03) gives intervals too narrow for the question "does
this hold on new photos". With ``sequences`` a homography accuracy difference is beyond noise when the
sequence-bootstrap interval of the per-pair difference (B right - A right) excludes 0; McNemar's p (pair-level) is
still reported beside it. With ``pairs`` it is beyond noise when McNemar's p < 0.05. A continuous difference is
beyond noise when its interval excludes 0.

``--by-photo EPS`` splits the homography difference at EPS px by source photo (a sequence's name without its ``i_``
/ ``v_`` prefix and the ``-s<seed>`` suffix of ``scripts/make_heldout_large.sh``): per photo its pairs, A's and B's
accuracy (averaged over RANSAC trials where both runs have them) and B - A in pairs, the largest losses first; then
the whole comparison again without the photo B loses most on. That last part is a post-hoc reading (the photo is
picked after seeing the results): it says how concentrated a gap is, not that it is absent elsewhere.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from superpoint_rt.eval.metrics import auc_score

CONTINUOUS = ("repeatability", "nn_map", "matching_score", "localization_error")


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value: P(|X - n/2| >= |a_only - n/2|), X ~ Binomial(n = a_only + b_only, 1/2)."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    k = min(a_only, b_only)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def paired_bootstrap(diff: np.ndarray, n_boot: int = 10000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean of ``diff`` (per-pair B - A) over ``n_boot`` resamples of the pairs."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diff), size=(n_boot, len(diff)))
    means = diff[idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def sequence_bootstrap(diff: np.ndarray, groups: np.ndarray, n_boot: int = 10000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the per-pair mean of ``diff`` when whole groups are resampled.

    ``diff`` (N,) holds each pair's B - A and ``groups`` (N,) its sequence; each resample draws as many sequences as
    there are, with replacement, and its statistic is the sum of the drawn sequences' differences over the number
    of their pairs (so sequences of unequal size weigh by their pairs, as in the plain mean).
    """
    diff = np.asarray(diff, dtype=np.float64)
    if diff.shape != np.shape(groups) or diff.ndim != 1 or len(diff) == 0:
        raise ValueError(f"diff and groups must be the same non-empty 1-D shape, got {diff.shape}, {np.shape(groups)}")
    _, inv = np.unique(np.asarray(groups), return_inverse=True)
    sums = np.bincount(inv, weights=diff)
    counts = np.bincount(inv).astype(np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(sums), size=(n_boot, len(sums)))
    means = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def interval(diff: np.ndarray, groups: np.ndarray, resample: str) -> tuple[float, float]:
    """The 95% interval of mean(``diff``) by ``resample``: "pairs" or "sequences" (``groups`` = each pair's)."""
    if resample == "pairs":
        return paired_bootstrap(diff)
    if resample == "sequences":
        return sequence_bootstrap(diff, groups)
    raise ValueError(f"resample must be 'pairs' or 'sequences', got {resample!r}")


def _pairs(path: Path, method: int) -> tuple[str, dict[tuple[str, int], dict[str, Any]]]:
    doc = json.loads(path.read_text())
    results = doc.get("results")
    if not isinstance(results, list) or not results:
        raise ValueError(f"{path}: not a `superpoint-rt eval --json` file (no results)")
    if not 0 <= method < len(results):
        raise ValueError(f"{path}: method index {method} out of range (0..{len(results) - 1})")
    r = results[method]
    return str(r.get("method")), {(p["sequence"], int(p["k"])): p for p in r["pairs"]}


def _per_pair(
    run: dict[tuple[str, int], dict[str, Any]], keys: list[tuple[str, int]], m: str, auc_eps: float
) -> np.ndarray:
    """Metric ``m`` of each pair in ``keys`` (nan where undefined); "homography_auc": the pair's AUC share."""
    if m == "homography_auc":
        return np.array([auc_score(run[k]["corner_error"], auc_eps) for k in keys], dtype=float)
    return np.array([np.nan if run[k].get(m) is None else run[k][m] for k in keys], dtype=float)


def trial_accuracy(run: dict[tuple[str, int], dict[str, Any]], keys: list[tuple[str, int]], e: float) -> np.ndarray:
    """Per pair, the share of its RANSAC trials (``corner_errors``; null = failed) with a corner error <= ``e``."""
    return np.array([np.mean([c is not None and c <= e for c in run[k]["corner_errors"]]) for k in keys], float)


def run_accuracy(run: dict[tuple[str, int], dict[str, Any]], keys: list[tuple[str, int]], e: float) -> np.ndarray:
    """Per pair, whether its (first) RANSAC run's corner error is <= ``e`` (null = failed)."""
    return np.array([run[k]["corner_error"] is not None and run[k]["corner_error"] <= e for k in keys], dtype=bool)


def same_trials(
    a: dict[tuple[str, int], dict[str, Any]], b: dict[tuple[str, int], dict[str, Any]], keys: list[tuple[str, int]]
) -> int:
    """The RANSAC trial count both runs have on every pair of ``keys`` (``--homography-trials N``), or 0 where they
    have one run only or differ."""
    trials = {len(r[k].get("corner_errors") or []) for r in (a, b) for k in keys}
    return trials.pop() if len(trials) == 1 and min(trials) > 1 else 0


def compare(
    a: dict[tuple[str, int], dict[str, Any]],
    b: dict[tuple[str, int], dict[str, Any]],
    eps: list[float],
    kinds: str,
    auc_eps: float = 5.0,
    resample: str = "sequences",
) -> dict[str, Any]:
    """The paired statistics of B against A over the pairs whose kind is in ``kinds`` ("iv", "i" or "v");
    ``continuous["homography_auc"]`` is the homography AUC at ``auc_eps`` px; intervals by ``resample``
    ("sequences" or "pairs", see the module docstring)."""
    if resample not in ("pairs", "sequences"):
        raise ValueError(f"resample must be 'pairs' or 'sequences', got {resample!r}")
    if set(a) != set(b):
        raise ValueError(f"the two runs have different pairs ({len(a)} vs {len(b)}): not the same benchmark")
    keys = sorted(k for k in a if a[k]["kind"] in kinds)
    groups = np.array([k[0] for k in keys])
    out: dict[str, Any] = {
        "pairs": len(keys), "sequences": len(set(groups.tolist())), "resample": resample,
        "homography": {}, "continuous": {},
    }  # fmt: skip
    if not keys:  # e.g. a run of viewpoint sequences only, asked about illumination
        return out
    for e in eps:
        ca, cb = run_accuracy(a, keys, e), run_accuracy(b, keys, e)
        a_only, b_only = int((ca & ~cb).sum()), int((cb & ~ca).sum())
        p = mcnemar_exact(a_only, b_only)
        h: dict[str, Any] = {
            "a": round(float(ca.mean()), 4), "b": round(float(cb.mean()), 4), "a_only": a_only, "b_only": b_only,
            "p_mcnemar": round(p, 4), "beyond_noise": p < 0.05,
        }  # fmt: skip
        if resample == "sequences":
            lo, hi = sequence_bootstrap(cb.astype(float) - ca.astype(float), groups)
            h["ci95"] = [round(lo, 4), round(hi, 4)]
            h["beyond_noise"] = lo > 0 or hi < 0
        out["homography"][f"{e:g}"] = h
    n_trials = same_trials(a, b, keys)
    if n_trials:
        for e in eps:
            va, vb = trial_accuracy(a, keys, e), trial_accuracy(b, keys, e)
            d = vb - va
            lo, hi = interval(d, groups, resample)
            out["continuous"][f"homography_trials@{e:g}"] = {
                "a": round(float(va.mean()), 4), "b": round(float(vb.mean()), 4), "trials": n_trials,
                "diff": round(float(d.mean()), 4), "ci95": [round(lo, 4), round(hi, 4)],
                "beyond_noise": lo > 0 or hi < 0,
            }  # fmt: skip
    for m in (*CONTINUOUS, "homography_auc"):
        va, vb = _per_pair(a, keys, m, auc_eps), _per_pair(b, keys, m, auc_eps)
        ok = np.isfinite(va) & np.isfinite(vb)
        if not ok.any():
            continue
        d = vb[ok] - va[ok]
        lo, hi = interval(d, groups[ok], resample)
        out["continuous"][m] = {
            "a": round(float(va[ok].mean()), 4), "b": round(float(vb[ok].mean()), 4),
            "diff": round(float(d.mean()), 4), "ci95": [round(lo, 4), round(hi, 4)], "beyond_noise": lo > 0 or hi < 0,
        }  # fmt: skip
    return out


def photo_of(sequence: str) -> str:
    """The source photo of a sequence: its name without the ``i_``/``v_`` prefix and a ``-s<seed>`` suffix."""
    name = sequence[2:] if sequence[:2] in ("i_", "v_") else sequence
    stem, sep, seed = name.rpartition("-s")
    return stem if sep and stem and seed.isdigit() else name


def by_photo(
    a: dict[tuple[str, int], dict[str, Any]], b: dict[tuple[str, int], dict[str, Any]], e: float
) -> list[dict[str, Any]]:
    """Per source photo (:func:`photo_of`) over the pairs of ``a`` (the same as ``b``'s): pairs, A's and B's
    homography accuracy at ``e`` px (each pair's share of its RANSAC trials when both runs have the same number of
    them, else the one run) and ``net_pairs`` = the sum over its pairs of B - A; sorted by ``net_pairs``, losses first
    (ties by photo name)."""
    if set(a) != set(b):
        raise ValueError(f"the two runs have different pairs ({len(a)} vs {len(b)}): not the same benchmark")
    keys = sorted(a)
    per_pair = trial_accuracy if same_trials(a, b, keys) else run_accuracy
    va, vb = (per_pair(r, keys, e).astype(float) for r in (a, b))
    photos: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        photos.setdefault(photo_of(k[0]), []).append(i)
    rows = []
    for ph, ix in photos.items():
        row = {"photo": ph, "pairs": len(ix), "a": round(float(va[ix].mean()), 4), "b": round(float(vb[ix].mean()), 4)}
        row["net_pairs"] = round(float((vb[ix] - va[ix]).sum()), 2)
        rows.append(row)
    return sorted(rows, key=lambda r: (r["net_pairs"], r["photo"]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path, help="eval JSON of the baseline")
    ap.add_argument("b", type=Path, help="eval JSON of the candidate")
    ap.add_argument("--method-a", type=int, default=0, help="index of the method in A's results (default 0)")
    ap.add_argument("--method-b", type=int, default=0, help="index of the method in B's results (default 0)")
    ap.add_argument("--eps", type=float, nargs="+", default=[1.0, 3.0, 5.0])
    ap.add_argument("--auc-eps", type=float, default=5.0, help="homography AUC up to this many px (default 5)")
    ap.add_argument(
        "--resample", choices=("sequences", "pairs"), default="sequences",
        help="bootstrap unit: whole sequences (default; their pairs share a photo) or single pairs",
    )  # fmt: skip
    ap.add_argument(
        "--kinds", choices=("iv", "i", "v"), default="iv",
        help="compare only these pairs of both runs (e.g. v: a full run against a viewpoint-only one)",
    )  # fmt: skip
    ap.add_argument(
        "--by-photo", type=float, metavar="EPS",
        help="also split the homography difference at EPS px by source photo, then compare again without the photo "
        "B loses most on (a post-hoc reading: how concentrated the gap is)",
    )  # fmt: skip
    ap.add_argument("--json", type=Path, help="write the comparison here")
    args = ap.parse_args(argv)
    if not args.auc_eps > 0:
        ap.error("--auc-eps must be > 0")
    if args.by_photo is not None and not args.by_photo > 0:
        ap.error("--by-photo must be > 0 (px)")
    try:
        name_a, a = _pairs(args.a, args.method_a)
        name_b, b = _pairs(args.b, args.method_b)
        a = {k: p for k, p in a.items() if p["kind"] in args.kinds}
        b = {k: p for k, p in b.items() if p["kind"] in args.kinds}
        doc: dict[str, Any] = {"a": f"{name_a} ({args.a.name})", "b": f"{name_b} ({args.b.name})"}
        doc["auc_eps"] = args.auc_eps
        doc["resample"] = args.resample
        doc["kinds"] = args.kinds
        for kind, sel in (("all", "iv"), ("i", "i"), ("v", "v")):
            doc[kind] = compare(a, b, args.eps, sel, args.auc_eps, args.resample)
        if args.by_photo is not None:
            rows = by_photo(a, b, args.by_photo)
            doc["by_photo"] = {"eps": args.by_photo, "photos": rows}
            if rows and rows[0]["net_pairs"] < 0:
                worst = rows[0]["photo"]
                a2 = {k: p for k, p in a.items() if photo_of(k[0]) != worst}
                b2 = {k: p for k, p in b.items() if photo_of(k[0]) != worst}
                doc["by_photo"]["without"] = worst
                doc["by_photo"]["all_without"] = compare(a2, b2, [args.by_photo], "iv", args.auc_eps, args.resample)
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"A = {doc['a']}\nB = {doc['b']}\nresampled: {args.resample} ({doc['all']['sequences']} sequences)")
    for kind in ("all", "i", "v"):
        r = doc[kind]
        for eps, h in r["homography"].items():
            flag = "beyond noise" if h["beyond_noise"] else "noise"
            ci = f", 95% CI [{h['ci95'][0]:+.3f}, {h['ci95'][1]:+.3f}]" if "ci95" in h else ""
            print(f"[{kind}, {r['pairs']} pairs] hom. eps={eps}: A {h['a']:.3f} B {h['b']:.3f} "
                  f"(A only {h['a_only']}, B only {h['b_only']}, "
                  f"McNemar p={h['p_mcnemar']:.3f}{ci}: {flag})")  # fmt: skip
        for m, c in r["continuous"].items():
            flag = "beyond noise" if c["beyond_noise"] else "noise"
            print(f"[{kind}] {m}: A {c['a']:.3f} B {c['b']:.3f} diff {c['diff']:+.4f} "
                  f"95% CI [{c['ci95'][0]:+.4f}, {c['ci95'][1]:+.4f}]: {flag}")  # fmt: skip
    if "by_photo" in doc:
        bp = doc["by_photo"]
        print(f"by photo, homography at {bp['eps']:g} px (B - A in pairs, losses first):")
        for row in bp["photos"]:
            print(f"  {row['photo']}: {row['pairs']} pairs, A {row['a']:.3f} B {row['b']:.3f}, {row['net_pairs']:+.2f}")
        if "all_without" in bp:
            r = bp["all_without"]
            key = f"homography_trials@{bp['eps']:g}"
            c = r["continuous"].get(key) or r["homography"][f"{bp['eps']:g}"]
            ci = c.get("ci95")
            ci_text = f" 95% CI [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""
            flag = "beyond noise" if c["beyond_noise"] else "noise"
            head = f"without {bp['without']} ({r['pairs']} pairs, post hoc)"
            print(f"{head}: A {c['a']:.3f} B {c['b']:.3f}{ci_text}: {flag}")
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
