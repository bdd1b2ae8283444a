#!/usr/bin/env python
"""How far from the truth do matched keypoints land, per sub-pixel method? A picture and a JSON.

    python scripts/plot_subpixel.py DATA_DIR [--methods centroid5 forstner] [--weights W] [--kinds v]
        [--pair SEQ K] [--plot out.png] [--json out.json] [--no-progress]

For every pair (image 1, image k) of the sequences of ``--kinds`` (480x640, the evaluator's protocol: the best 1000
points, mutual nearest neighbours on the descriptors) and every method (``subpixel_method``; FP32 ONNX Runtime, one
thread, the other options at their defaults) it takes the true residual ``|H p1 - p2|`` of each match within 3 px.
Both points of a match carry the method's error, so the residual is what a homography fit sees. The plot: the
pooled residual histograms (left) and, for one pair (``--pair``, default the first sequence's k = 4), each
method's error vectors ``H p1 - p2`` magnified 10x on image k (right). The JSON holds per method the median and
mean residual, the share within 0.5 / 1 px and the number of matches, and the CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from superpoint_rt.eval import metrics as M
from superpoint_rt.eval.hpatches import list_sequences, load_sequence
from superpoint_rt.eval.runner import benchmark_dir
from superpoint_rt.sysinfo import cpu_description

SIZE = (480, 640)
MAGNIFY = 10.0


def residuals(
    data_dir: Path, methods: list[str], weights: str | None, kinds: str, progress: bool = True
) -> dict[str, Any]:
    """Per method: the pooled residuals (M,) and per (sequence, k) the matched points of image k and their errors."""
    from superpoint_rt import SuperPoint

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {
            m: SuperPoint(weights, backend="onnxruntime", precision="fp32", num_threads=1, subpixel_method=m)
            for m in methods
        }
    out: dict[str, Any] = {m: {"all": [], "pairs": {}} for m in methods}
    seqs = list_sequences(data_dir, kinds)
    if progress:
        from tqdm import tqdm

        seqs = tqdm(seqs, desc="sequences", file=sys.stderr)
    for folder in seqs:
        seq = load_sequence(folder, SIZE)
        for m, model in models.items():
            feats = []
            for im in seq.images:
                f = model(im)
                order = np.argsort(-f.scores, kind="stable")[:1000]
                feats.append((f.keypoints[order].astype(np.float64), f.descriptors[order]))
            kp1, d1 = feats[0]
            for k in range(2, 7):
                kp2, d2 = feats[k - 1]
                matches = M.mutual_nn_matches(d1, d2)
                w, _ = M.warp(kp1[matches[:, 0]], seq.homographies[k - 2])
                err = w - kp2[matches[:, 1]]
                r = np.linalg.norm(err, axis=1)
                good = r < 3.0
                out[m]["all"].append(r[good])
                out[m]["pairs"][(seq.name, k)] = (kp2[matches[good, 1]], err[good], seq.images[k - 1])
    for m in methods:
        out[m]["all"] = np.concatenate(out[m]["all"]) if out[m]["all"] else np.zeros(0)
    return out


def summary(res: dict[str, Any]) -> dict[str, Any]:
    s = {}
    for m, d in res.items():
        r = d["all"]
        s[m] = {
            "matches": len(r),
            "median_px": float(np.median(r)) if len(r) else None,
            "mean_px": float(np.mean(r)) if len(r) else None,
            "within_0.5px": float(np.mean(r < 0.5)) if len(r) else None,
            "within_1px": float(np.mean(r < 1.0)) if len(r) else None,
        }
    return s


def plot(res: dict[str, Any], pair: tuple[str, int] | None, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(res)
    first = next(iter(res.values()))["pairs"]
    if pair is None or pair not in first:
        pair = (sorted({p[0] for p in first})[0], 4)
    if pair not in first:
        raise ValueError(f"pair {pair} not in the data")
    fig, axes = plt.subplots(1, 1 + len(methods), figsize=(5 + 5.5 * len(methods), 4.2))
    bins = np.linspace(0.0, 3.0, 31)
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
    for i, m in enumerate(methods):
        r = res[m]["all"]
        axes[0].hist(
            r, bins=bins, histtype="step", lw=2, color=colors[i % 4], label=f"{m}: median {np.median(r):.2f} px"
        )
    axes[0].set_xlabel("true residual |H p1 - p2| of matches within 3 px, px")
    axes[0].set_ylabel("matches")
    axes[0].legend()
    axes[0].set_title(title)
    for i, m in enumerate(methods):
        ax = axes[1 + i]
        pts, err, img = res[m]["pairs"][pair]
        ax.imshow(img, cmap="gray")
        ax.quiver(
            pts[:, 0], pts[:, 1], err[:, 0] * MAGNIFY, -err[:, 1] * MAGNIFY, color=colors[i % 4], angles="xy",
            scale_units="xy", scale=1.0, width=0.003,
        )  # fmt: skip
        med = np.median(np.linalg.norm(err, axis=1)) if len(err) else float("nan")
        ax.set_title(f"{m}: {pair[0]} 1->{pair[1]}, errors x{MAGNIFY:g} (median {med:.2f} px)")
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir", help='benchmark folder of HPatches-style sequences ("bundled": the packaged one)')
    ap.add_argument("--methods", nargs="+", default=["centroid5", "forstner"])
    ap.add_argument("--weights", default=None, help="weights (default: the package default)")
    ap.add_argument("--kinds", default="v")
    ap.add_argument("--pair", nargs=2, metavar=("SEQ", "K"), default=None)
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    data = benchmark_dir(a.data_dir)
    try:
        res = residuals(data, a.methods, a.weights, a.kinds, progress=not a.no_progress)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    s = summary(res)
    for m, v in s.items():
        print(f"{m}: {v}")
    if a.json:
        meta = {"data_dir": str(data), "kinds": a.kinds, "weights": a.weights, "cpu": cpu_description()}
        a.json.write_text(json.dumps({**meta, "summary": s}, indent=1))
    if a.plot:
        pair = (a.pair[0], int(a.pair[1])) if a.pair else None
        plot(res, pair, a.plot, f"{Path(str(a.data_dir)).name}, kinds {a.kinds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
