#!/usr/bin/env python
"""Is a repeatability gap the detector or the way points are counted? Detector metrics only, several settings.

    python scripts/repeatability_sweep.py DATA_DIR [--weights W] [--conf 0.015 0.005 0.001] [--nms 4 3]
        [--baselines orb sift] [--rep-nms 0 2 4] [--kinds v] [--json out.json] [--plot out.png]

For every SuperPoint setting (each ``--conf`` threshold with each ``--nms`` radius; FP32 ONNX Runtime, one thread,
the other options at their defaults) and every OpenCV baseline (each with each ``--rep-nms`` radius, 0 = as the
detector returns them), the repeatability and localisation error of the evaluator's protocol: 240x320, the best
300 shared-region points, eps = 3 (``superpoint-rt eval``'s detector metrics, without the 480x640 descriptor
work, so a sweep over one benchmark takes minutes), with the evaluator's own ``detector_points``: ``rep_nms``
applies ``metrics.point_nms`` to the baseline's points first, as ``superpoint-rt eval --rep-nms R`` does: ORB
keeps one point per pyramid level on a corner, so a share of its "repeated" points are copies of each other. Rows
also carry the mean number of points counted (fewer than 300 means the detector's threshold, not the top-k, set the
count).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from superpoint_rt.eval import metrics as M
from superpoint_rt.eval.hpatches import list_sequences, load_sequence
from superpoint_rt.eval.methods import Method, get_method
from superpoint_rt.eval.runner import EvalConfig, benchmark_dir, detector_points
from superpoint_rt.sysinfo import cpu_description

_CFG = EvalConfig()


def stacked_share(points: np.ndarray, scores: np.ndarray, top_k: int, radius: float = 2.0) -> float:
    """Share of the best ``top_k`` points with a better-scored one of them within ``radius`` px (nan if none).

    Points are ranked by score, the earlier index first on ties, as :func:`metrics.point_nms` visits them.
    """
    if len(points) == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")[:top_k]
    p = np.asarray(points, np.float64)[order]
    d = np.abs(p[:, None, :] - p[None, :, :]).max(axis=2)
    better = np.tril(np.ones(d.shape, dtype=bool), k=-1)  # row i, column j < i: ranked before i
    return float(((d <= radius) & better).any(axis=1).mean())


def detector_metrics(
    data_dir: Path, method: Method, kinds: str = "v", rep_nms: float | None = None, cfg: EvalConfig = _CFG
) -> dict[str, Any]:
    """Mean repeatability, localisation error and points counted over the pairs (1, k) of ``kinds``.

    Returns ``{"pairs", "repeatability", "localization_error", "points", "stacked_2px", "per_pair"}``; ``per_pair``
    holds each pair's repeatability in benchmark order (for paired comparisons between rows); ``stacked_2px`` is the
    mean share, over the images, of their best ``rep_keypoints`` points that have a better-scored point of the
    same image within 2 px (Chebyshev): copies of one corner.
    """
    reps: list[float] = []
    locs: list[float] = []
    counts: list[float] = []
    stacked: list[float] = []
    cfg = replace(cfg, rep_nms=rep_nms)

    def points(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kp, sc, _ = detector_points(method, image, cfg)  # the evaluator's points, after its --rep-nms step
        stacked.append(stacked_share(kp, sc, cfg.rep_keypoints))
        return kp, sc

    for folder in list_sequences(data_dir, kinds):
        seq = load_sequence(folder, cfg.rep_size)
        a_kp, a_sc = points(seq.images[0])
        for k in range(2, 7):
            kp, sc = points(seq.images[k - 1])
            r = M.repeatability(
                a_kp, kp, seq.homographies[k - 2], cfg.rep_size, cfg.rep_size, cfg.rep_eps, a_sc, sc, cfg.rep_keypoints
            )
            reps.append(r.repeatability)
            locs.append(r.localization_error)
            counts.append((r.n1 + r.n2) / 2)
    return {
        "pairs": len(reps),
        "repeatability": float(np.nanmean(reps)),
        "localization_error": float(np.nanmean(locs)),
        "points": float(np.mean(counts)),
        "stacked_2px": float(np.nanmean(stacked)),
        "per_pair": [None if np.isnan(v) else float(v) for v in reps],
    }


def _label(row: dict[str, Any]) -> str:
    if row["method"] == "superpoint":
        return f"conf {row['conf_threshold']:g}, nms {row['nms_radius']}"
    return f"rep_nms {row['rep_nms']:g}" if row["rep_nms"] else "points as returned"


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """Horizontal bars: repeatability per row, grouped by method, points counted written on each bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"superpoint": "tab:blue", "orb": "tab:orange", "sift": "tab:green"}
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.2))
    y = np.arange(len(rows))[::-1]
    vals = [r["repeatability"] for r in rows]
    ax.barh(y, vals, color=[colours.get(r["method"], "tab:gray") for r in rows])
    ax.set_yticks(y, [f"{r['method']}: {_label(r)}" for r in rows])
    for yi, r in zip(y, rows):
        ax.text(r["repeatability"] + 0.005, yi, f"{r['repeatability']:.3f} ({r['points']:.0f} pts)", va="center")
    ax.set_xlim(0, max(vals) * 1.45)
    ax.set_xlabel("repeatability (240x320, best 300 shared points, 3 px)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="HPatches-format folder, or 'bundled'")
    p.add_argument("--weights", default=None, help="SuperPoint weights (default: the packaged default)")
    p.add_argument("--conf", type=float, nargs="+", default=[0.015, 0.005, 0.001], help="conf_threshold values")
    p.add_argument("--nms", type=int, nargs="+", default=[4, 3], help="SuperPoint nms_radius values")
    p.add_argument("--baselines", nargs="*", default=["orb", "sift"], help="OpenCV methods (none: SuperPoint only)")
    p.add_argument("--rep-nms", type=float, nargs="+", default=[0, 2, 4], help="baseline NMS radii (0: as returned)")
    p.add_argument("--kinds", default="v", choices=("iv", "i", "v"), help="sequence kinds (default: viewpoint)")
    p.add_argument("--json", type=Path, help="write the rows here")
    p.add_argument("--plot", type=Path, help="write a bar chart (PNG) here")
    args = p.parse_args(argv)
    data = benchmark_dir(args.data)
    if not data.is_dir():
        print(f"repeatability_sweep: no benchmark folder {data}", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    for name in args.baselines:
        for r in args.rep_nms:
            row = detector_metrics(data, get_method(name), args.kinds, r if r > 0 else None)
            rows.append({"method": name, "rep_nms": r, **row})
    for nms in args.nms:
        for conf in args.conf:
            sp = get_method(
                "superpoint",
                weights=args.weights,
                backend="onnxruntime",
                precision="fp32",
                num_threads=1,
                conf_threshold=conf,
                nms_radius=nms,
            )
            rows.append(
                {
                    "method": "superpoint",
                    "conf_threshold": conf,
                    "nms_radius": nms,
                    **detector_metrics(data, sp, args.kinds),
                }
            )
    print("| method | setting | pairs | points | repeatability | localisation (px) | stacked within 2 px |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['method']} | {_label(row)} | {row['pairs']} | {row['points']:.0f} | {row['repeatability']:.3f} |"
            f" {row['localization_error']:.2f} | {row['stacked_2px']:.2f} |"
        )
    if args.json:
        out = {"data": str(data), "kinds": args.kinds, "weights": args.weights, "cpu": cpu_description(), "rows": rows}
        args.json.write_text(json.dumps(out, indent=1))
        print(f"wrote {args.json}")
    if args.plot:
        plot(rows, args.plot, f"{data.name}: kinds {args.kinds}, {rows[0]['pairs']} pairs")
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
