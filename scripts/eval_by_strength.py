#!/usr/bin/env python
"""Where along the warp strength does a method fail? Per-pair-index means of ``superpoint-rt eval --json`` runs.

    python scripts/eval_by_strength.py RUN.json [RUN.json ...] [--kind v] [--eps 3] [--json out.json]

In a benchmark made by ``superpoint-rt eval make-benchmark`` or ``scripts/make_val_benchmark.py``, the pair
(1, k) of a viewpoint sequence, k = 2..6, is warped with strength (k - 1) / 5 (0.2 .. 1.0: up to 34° of
rotation, ±30% scale and 0.3 perspective at 1.0; ``superpoint_rt.eval.generate.viewpoint_config``); of an
illumination sequence, the photometric change grows the same way. Every method of every file gets one row per k:
homography accuracy at ``eps`` (pairs without a corner error left out, as the evaluator's summary does),
repeatability and NN mAP, each a mean over the sequences.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

METRICS = ("homography", "repeatability", "nn_map")


def by_pair_index(pairs: list[dict[str, Any]], kind: str, eps: float) -> dict[int, dict[str, float | int | None]]:
    """``{k: {"pairs": n, "homography": acc at eps, "repeatability": mean, "nn_map": mean}}`` over pairs of ``kind``.

    As in the evaluator's summary, a pair with descriptors (non-null ``nn_map``) whose corner error is null (the
    JSON's spelling of a failed estimate: inf) counts as a miss; ``homography`` is None where no pair of that k
    has descriptors (a detector-only run).
    """
    out: dict[int, dict[str, float | int | None]] = {}
    for k in sorted({int(p["k"]) for p in pairs if p["kind"] == kind}):
        ps = [p for p in pairs if p["kind"] == kind and int(p["k"]) == k]
        errs = [p.get("corner_error") for p in ps if p.get("nn_map") is not None or p.get("corner_error") is not None]
        hits = [e is not None and e <= eps for e in errs]
        row: dict[str, float | int | None] = {
            "pairs": len(ps),
            "homography": sum(hits) / len(hits) if hits else None,
        }
        for m in ("repeatability", "nn_map"):
            vals = [p[m] for p in ps if p.get(m) is not None]
            row[m] = sum(vals) / len(vals) if vals else None
        out[k] = row
    return out


def method_label(result: dict[str, Any], path: Path, index: int) -> str:
    """The run's own name for the method, else ``<file stem>[index]``."""
    return str(result.get("name") or result.get("method") or f"{path.stem}[{index}]")


def markdown(rows: dict[str, dict[int, dict[str, float | int | None]]], eps: float) -> str:
    """One table: a row per method, a column group per k (ε accuracy / repeatability / NN mAP)."""
    ks = sorted({k for r in rows.values() for k in r})
    head = "| method | " + " | ".join(f"k={k}: ε={eps:g} / rep. / NN mAP" for k in ks) + " |"
    lines = [head, "|---|" + "---:|" * len(ks)]

    def fmt(v: float | int | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    for name, r in rows.items():
        cells = [" / ".join(fmt(r[k][m]) for m in METRICS) if k in r else "" for k in ks]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="superpoint-rt eval --json files (same benchmark or not)")
    ap.add_argument("--kind", choices=("v", "i"), default="v", help="viewpoint (v, default) or illumination (i)")
    ap.add_argument("--eps", type=float, default=3.0, help="homography-accuracy threshold in px (default 3)")
    ap.add_argument("--json", type=Path, help="write the rows here")
    args = ap.parse_args(argv)
    if args.eps <= 0:
        ap.error("--eps must be > 0")

    rows: dict[str, dict[int, dict[str, float | int | None]]] = {}
    for path in args.runs:
        try:
            results = json.loads(path.read_text())["results"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"error: {path} is not a superpoint-rt eval JSON ({type(e).__name__}: {e})", file=sys.stderr)
            return 2
        for i, res in enumerate(results):
            if "pairs" not in res:
                print(f"error: {path} result {i} has no per-pair results", file=sys.stderr)
                return 2
            table = by_pair_index(res["pairs"], args.kind, args.eps)
            if table:
                rows[method_label(res, path, i)] = table
    if not rows:
        print(f"error: no pairs of kind {args.kind!r} in these files", file=sys.stderr)
        return 2
    print(markdown(rows, args.eps))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"kind": args.kind, "eps": args.eps, "runs": [str(p) for p in args.runs], "rows": rows}
        args.json.write_text(json.dumps(payload, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
