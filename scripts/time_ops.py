"""Timing of the C++ post-processing ops (heatmap, detect, sample_descriptors) and of the whole
post-processing, against ``reference.postprocess_demo_style`` (the original demo's NumPy code).

Usage:
    python scripts/time_ops.py                       # synthetic outputs at 240x320, 480x640, 720x1280
    python scripts/time_ops.py --cases astronaut     # network outputs for tests/data/astronaut.jpg
    python scripts/time_ops.py --threads 1 --json out.json

Cases:
    synthetic  logits shaped like a trained detector's (strong dustbin, a peak in 20% of cells),
               random coarse descriptors; conf_threshold 0.015.
    astronaut  tests/data/astronaut.jpg resized to 480x640 through the network with seeded random
               weights (PyTorch, CPU), thresholds picked to give ~2,000 and ~10,000 candidates
               (trained weights give ~10,000 at conf_threshold=0.015).

Per op: the median (and the minimum) over --repeat calls of the wall time (time.perf_counter) and
of the CPU time of the whole process (time.process_time: every thread, so the ops' worker thread
counts too). The machine may be shared: many repetitions, medians and minima. Threads: SUPERPOINT_RT_NUM_THREADS (set by
--threads before the first op runs; default min(2, CPUs)).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def synthetic_outputs(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    hc, wc = h // 8, w // 8
    logits = rng.normal(0.0, 1.0, size=(1, 65, hc, wc)).astype(np.float32)
    logits[:, 64] += 8.0
    peaks = rng.random((hc, wc)) < 0.2
    ch = rng.integers(0, 64, size=(hc, wc))
    ii, jj = np.nonzero(peaks)
    logits[0, ch[ii, jj], ii, jj] += rng.uniform(4.0, 12.0, size=len(ii)).astype(np.float32)
    coarse = rng.normal(size=(1, 256, hc, wc)).astype(np.float32)
    return logits, coarse


def astronaut_outputs(h: int = 480, w: int = 640) -> tuple[np.ndarray, np.ndarray]:
    """Network outputs for the astronaut photo, seeded random weights (PyTorch on the CPU)."""
    import cv2
    import torch

    from superpoint_rt.network import SuperPointNet
    from superpoint_rt.weights import random_weights

    img = cv2.imread(str(ROOT / "tests" / "data" / "astronaut.jpg"), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise FileNotFoundError("tests/data/astronaut.jpg")
    gray = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    torch.set_num_threads(1)  # no OpenMP pool left spinning while the ops are timed
    net = SuperPointNet().eval()
    sd = random_weights(0).state_dict
    assert sd is not None
    net.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    with torch.inference_mode():
        logits, coarse = net(torch.from_numpy(gray)[None, None])
    return logits.numpy().copy(), coarse.numpy().copy()


def measure(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Median (and minimum) wall and process-CPU milliseconds per call, after one warm-up call."""
    fn()
    wall, cpu = [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "wall_ms": 1e3 * statistics.median(wall),
        "wall_min_ms": 1e3 * min(wall),
        "cpu_ms": 1e3 * statistics.median(cpu),
        "cpu_min_ms": 1e3 * min(cpu),
    }


def time_case(
    name: str, logits: np.ndarray, coarse: np.ndarray, thr: float, repeat: int, interpolations: list[str]
) -> dict[str, Any]:
    from superpoint_rt import ops
    from superpoint_rt.ops import reference

    heat = ops.heatmap(logits)[0]
    n_cand = int((heat >= np.float32(thr)).sum())
    kps, _ = ops.detect(heat, thr)
    res: dict[str, Any] = {
        "case": name,
        "size": [int(heat.shape[0]), int(heat.shape[1])],
        "conf_threshold": thr,
        "candidates": n_cand,
        "keypoints": len(kps),
        "ops": {},
    }
    res["ops"]["heatmap"] = measure(lambda: ops.heatmap(logits), repeat)
    res["ops"]["detect"] = measure(lambda: ops.detect(heat, thr), repeat)
    for interp in interpolations:

        def describe(i: str = interp) -> None:
            ops.sample_descriptors(coarse[0], kps, i)

        def full(i: str = interp) -> None:
            hm = ops.heatmap(logits)[0]
            k, _ = ops.detect(hm, thr)
            ops.sample_descriptors(coarse[0], k, i)

        res["ops"][f"descriptors_{interp}"] = measure(describe, repeat)
        res["ops"][f"total_{interp}"] = measure(full, repeat)
    demo_repeat = max(3, repeat // 20)
    res["ops"]["reference_demo_style"] = measure(
        lambda: reference.postprocess_demo_style(logits, coarse, conf_threshold=thr), demo_repeat
    )
    demo = res["ops"]["reference_demo_style"]["wall_ms"]
    res["speedup_vs_demo_style"] = {
        interp: demo / res["ops"][f"total_{interp}"]["wall_ms"] for interp in interpolations
    }
    return res


def print_case(r: dict[str, Any]) -> None:
    h, w = r["size"]
    print(
        f"\n{r['case']} {h}x{w}: conf_threshold {r['conf_threshold']:.6g}, {r['candidates']} candidates, "
        f"{r['keypoints']} keypoints"
    )
    for op, t in r["ops"].items():
        print(
            f"  {op:<24} wall {t['wall_ms']:8.3f} ms (min {t['wall_min_ms']:7.3f})   "
            f"cpu, all threads {t['cpu_ms']:8.3f} ms (min {t['cpu_min_ms']:7.3f})"
        )
    for interp, s in r["speedup_vs_demo_style"].items():
        print(f"  speedup of the total ({interp}) vs reference_demo_style: {s:.1f}x (wall)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", choices=["synthetic", "astronaut", "all"], default="synthetic")
    p.add_argument("--sizes", default="240x320,480x640,720x1280", help="synthetic case sizes, HxW,...")
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--threads", type=int, default=None, help="SUPERPOINT_RT_NUM_THREADS for the ops")
    p.add_argument("--interpolation", default="bilinear,bicubic")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    a = p.parse_args()
    if a.threads is not None:
        os.environ["SUPERPOINT_RT_NUM_THREADS"] = str(a.threads)  # read once, at the first op
    from superpoint_rt import ops

    interps = a.interpolation.split(",")
    results = []
    if a.cases in ("synthetic", "all"):
        for size in a.sizes.split(","):
            h, w = (int(v) for v in size.split("x"))
            logits, coarse = synthetic_outputs(h, w)
            results.append(time_case("synthetic", logits, coarse, 0.015, a.repeat, interps))
            print_case(results[-1])
    if a.cases in ("astronaut", "all"):
        logits, coarse = astronaut_outputs()
        heat = np.sort(ops.heatmap(logits)[0].ravel())[::-1]
        for target in (2000, 10000):
            thr = float(heat[target - 1])
            results.append(time_case(f"astronaut ~{target} candidates", logits, coarse, thr, a.repeat, interps))
            print_case(results[-1])
    if a.json:
        info = {
            "threads": os.environ.get("SUPERPOINT_RT_NUM_THREADS", "default"),
            "cpu_isa": os.environ.get("SUPERPOINT_RT_CPU_ISA", "auto"),
            "build": ops.build_info(),
            "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
        }
        a.json.write_text(json.dumps({"info": info, "results": results}, indent=1))


if __name__ == "__main__":
    main()
