"""Extraction into an hloc features file: the single-process run against the Ray Data pipeline with 1 and 2 actors
(``superpoint-rt extract`` / ``--ray --actors N``) on rendered frames of the 3-D scene; checks the outputs are
identical and writes a JSON record.

    python bench/bench_extract.py --images 48 --out bench/results/extract_cpu.json

Ray is started once (local, ``--cpus`` CPUs) before the timed runs; each run starts from an empty file. Times are
wall-clock for the whole call (listing, Ray Data planning, reading, inference, shard writes, merge).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=48)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--actors", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2, help="timed runs per configuration (best and all kept)")
    ap.add_argument("--out", default="bench/results/extract_cpu.json")
    args = ap.parse_args()

    import cv2
    import h5py
    import ray

    from superpoint_rt import SuperPoint
    from superpoint_rt.eval.scene3d import make_scene
    from superpoint_rt.mapping import extract_features
    from superpoint_rt.mapping.features_io import feature_names
    from superpoint_rt.mapping.ray_pipeline import extract_features_ray
    from superpoint_rt.options import SuperPointOptions

    tmp = Path(tempfile.mkdtemp(prefix="bench_extract_"))
    scene = make_scene(seed=0, frames=args.images, height=args.height, width=args.width)
    img_dir = tmp / "images"
    img_dir.mkdir()
    for k in range(args.images):
        cv2.imwrite(str(img_dir / f"f{k:04d}.png"), scene.render(k).image)

    opts_single = SuperPointOptions(num_threads=args.cpus)
    sp = SuperPoint(options=opts_single)
    sp(cv2.imread(str(img_dir / "f0000.png")))  # warm-up (compilation)
    runs: dict[str, list[float]] = {"single_process": []}
    for r in range(args.repeats):
        out = tmp / f"single_{r}.h5"
        t0 = time.perf_counter()
        extract_features([img_dir], out, sp, progress=False)
        runs["single_process"].append(time.perf_counter() - t0)
    reference = tmp / "single_0.h5"

    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    identical = {}
    for n in args.actors:
        key = f"ray_{n}_actor" + ("s" if n > 1 else "")
        runs[key] = []
        for r in range(args.repeats):
            out = tmp / f"{key}_{r}.h5"
            t0 = time.perf_counter()
            extract_features_ray([img_dir], out, options=SuperPointOptions(), actors=n, batch_size=args.batch_size)
            runs[key].append(time.perf_counter() - t0)
        with h5py.File(reference, "r") as fa, h5py.File(tmp / f"{key}_0.h5", "r") as fb:
            names = feature_names(fa)
            identical[key] = sorted(names) == sorted(feature_names(fb)) and all(
                np.array_equal(fa[m][k][()], fb[m][k][()]) for m in names for k in fa[m]
            )
    ray.shutdown()
    best = {k: min(v) for k, v in runs.items()}
    rec = {
        "schema": "superpoint_rt.bench_extract/1",
        "command": "python bench/bench_extract.py " + " ".join(
            f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in vars(args).items()
        ),
        "machine": {"cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "loadavg_1_5_15min_at_end": list(os.getloadavg())},
        "engine": {k: v for k, v in sp.info().items() if k in ("backend", "precision", "num_threads")},
        "images": args.images, "size": [args.height, args.width], "batch_size": args.batch_size,
        "seconds": runs, "best_seconds": best,
        "images_per_second": {k: round(args.images / v, 2) for k, v in best.items()},
        "speedup_2_vs_1_actor": round(best["ray_1_actor"] / best["ray_2_actors"], 3)
        if "ray_1_actor" in best and "ray_2_actors" in best else None,
        "identical_to_single_process": identical,
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rec, indent=2) + "\n")
    print(json.dumps(rec, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
