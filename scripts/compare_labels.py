#!/usr/bin/env python
"""How two Homographic Adaptation label sets of the same crops differ (e.g. round 1 by v1 vs round 2 by v2).

Per crop both sets name: the point counts and the repeatability of one set against the other
(``superpoint_rt.eval.metrics.repeatability``, identity homography, ``--eps`` px, over the whole crop): the share of
points with a partner within eps. Reported: means, quartiles and the crops that changed most. Points are (x, y) in
pixels of the label size (shards record it); both sets must share it.

    python scripts/compare_labels.py train_runs/adapt_photos train_runs/adapt_photos_v2 \\
        --json bench/results/labels_v1_vs_v2_photos.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from superpoint_rt.eval.metrics import repeatability
from superpoint_rt.train.labels import load_labels


def label_size(label_dir: Path) -> tuple[int, int]:
    """(H, W) the shards of ``label_dir`` were made at (all shards must agree)."""
    sizes = set()
    for s in sorted(label_dir.glob("shard_*.npz")):
        with np.load(s) as z:
            sizes.add(tuple(int(v) for v in z["size"]))
    if len(sizes) != 1:
        raise ValueError(f"{label_dir}: shards disagree on the label size: {sorted(sizes)}")
    return sizes.pop()  # type: ignore[return-value]


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray], size: tuple[int, int], eps: float) -> dict:
    """Per-crop counts and repeatability of ``a`` vs ``b`` over the crops both name."""
    common = sorted(set(a) & set(b))
    if not common:
        raise ValueError("the two label sets share no crop")
    rows: list[dict[str, Any]] = []
    for name in common:
        r = repeatability(a[name][:, :2], b[name][:, :2], np.eye(3), size, size, eps)
        rows.append({"crop": name, "n_a": len(a[name]), "n_b": len(b[name]), "repeatability": r.repeatability})
    rep = np.array([r["repeatability"] for r in rows], dtype=np.float64)
    rep = rep[~np.isnan(rep)]
    na = np.array([r["n_a"] for r in rows])
    nb = np.array([r["n_b"] for r in rows])
    worst = sorted((r for r in rows if not np.isnan(r["repeatability"])), key=lambda r: float(r["repeatability"]))[:10]
    return {
        "crops": len(common),
        "only_in_a": len(set(a) - set(b)),
        "only_in_b": len(set(b) - set(a)),
        "points_per_crop_a": float(na.mean()),
        "points_per_crop_b": float(nb.mean()),
        "crops_with_no_points_a": int((na == 0).sum()),
        "crops_with_no_points_b": int((nb == 0).sum()),
        "repeatability_mean": float(rep.mean()) if len(rep) else None,
        "repeatability_quartiles": [float(q) for q in np.percentile(rep, [25, 50, 75])] if len(rep) else None,
        "least_repeated": worst,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path, help="label folder A (shard_*.npz)")
    ap.add_argument("b", type=Path, help="label folder B")
    ap.add_argument("--eps", type=float, default=3.0, help="match distance in px (default 3)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    size, size_b = label_size(args.a), label_size(args.b)
    if size_b != size:
        raise SystemExit(f"label sizes differ: {args.a} {size}, {args.b} {size_b}")
    out = {"a": str(args.a), "b": str(args.b), "size": list(size), "eps": args.eps}
    out.update(compare(load_labels(args.a), load_labels(args.b), size, args.eps))
    print(
        f"{out['crops']} crops: points/crop A {out['points_per_crop_a']:.1f}, B {out['points_per_crop_b']:.1f}; "
        f"repeatability A vs B at {args.eps:g} px: mean {out['repeatability_mean']:.3f}, "
        f"quartiles {', '.join(f'{q:.3f}' for q in out['repeatability_quartiles'])}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
