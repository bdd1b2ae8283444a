"""Why do homographies miss? Each pair's RANSAC estimate against an oracle fit on the truly right matches.

    python scripts/homography_failures.py DATA --method superpoint --weights superpoint-rt-v6 \\
        --scales 1.41 1 0.71 0.5 --name "v6, 4 levels" --json bench/results/failures_large_v6_ms4.json
    python scripts/homography_failures.py DATA --method sift --json bench/results/failures_large_sift.json
    python scripts/homography_failures.py --plot bench/results/failures_large.png \\
        --include bench/results/failures_large_*.json

The protocol of ``superpoint-rt eval`` (images at ``--desc-size``, ``--desc-keypoints`` points, mutual NN, OpenCV
RANSAC at 3 px, one run), then :mod:`superpoint_rt.eval.failures` on each pair: a miss is ``too_few`` (the right
matches are not there), ``fit`` (they are, and a least-squares fit on them alone lands within eps: RANSAC's inlier
set was the problem) or ``precision`` (even that fit misses: the points are too imprecise or too clustered).
Prints a table, writes JSON (per pair and summarised, with the CPU) and a stacked-bar PNG (matplotlib). With
``--scales`` (a SuperPoint pyramid) it also pools RANSAC's inliers over all pairs by the pyramid levels of their
two points (``levels`` in the JSON, a second table): which level pairings carry the matches and how far off
they are, in image-2 px and in pixels of image 2's level.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from superpoint_rt.apps.eval_cli import parse_size
from superpoint_rt.eval.failures import (
    CLASSES,
    HomographyAnatomy,
    homography_anatomy,
    inlier_residuals_by_level,
    summarize,
    summarize_levels,
)
from superpoint_rt.eval.hpatches import list_sequences, load_sequence
from superpoint_rt.eval.methods import get_method, superpoint_method
from superpoint_rt.eval.metrics import estimate_homography
from superpoint_rt.sysinfo import cpu_description

COLORS = {"correct": "#4c9a2a", "fit": "#f0a030", "precision": "#d04040", "too_few": "#707070"}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate one method; returns the JSON document (config, environment, pairs, summary)."""
    method: Any
    if args.method == "superpoint":
        scales = {"scales": tuple(args.scales)} if args.scales else {}
        method = superpoint_method(
            weights=args.weights,
            backend=args.backend,
            precision=args.precision,
            name=args.name,
            num_threads=args.threads,
            **scales,
        )
    else:
        method = get_method(args.method)
    name = args.name or getattr(method, "name", args.method)
    seqs = list_sequences(args.data, args.kinds)
    if not seqs:
        raise SystemExit(f"no HPatches-format sequences of kind {args.kinds!r} under {args.data}")
    from tqdm import tqdm

    pairs: list[dict[str, Any]] = []
    items = []
    by_level: dict[str, list[float]] = {}
    method.max_keypoints = args.desc_keypoints
    with tqdm(total=5 * len(seqs), desc=f"failures {name}", unit="pair", disable=args.no_progress) as bar:
        for folder in seqs:
            seq = load_sequence(folder, args.desc_size)
            kp1, _, d1 = method(seq.images[0])
            lv1 = getattr(method, "last_levels", None)
            if d1 is None:
                raise SystemExit(f"method {name} has no descriptors: nothing to match")
            for k in range(2, 7):
                h = seq.homographies[k - 2]
                kp2, _, d2 = method(seq.images[k - 1])
                lv2 = getattr(method, "last_levels", None)
                if d2 is None:
                    raise SystemExit(f"method {name} returned descriptors for some images only")
                est = estimate_homography(kp1, d1, kp2, d2, h, args.desc_size, args.ransac_threshold)
                a = homography_anatomy(
                    kp1, kp2, est.matches, est.inliers, est.error, h, args.desc_size, args.eps, args.oracle_px
                )
                items.append(a)
                if lv1 is not None and lv2 is not None:
                    groups = inlier_residuals_by_level(kp1, kp2, est.matches, est.inliers, h, lv1, lv2)
                    for key, vals in groups.items():
                        by_level.setdefault(key, []).extend(vals)
                pairs.append({"sequence": seq.name, "kind": seq.kind, "k": k, **a.to_dict()})
                bar.update(1)
    return {
        "method": name,
        "data_dir": str(args.data),
        "config": {
            "kinds": args.kinds,
            "desc_size": list(args.desc_size),
            "desc_keypoints": args.desc_keypoints,
            "ransac_threshold": args.ransac_threshold,
            "eps": args.eps,
            "oracle_px": args.oracle_px,
            "scales": args.scales,
            "weights": args.weights,
            "precision": args.precision,
        },
        "environment": {"cpu": cpu_description()},
        "summary": summarize(items),
        "levels": summarize_levels(by_level, args.oracle_px) if by_level else None,
        "pairs": pairs,
    }


def resummarize(doc: dict[str, Any]) -> dict[str, Any]:
    """Recompute an included document's summary from its pairs (older outputs lack newer summary fields); JSON null
    stands for inf (errors) or nan (the residual of a pair without inliers)."""
    nan_fields = {"inlier_residual_median"}
    items = []
    for p in doc["pairs"]:
        kw = {f.name: p[f.name] for f in fields(HomographyAnatomy)}
        for k, v in kw.items():
            if v is None:
                kw[k] = float("nan") if k in nan_fields else float("inf")
        items.append(HomographyAnatomy(**kw))
    return {**doc, "summary": summarize(items)}


def table(docs: list[dict[str, Any]]) -> str:
    """Markdown: per method, pairs per class; the median (over pairs) of the median true residual of RANSAC's
    inliers and of the share of inliers off by more than oracle_px; the fit class's median hull fraction."""
    lines = [
        "| method | pairs | correct | fit | precision | too few | inlier residual, px | inliers > oracle px "
        "| fit: hull |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def f(v: Any, d: int = 2) -> str:
        return "-" if v is None else f"{v:.{d}f}"

    for doc in docs:
        s = doc["summary"]
        c = s["counts"]
        lines.append(
            f"| {doc['method']} | {s['pairs']} | {c['correct']} | {c['fit']} | {c['precision']} | {c['too_few']} "
            f"| {f(s['all']['inlier_residual_median'])} | {f(s['all']['inliers_off_share'])} "
            f"| {f(s['fit']['hull_fraction'])} |"
        )
    return "\n".join(lines)


def level_table(doc: dict[str, Any]) -> str:
    """Markdown: a pyramid run's RANSAC inliers (all pairs pooled) by the levels of their two points."""
    ox = doc["config"]["oracle_px"]
    lines = [
        f"| {doc['method']}: levels (image 1 -> 2) | inliers | share | true residual, px | in level px | > {ox:g} px |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in doc.get("levels") or []:
        lines.append(
            f"| {r['levels']} | {r['inliers']} | {r['share']:.3f} | {r['residual_median']:.2f} "
            f"| {r['residual_median_level_px']:.2f} | {r['over_oracle_px']:.2f} |"
        )
    return "\n".join(lines)


def plot(docs: list[dict[str, Any]], path: Path, title: str | None = None) -> None:
    """Stacked horizontal bars: each method's pairs split into the classes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.7 * len(docs) + 1.8))
    for row, doc in enumerate(docs):
        left = 0.0
        n = doc["summary"]["pairs"]
        for c in CLASSES:
            share = doc["summary"]["counts"][c] / n
            ax.barh(row, share, left=left, color=COLORS[c], label=c if row == 0 else None)
            if share >= 0.012 and c != "correct":
                ax.text(left + share / 2, row, str(doc["summary"]["counts"][c]), ha="center", va="center", fontsize=8)
            left += share
    ax.set_yticks(range(len(docs)), [d["method"] for d in docs])
    ax.invert_yaxis()
    lo = min(d["summary"]["counts"]["correct"] / d["summary"]["pairs"] for d in docs)
    ax.set_xlim(max(0.0, lo - 0.1), 1.0)
    eps = docs[0]["config"]["eps"]
    ax.set_xlabel(f"share of pairs (corner error <= {eps:g} px = correct; misses split by the oracle fit)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, ncol=4, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", nargs="?", type=Path, help="HPatches-format folder (omit with --include only)")
    ap.add_argument("--method", default="superpoint", choices=("superpoint", "sift", "orb"))
    ap.add_argument("--weights", help="SuperPoint weights (default: the packaged ones)")
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--scales", type=float, nargs="+", metavar="S", help="SuperPoint pyramid, e.g. 1.41 1 0.71 0.5")
    ap.add_argument("--name", help="row label")
    ap.add_argument("--kinds", default="v", choices=("iv", "i", "v"))
    ap.add_argument("--desc-size", type=parse_size, default=(480, 640), help="HEIGHTxWIDTH (480x640, as eval)")
    ap.add_argument("--desc-keypoints", type=int, default=1000)
    ap.add_argument("--ransac-threshold", type=float, default=3.0)
    ap.add_argument("--eps", type=float, default=3.0, help="a pair is correct at this mean corner error (px)")
    ap.add_argument("--oracle-px", type=float, default=1.0, help="true residual of the matches the oracle fits")
    ap.add_argument("--include", type=Path, nargs="*", default=[], help="earlier JSON outputs to tabulate/plot")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--plot", type=Path)
    ap.add_argument("--title", help="plot title (e.g. the data set)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    docs = [resummarize(json.loads(p.read_text())) for p in args.include]
    if args.data is not None:
        if not args.data.is_dir():
            ap.error(f"{args.data} is not a folder")
        doc = run(args)
        docs.append(doc)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    if not docs:
        ap.error("give a data folder, or --include earlier JSON outputs")
    print(table(docs))
    for doc in docs:
        if doc.get("levels"):
            print()
            print(level_table(doc))
    if args.plot:
        plot(docs, args.plot, args.title)
        print(f"plot: {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    np.seterr(invalid="ignore")
    sys.exit(main())
