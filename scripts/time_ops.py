"""Quick single-core timing of the C++ post-processing (heatmap + detect + descriptors).

Usage: python scripts/time_ops.py [--height 480 --width 640 --repeat 200]
Synthetic logits shaped like a trained detector's: a strong dustbin everywhere, a peak in some cells.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from superpoint_rt import ops
from superpoint_rt.ops import reference


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


def median_ms(fn, repeat: int) -> float:
    """Median per-call CPU time of this thread (robust to other processes on a shared machine)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.thread_time()
        fn()
        times.append(time.thread_time() - t0)
    return 1e3 * float(np.median(times))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--interpolation", default="bilinear")
    a = p.parse_args()
    logits, coarse = synthetic_outputs(a.height, a.width)
    heat = ops.heatmap(logits)[0]
    kps, _ = ops.detect(heat)
    n_cand = int((heat >= 0.015).sum())
    print(f"{a.height}x{a.width}: {n_cand} candidates, {len(kps)} keypoints")
    t_heat = median_ms(lambda: ops.heatmap(logits), a.repeat)
    t_det = median_ms(lambda: ops.detect(heat), a.repeat)
    t_desc = median_ms(lambda: ops.sample_descriptors(coarse[0], kps, a.interpolation), a.repeat)

    def full() -> None:
        hm = ops.heatmap(logits)[0]
        k, _ = ops.detect(hm)
        ops.sample_descriptors(coarse[0], k, a.interpolation)

    t_all = median_ms(full, a.repeat)
    print(f"heatmap {t_heat:.3f} ms | detect {t_det:.3f} ms | descriptors ({a.interpolation}) {t_desc:.3f} ms")
    print(f"total (heatmap+detect+descriptors) {t_all:.3f} ms")
    t_demo = median_ms(lambda: reference.postprocess_demo_style(logits, coarse), max(3, a.repeat // 50))
    print(f"reference.postprocess_demo_style {t_demo:.1f} ms ({t_demo / t_all:.0f}x)")


if __name__ == "__main__":
    main()
