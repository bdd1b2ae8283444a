"""Which geometric change hurts? Homography accuracy, repeatability and NN mAP against rotation, zoom and tilt.

    python scripts/probe_invariance.py --photos train --num-photos 12 --out /tmp/probe \\
        --method superpoint orb sift --precision bf16 --json bench/results/invariance_train.json \\
        --plot bench/results/invariance_train.png

``--photos train`` probes on the training photographs (for decisions about training), ``heldout`` on the held-out
ones (for reporting). ``--homography-trials 10`` also runs RANSAC on 9 shuffled orders of each pair's matches and
adds ``homography_trials`` (the share of orders within 3 px, averaged over pairs; dashed in the plot): with 10
sequences per cell one RANSAC run moves a cell by 0.1-0.2. Needs the photo packages of data/PHOTOS.md and the eval
extra (matplotlib for --plot).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from superpoint_rt.eval.hpatches import is_sequence_dir
from superpoint_rt.eval.invariance import (
    LEVELS,
    TITLES,
    invariance_curves,
    make_invariance_benchmark,
    strength_axis,
)
from superpoint_rt.eval.methods import get_method
from superpoint_rt.eval.photos import evenly_spaced, list_photos
from superpoint_rt.eval.runner import EvalConfig, evaluate
from superpoint_rt.sysinfo import cpu_description


def method_colors(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` distinct RGBA colours, one per method (matplotlib's ten "C0".."C9" would repeat from the 11th).

    Up to 10: tab10. Up to 20: tab20's ten dark shades, then its ten light ones. More: evenly spaced on turbo.
    """
    from matplotlib import colormaps

    if n <= 10:
        cmap, idx = colormaps["tab10"], list(range(n))
    elif n <= 20:
        cmap, idx = colormaps["tab20"], [2 * i if i < 10 else 2 * (i - 10) + 1 for i in range(n)]
    else:
        cmap, idx = colormaps["turbo"].resampled(n), list(range(n))
    out = []
    for i in idx:
        r, g, b, a = cmap(i)
        out.append((float(r), float(g), float(b), float(a)))
    return out


def _plot(curves: dict[str, dict[str, dict[str, list[float]]]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in LEVELS if any(k in c for c in curves.values())]
    metrics = (("homography", "homography accuracy (eps 3)"), ("repeatability", "repeatability"))
    fig, axes = plt.subplots(len(metrics), len(kinds), figsize=(3.4 * len(kinds), 5.6), squeeze=False)
    colors = method_colors(len(curves))
    for col, kind in enumerate(kinds):
        xs = strength_axis(kind)
        for row, (m, label) in enumerate(metrics):
            ax = axes[row][col]
            for i, (method, c) in enumerate(curves.items()):
                if kind in c and not all(math.isnan(v) for v in c[kind][m]):
                    ax.plot(xs, c[kind][m], marker="o", label=method, color=colors[i])
                if m == "homography" and kind in c and "homography_trials" in c[kind]:
                    avg = c[kind]["homography_trials"]
                    ax.plot(xs, avg, ls="--", color=colors[i], label=f"{method}, RANSAC-averaged")
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
            if row == len(metrics) - 1:
                ax.set_xlabel(TITLES[kind])
            if col == 0:
                ax.set_ylabel(label)
    # one legend for the figure, right of the panels: inside the first panel it hid the rotation curves
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def needs_benchmark(out: Path) -> bool:
    """True when ``out`` holds no sequence folder (``i_*`` / ``v_*``) yet: missing, empty, or only other files (a log
    written there, say), so the probe benchmark is written into it rather than evaluated as an empty set."""
    return not out.is_dir() or not any(is_sequence_dir(p) for p in out.iterdir())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", choices=("train", "heldout"), default="train")
    ap.add_argument("--num-photos", type=int, default=12, help="N photos evenly spaced over the split")
    ap.add_argument("--out", type=Path, required=True, help="benchmark folder (written once, then reused)")
    ap.add_argument("--method", nargs="*", default=["superpoint", "orb", "sift"])
    ap.add_argument("--weights", help="SuperPoint weights (default: the packaged ones)")
    ap.add_argument("--precision", default="fp32", help="SuperPoint precision (fp32, bf16, int8)")
    ap.add_argument("--name", help="row label for superpoint")
    ap.add_argument("--scales", type=float, nargs="+", metavar="S", help="SuperPoint multi-scale pyramid")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--homography-trials", type=int, default=1, metavar="N", help="RANSAC orders per pair (adds homography_trials)"
    )
    ap.add_argument(
        "--include",
        type=Path,
        action="append",
        default=[],
        help="a JSON this script wrote earlier: its methods join the table, JSON and plot",
    )
    ap.add_argument("--json", type=Path)
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args()
    if args.num_photos < 1:
        ap.error("--num-photos must be >= 1")
    if args.homography_trials < 1:
        ap.error("--homography-trials must be >= 1")

    if needs_benchmark(args.out):
        # evenly spaced over the split's list (which runs source by source): several packages, not one
        photos = evenly_spaced(list_photos(args.photos), args.num_photos)
        written = make_invariance_benchmark(photos, args.out, seed=args.seed)
        print(f"wrote {len(written)} sequences ({len(photos)} photos x {len(LEVELS)} transforms) to {args.out}")
    curves: dict[str, dict[str, dict[str, list[float]]]] = {}
    for earlier in args.include:
        curves.update(json.loads(earlier.read_text())["curves"])
    for name in args.method:
        kw = {"precision": args.precision, **({"weights": args.weights} if args.weights else {})}
        if args.scales:
            kw["scales"] = tuple(args.scales)
        method = get_method(name, **kw) if name == "superpoint" else get_method(name)
        if name == "superpoint":
            method.name = args.name or f"superpoint {args.precision}"
        config = EvalConfig(kinds="v", homography_trials=args.homography_trials)
        result = evaluate(args.out, method, config, progress=True)
        curves[method.name] = invariance_curves(result.to_dict()["pairs"])
    for kind in LEVELS:
        print(f"\n{TITLES[kind]}: " + " ".join(f"{v:g}" for v in strength_axis(kind)))
        for label, c in curves.items():
            if kind in c:
                row = " ".join(f"{v:.2f}" for v in c[kind]["homography"])
                rep = " ".join(f"{v:.2f}" for v in c[kind]["repeatability"])
                print(f"  {label:24s} eps3 {row}   rep {rep}")
                if "homography_trials" in c[kind]:
                    avg = " ".join(f"{v:.2f}" for v in c[kind]["homography_trials"])
                    print(f"  {'':24s} eps3 averaged over RANSAC orders {avg}")
    n_seq = sum(1 for d in args.out.iterdir() if d.is_dir() and d.name.startswith("v_"))
    meta = {
        "photos": args.photos,
        "num_photos": n_seq // len(LEVELS),
        "seed": args.seed,
        "homography_trials": args.homography_trials,
        "superpoint": {
            "weights": args.weights or "packaged default",
            "precision": args.precision,
            "scales": list(args.scales) if args.scales else [1.0],
        },
        "cpu": cpu_description(),  # model and the AMX / AVX512 flags
        "levels": LEVELS,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, "curves": curves}, indent=1) + "\n")
    if args.plot:
        _plot(curves, args.plot, f"one change at a time ({meta['num_photos']} {args.photos} photos)")
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
