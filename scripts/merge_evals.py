#!/usr/bin/env python
"""Join ``superpoint-rt eval --json`` runs of one method made on disjoint parts of one benchmark into one result.

On two cores an evaluation is often run as two processes, ``--kinds v`` and ``--kinds i``; this puts them back
together as if one run had covered every pair: the pairs are concatenated (each (sequence, k) at most once) and the
summary (every metric of every group) is recomputed from them by the evaluator's own code, so the merged file
reads like any other in ``scripts/compare_evals.py`` and the README tables. The runs must agree on the method's name
and on every protocol setting except ``kinds``. A failed homography estimate (stored as null) stays a failure.

    python scripts/merge_evals.py eval_v.json eval_i.json --json eval_all.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from superpoint_rt.eval.runner import EvalConfig, EvalResult, PairResult, markdown_table, write_json

#: settings that may differ between the parts (they select the pairs, not how a pair is scored)
PART_SETTINGS = ("kinds",)


def _pair(d: dict[str, Any], has_descriptors: bool) -> PairResult:
    """A stored pair -> PairResult; null corner errors (failed estimates) become inf, null metrics nan."""
    kw: dict[str, Any] = {f.name: d.get(f.name) for f in fields(PairResult) if f.name in d}
    for key in ("repeatability", "localization_error"):
        kw[key] = float("nan") if kw.get(key) is None else kw[key]
    if has_descriptors and kw.get("corner_error") is None:
        kw["corner_error"] = float("inf")
    if kw.get("corner_errors") is not None:
        kw["corner_errors"] = [float("inf") if e is None else e for e in kw["corner_errors"]]
    kw["n_rep"] = tuple(kw.get("n_rep") or (0, 0))
    return PairResult(**kw)


def _config(d: dict[str, Any]) -> EvalConfig:
    kw = {f.name: d[f.name] for f in fields(EvalConfig) if f.name in d}
    for key in ("rep_size", "desc_size", "hom_eps", "vis_pair"):
        if key in kw and kw[key] is not None:
            kw[key] = tuple(kw[key])
    return EvalConfig(**kw)


def load_result(path: Path, method: int = 0) -> EvalResult:
    """One method's result of an eval JSON, rebuilt (no plot data)."""
    doc = json.loads(path.read_text())
    results = doc.get("results") if isinstance(doc, dict) else None
    if not results or not isinstance(results, list) or method >= len(results):
        raise ValueError(f"{path}: no result #{method} (not a `superpoint-rt eval --json` file?)")
    r = results[method]
    has_desc = any(g.get("nn_map") is not None for g in r["summary"].values())
    return EvalResult(
        method=r["method"],
        data_dir=r["data_dir"],
        config=_config(r["config"]),
        pairs=[_pair(p, has_desc) for p in r["pairs"]],
        seconds_per_image=float(r.get("seconds_per_image") or 0.0),
        has_descriptors=has_desc,
    )


def merge(parts: Sequence[EvalResult], kinds: str = "iv") -> EvalResult:
    """Parts of one method's evaluation -> one result over all their pairs (seconds per image: their pair-weighted
    mean)."""
    if len(parts) < 2:
        raise ValueError("give at least two runs to merge")
    first = parts[0]
    base = {k: v for k, v in vars(first.config).items() if k not in PART_SETTINGS}
    seen: set[tuple[str, int]] = set()
    pairs: list[PairResult] = []
    for p in parts:
        if p.method != first.method:
            raise ValueError(f"different methods: {first.method!r} and {p.method!r}")
        other = {k: v for k, v in vars(p.config).items() if k not in PART_SETTINGS}
        diff = sorted(k for k in base if base[k] != other.get(k))
        if diff:
            raise ValueError(f"the runs differ in {', '.join(diff)}: they are not parts of one evaluation")
        if p.has_descriptors != first.has_descriptors:
            raise ValueError("one run has descriptors, another has none")
        for q in p.pairs:
            key = (q.sequence, q.k)
            if key in seen:
                raise ValueError(f"pair {q.sequence} 1-{q.k} is in more than one run")
            seen.add(key)
            pairs.append(q)
    cfg = EvalConfig(**{**base, "kinds": kinds})
    weights = np.array([len(p.pairs) for p in parts], float)
    secs = float(np.average([p.seconds_per_image for p in parts], weights=weights)) if weights.sum() else 0.0
    return EvalResult(
        method=first.method,
        data_dir=first.data_dir,
        config=cfg,
        pairs=pairs,
        seconds_per_image=secs,
        has_descriptors=first.has_descriptors,
    )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", type=Path, nargs="+", help="eval JSONs of one method on disjoint pairs")
    ap.add_argument("--method", type=int, default=0, help="which result of each file (default: the first)")
    ap.add_argument("--json", type=Path, required=True, help="the merged JSON")
    args = ap.parse_args(argv)
    loaded = [load_result(p, args.method) for p in args.runs]
    kinds = "".join(k for k in "iv" if any(k in r.config.kinds for r in loaded))
    merged = merge(loaded, kinds)
    write_json([merged], args.json, extra={"merged_from": [str(p) for p in args.runs]})
    print(markdown_table([merged]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
