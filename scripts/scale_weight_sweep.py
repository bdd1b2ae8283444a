#!/usr/bin/env python
"""Which ``scale_weight`` for the image pyramid? One set of per-level features, merged with several weights.

    python scripts/scale_weight_sweep.py DATA_DIR [--weights W] [--scales 1.41 1 0.71 0.5]
        [--scale-weights 0 0.3 0.5 0.65 0.75 1 1.5 2] [--kinds v] [--trials 10] [--json out.json] [--plot out.png]

The pyramid's merged top-k ranks points of all levels by score; a coarse level's points are ~1/s input px off where
a fine level's are ~1, so which levels fill the top-k moves the homography's precision. For each image the network
runs once per level (FP32 ONNX Runtime, one thread, the other options at their defaults); each ``scale_weight`` g
then merges the same levels as ``SuperPoint(scales=..., scale_weight=g)`` does (``multiscale.merge_levels`` with
weights ``s**g`` over their largest) and the evaluator's homography protocol runs on the result: 480x640, the best
1000 points, mutual nearest neighbours, ``cv2.findHomography`` RANSAC at 3 px, the mean corner error; with
``--trials N`` also on N - 1 shuffled orders of the matches (``metrics.homography_trial_errors``). Per weight: the
share of pairs within 1/3/5 px over all trials, AUC@5 and the share of the merged points from each level; per pair
the errors, for paired comparisons. Choose on training data; confirm held out with ``superpoint-rt eval
--scale-weight G`` and ``scripts/compare_evals.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from superpoint_rt.eval import metrics as M
from superpoint_rt.eval.hpatches import list_sequences, load_sequence
from superpoint_rt.eval.runner import benchmark_dir
from superpoint_rt.multiscale import check_scales, level_weights, merge_levels
from superpoint_rt.sysinfo import cpu_description

EPS = (1.0, 3.0, 5.0)


def sweep(
    data_dir: Path,
    weights: str | None,
    scales: tuple[float, ...],
    scale_weights: list[float],
    kinds: str = "v",
    trials: int = 10,
    size: tuple[int, int] = (480, 640),
    keypoints: int = 1000,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """One row per scale weight: ``{"scale_weight", "pairs", "trials@1"...,"auc@5", "level_share", "per_pair"}``.

    ``per_pair`` holds ``{"sequence", "k", "errors"}`` (corner errors in px of the ``trials`` RANSAC orders, inf on
    failure, as None in JSON) in benchmark order.
    """
    from superpoint_rt import SuperPoint

    scales = check_scales(scales)
    nets = [
        SuperPoint(weights, backend="onnxruntime", precision="fp32", num_threads=1, scales=(s,), max_keypoints=None)
        for s in scales
    ]
    seqs = list_sequences(data_dir, kinds)
    if not seqs:
        raise ValueError(f"no sequences of kinds {kinds!r} in {data_dir}")
    rows: list[dict[str, Any]] = [
        {"scale_weight": g, "per_pair": [], "levels": np.zeros(len(scales))} for g in scale_weights
    ]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(seqs), desc="scale_weight sweep", unit="seq")
    for folder in seqs:
        seq = load_sequence(folder, size)
        per_level = [[net(im) for net in nets] for im in seq.images]  # keypoints in input px, all of them
        for row in rows:
            lw = level_weights(scales, row["scale_weight"])
            merged = []
            for levels in per_level:
                f, idx = merge_levels(levels, size, keypoints, lw)
                row["levels"] += np.bincount(idx, minlength=len(scales))
                merged.append(f)
            for k in range(2, 7):
                a, b, h = merged[0], merged[k - 1], seq.homographies[k - 2]
                matches = M.mutual_nn_matches(a.descriptors, b.descriptors)
                errs = M.homography_trial_errors(a.keypoints, b.keypoints, matches, h, size, trials)
                row["per_pair"].append({"sequence": seq.name, "k": k, "errors": errs})
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    for row in rows:
        e = np.array([p["errors"] for p in row["per_pair"]], np.float64)
        for eps in EPS:
            row[f"trials@{eps:g}"] = float((e <= eps).mean())
        row["auc@5"] = float(np.mean([M.homography_auc(list(x), 5.0) for x in e]))
        row["pairs"] = len(e)
        counts = row.pop("levels")
        row["level_share"] = {f"{s:g}": float(c) for s, c in zip(scales, counts / max(counts.sum(), 1))}
        for p in row["per_pair"]:
            p["errors"] = [float(x) if np.isfinite(x) else None for x in p["errors"]]
    return rows


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """Accuracy at 1 / 3 px and AUC@5 against the scale weight (left); the levels' shares of the points (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = [r["scale_weight"] for r in rows]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, style in (("trials@1", "o-"), ("trials@3", "s-"), ("auc@5", "^-")):
        ax.plot(g, [r[key] for r in rows], style, label=key)
    ax.set_xlabel("scale_weight")
    ax.set_ylabel("share of pairs (RANSAC orders averaged)")
    ax.grid(alpha=0.3)
    ax.legend()
    levels = list(rows[0]["level_share"])
    bottom = np.zeros(len(rows))
    for lv in levels:
        v = np.array([r["level_share"][lv] for r in rows])
        bx.bar([str(x) for x in g], v, bottom=bottom, label=f"level {lv}")
        bottom += v
    bx.set_xlabel("scale_weight")
    bx.set_ylabel("share of the merged top-k")
    bx.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="HPatches-format folder, or 'bundled'")
    p.add_argument("--weights", default=None, help="SuperPoint weights (default: the packaged default)")
    p.add_argument("--scales", type=float, nargs="+", default=[1.41, 1.0, 0.71, 0.5], help="pyramid scales")
    p.add_argument(
        "--scale-weights", type=float, nargs="+", default=[0, 0.3, 0.5, 0.65, 0.75, 1, 1.5, 2], help="values to try"
    )
    p.add_argument("--kinds", default="v", choices=("iv", "i", "v"), help="sequence kinds (default: viewpoint)")
    p.add_argument("--trials", type=int, default=10, help="RANSAC orders per pair (default 10)")
    p.add_argument("--json", type=Path, help="write the rows here")
    p.add_argument("--plot", type=Path, help="write a PNG here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    data = benchmark_dir(args.data)
    if not data.is_dir():
        print(f"scale_weight_sweep: no benchmark folder {data}", file=sys.stderr)
        return 2
    scales, weights = tuple(args.scales), args.scale_weights
    rows = sweep(data, args.weights, scales, weights, args.kinds, args.trials, progress=not args.no_progress)
    levels = list(rows[0]["level_share"])
    print("| scale_weight | pairs | trials@1 | trials@3 | trials@5 | AUC@5 | " + " | ".join(levels) + " |")
    print("|---:" * (6 + len(levels)) + "|")
    for r in rows:
        shares = " | ".join(f"{r['level_share'][lv]:.2f}" for lv in levels)
        print(
            f"| {r['scale_weight']:g} | {r['pairs']} | {r['trials@1']:.3f} | {r['trials@3']:.3f} | "
            f"{r['trials@5']:.3f} | {r['auc@5']:.3f} | {shares} |"
        )
    if args.json:
        out = {
            "data": str(data),
            "kinds": args.kinds,
            "weights": args.weights,
            "scales": list(args.scales),
            "trials": args.trials,
            "cpu": cpu_description(),
            "rows": rows,
        }
        args.json.write_text(json.dumps(out, indent=1))
        print(f"wrote {args.json}")
    if args.plot:
        plot(rows, args.plot, f"{data.name}: kinds {args.kinds}, {rows[0]['pairs']} pairs, {args.trials} RANSAC orders")
    return 0


if __name__ == "__main__":
    sys.exit(main())
