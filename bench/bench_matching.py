#!/usr/bin/env python
"""Descriptor matching at SLAM sizes: superpoint_rt.matching.match against cv2.BFMatcher, in one run.

    nice python bench/bench_matching.py                          # 1k / 2k / 4k points per image, 10 rounds
    python bench/bench_matching.py --points 1000 4000 --rounds 20 --descriptors random

Two comparisons, each at every size, both on one thread (``cv2.setNumThreads(1)``; ours runs its BLAS product on one
thread, as it always does):

* **mutual NN + Lowe's ratio** (``--ratio``, default 0.8): ``superpoint_rt.matching.match(a, b, ratio=r,
  max_distance=None)`` against what OpenCV code writes for it: ``BFMatcher(NORM_L2).knnMatch(a, b, k=2)``, the ratio
  test on the two neighbours, and a mutual check with ``BFMatcher.match(b, a)``;
* **mutual NN** (cross-check): ``match(a, b, max_distance=None)`` against ``BFMatcher(NORM_L2, crossCheck=True)
  .match(a, b)``.

Descriptors (``--descriptors``): ``superpoint`` (default) pools real SuperPoint descriptors of the bundled benchmark's
photos (image 1 of each sequence for one side, image 2 for the other; dense settings: conf_threshold 0.001,
nms_radius 2) and keeps the top N by score per side; ``random`` draws unit vectors. The methods are interleaved
call by call (a slow spell of a shared host hits them alike) and the order alternates between rounds; the speed-up
is cv2's p50 over ours. The number of matches and whether both return the same pairs are recorded too. Writes
bench/results/matching_cpu.json with the CPU (superpoint_rt.sysinfo), versions, thread counts and machine load.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

try:
    from superpoint_rt.matching import block_rows_for, match
except ImportError:  # run from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from superpoint_rt.matching import block_rows_for, match
from superpoint_rt.sysinfo import cpu_description, machine_load, versions

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = ROOT / "superpoint_rt" / "data" / "benchmark"


def superpoint_descriptors(n_max: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Real descriptors: image 1 vs image 2 of every bundled viewpoint sequence, pooled, top ``n_max`` by score."""
    from superpoint_rt import SuperPoint

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = SuperPoint(conf_threshold=0.001, nms_radius=2)
    sides: list[tuple[np.ndarray, np.ndarray]] = []
    seqs = sorted(p for p in BENCHMARK.glob("v_*") if p.is_dir())
    for name in ("1.jpg", "2.jpg"):
        feats = [sp(cv2.imread(str(s / name), cv2.IMREAD_GRAYSCALE)) for s in seqs]
        desc = np.concatenate([f.descriptors for f in feats])
        scores = np.concatenate([f.scores for f in feats])
        sides.append((desc, scores))
    out = []
    for desc, scores in sides:
        if len(desc) < n_max:
            raise SystemExit(f"only {len(desc)} SuperPoint points in the pool, {n_max} asked: use --descriptors random")
        out.append(np.ascontiguousarray(desc[np.argsort(-scores, kind="stable")[:n_max]]))
    info = {
        "source": "superpoint",
        "sequences": [s.name for s in seqs],
        "pool": [len(sides[0][0]), len(sides[1][0])],
        "engine": f"{sp.backend} {sp.precision}",
        "detection": {"conf_threshold": 0.001, "nms_radius": 2},
    }
    return out[0], out[1], info


def random_descriptors(n_max: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    rng = np.random.default_rng(seed)
    a, b = (rng.normal(size=(n_max, 256)).astype(np.float32) for _ in range(2))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return a, b, {"source": "random unit vectors", "seed": seed}


def cv2_mutual_ratio(a: np.ndarray, b: np.ndarray, ratio: float) -> np.ndarray:
    """What OpenCV code writes: knnMatch k=2 + Lowe's ratio + a mutual check with the backward 1-NN."""
    bf = cv2.BFMatcher(cv2.NORM_L2)
    forward = bf.knnMatch(a, b, k=2)
    nn_ba = np.empty(len(b), np.int64)
    for m in bf.match(b, a):
        nn_ba[m.queryIdx] = m.trainIdx
    pairs = [
        (m1.queryIdx, m1.trainIdx)
        for m1, m2 in forward
        if m1.distance < ratio * m2.distance and nn_ba[m1.trainIdx] == m1.queryIdx
    ]
    return np.array(pairs, np.int64).reshape(-1, 2)


def cv2_cross_check(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ms = cv2.BFMatcher(cv2.NORM_L2, crossCheck=True).match(a, b)
    return np.array(sorted((m.queryIdx, m.trainIdx) for m in ms), np.int64).reshape(-1, 2)


def stats(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1e3
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p90_ms": round(float(np.percentile(ms, 90)), 3),
        "min_ms": round(float(ms.min()), 3),
        "mean_ms": round(float(ms.mean()), 3),
    }


def time_interleaved(methods: dict[str, Callable[[], np.ndarray]], rounds: int, warmup: int) -> dict[str, Any]:
    """Every method once per round, the order reversed every other round; the last result of each is kept."""
    names = list(methods)
    seconds: dict[str, list[float]] = {n: [] for n in names}
    results: dict[str, np.ndarray] = {}
    for r in range(warmup + rounds):
        for n in names if r % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            results[n] = methods[n]()
            if r >= warmup:
                seconds[n].append(time.perf_counter() - t0)
    return {n: {**stats(seconds[n]), "matches": len(results[n]), "pairs": results[n]} for n in names}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, nargs="+", default=[1000, 2000, 4000], help="points per image")
    ap.add_argument("--descriptors", choices=("superpoint", "random"), default="superpoint")
    ap.add_argument("--ratio", type=float, default=0.8)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "matching_cpu.json")
    args = ap.parse_args()

    cv2.setNumThreads(1)  # the same thread count as ours (one BLAS thread)
    n_max = max(args.points)
    make = superpoint_descriptors if args.descriptors == "superpoint" else random_descriptors
    a_all, b_all, source = make(n_max)
    rows = []
    for n in args.points:
        a, b, ratio = a_all[:n], b_all[:n], args.ratio
        timed = time_interleaved(
            {
                "ours_mutual_ratio": lambda a=a, b=b, r=ratio: match(a, b, max_distance=None, ratio=r),
                "cv2_knn2_ratio_mutual": lambda a=a, b=b, r=ratio: cv2_mutual_ratio(a, b, r),
                "ours_mutual": lambda a=a, b=b: match(a, b, max_distance=None),
                "cv2_crosscheck": lambda a=a, b=b: cv2_cross_check(a, b),
            },
            args.rounds,
            args.warmup,
        )
        same_ratio = np.array_equal(timed["ours_mutual_ratio"]["pairs"], timed["cv2_knn2_ratio_mutual"]["pairs"])
        same_cross = np.array_equal(timed["ours_mutual"]["pairs"], timed["cv2_crosscheck"]["pairs"])
        for t in timed.values():
            del t["pairs"]
        row = {
            "points": n,
            "block_rows": min(n, block_rows_for(n)),
            **timed,
            "speedup_mutual_ratio": round(
                timed["cv2_knn2_ratio_mutual"]["p50_ms"] / timed["ours_mutual_ratio"]["p50_ms"], 2
            ),
            "speedup_mutual": round(timed["cv2_crosscheck"]["p50_ms"] / timed["ours_mutual"]["p50_ms"], 2),
            "same_pairs_mutual_ratio": bool(same_ratio),
            "same_pairs_mutual": bool(same_cross),
        }
        rows.append(row)
        print(
            f"{n} x {n}: mutual+ratio {row['ours_mutual_ratio']['p50_ms']:.1f} ms (ours) vs "
            f"{row['cv2_knn2_ratio_mutual']['p50_ms']:.1f} ms (cv2) = {row['speedup_mutual_ratio']}x, "
            f"{row['ours_mutual_ratio']['matches']} matches, same pairs: {same_ratio}; mutual "
            f"{row['ours_mutual']['p50_ms']:.1f} vs {row['cv2_crosscheck']['p50_ms']:.1f} ms = "
            f"{row['speedup_mutual']}x, same pairs: {same_cross}"
        )
    try:
        from threadpoolctl import threadpool_info

        blas = [{k: i.get(k) for k in ("internal_api", "version", "num_threads")} for i in threadpool_info()]
    except ImportError:
        blas = []
    result = {
        "what": "mutual-NN matching of N x N 256-d float32 descriptors: superpoint_rt.matching.match vs cv2.BFMatcher",
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "descriptors": source,
        "ratio": args.ratio,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "threads": {"cv2": cv2.getNumThreads(), "ours_blas": 1, "blas_libraries_outside_match": blas},
        "rows": rows,
        "cpu": cpu_description(),
        "versions": {**versions(), "opencv": cv2.__version__, "numpy": np.__version__},
        "load": machine_load(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
