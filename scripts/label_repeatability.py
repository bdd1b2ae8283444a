#!/usr/bin/env python
"""How close Homographic Adaptation labels with N warps come to labels with the paper's 100, on a sample of crops.

For each sampled crop: labels with N warps (random homographies of seed A), with 100 warps (seed B) and with 100
warps again (seed C). Reported per N: the repeatability (``superpoint_rt.eval.metrics.repeatability``, identity
homography, eps px) of N-vs-100 and, as the ceiling that sampling noise allows, 100-vs-100 with independent warps;
and the mean point counts. JSON (with the CPU and the labeller recorded) for bench/results/.

    python scripts/label_repeatability.py --images train_data/crops_photos --weights superpoint-rt \\
        --precision int8 --warps 32 --sample 16 --json bench/results/label_repeatability_photos.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from superpoint_rt.eval.metrics import repeatability
from superpoint_rt.eval.photos import evenly_spaced
from superpoint_rt.sysinfo import cpu_description, versions
from superpoint_rt.train.adaptation import AdaptationConfig, EngineHeatmap, adapt_image
from superpoint_rt.train.images import list_images, load_image
from superpoint_rt.weights import load_weights


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", required=True, type=Path)
    ap.add_argument("--weights", default="superpoint-rt")
    ap.add_argument("--backend", default="openvino")
    ap.add_argument("--precision", default="int8")
    ap.add_argument("--warps", type=int, nargs="+", default=[32], help="N values to compare with 100")
    ap.add_argument("--reference", type=int, default=100, help="the reference warp count (default 100)")
    ap.add_argument("--sample", type=int, default=16, help="crops, evenly spaced over the folder")
    ap.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"))
    ap.add_argument("--eps", type=float, default=3.0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    size = (int(args.size[0]), int(args.size[1]))
    fn = EngineHeatmap(load_weights(args.weights), args.backend, args.precision)
    crops = evenly_spaced(list_images(args.images), args.sample)
    rows: dict[str, list[float]] = {f"{n}_vs_{args.reference}": [] for n in args.warps}
    rows[f"{args.reference}_vs_{args.reference}"] = []
    counts: dict[int, list[int]] = {n: [] for n in (*args.warps, args.reference)}
    t0 = time.perf_counter()
    for k, path in enumerate(crops):
        img = load_image(path, size)

        def label(n: int, seed: int, img: np.ndarray = img, k: int = k) -> np.ndarray:
            cfg = AdaptationConfig(num_homographies=n, batch_size=16)
            kp, _ = adapt_image(img, fn, np.random.default_rng([seed, k]), cfg)
            counts[n].append(len(kp))
            return kp

        ref_b = label(args.reference, 1001)
        ref_c = label(args.reference, 2002)

        def rep(a: np.ndarray, b: np.ndarray) -> float:
            return repeatability(a, b, np.eye(3), size, size, args.eps).repeatability

        rows[f"{args.reference}_vs_{args.reference}"].append(rep(ref_b, ref_c))
        for n in args.warps:
            rows[f"{n}_vs_{args.reference}"].append(rep(label(n, 3003), ref_b))
        print(f"{k + 1}/{len(crops)} {path.name}: " + ", ".join(f"{key} {v[-1]:.3f}" for key, v in rows.items()))
    result = {
        "what": f"label repeatability (eps {args.eps} px) of N-warp vs {args.reference}-warp Homographic Adaptation",
        "images": str(args.images),
        "sample": [str(p.relative_to(args.images)) for p in crops],
        "weights": args.weights,
        "engine": f"{args.backend} {args.precision}",
        "size": list(size),
        "repeatability_mean": {key: float(np.mean(v)) for key, v in rows.items()},
        "repeatability_per_crop": rows,
        "points_mean": {str(n): float(np.mean(c)) for n, c in counts.items()},
        "seconds": round(time.perf_counter() - t0, 1),
        "cpu": cpu_description(),
        "versions": versions(),
    }
    print(json.dumps(result["repeatability_mean"], indent=1), json.dumps(result["points_mean"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
