"""A tiny generated benchmark for the script tests: one photo of random grey rectangles, warped by make_benchmark."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from superpoint_rt.eval.generate import make_benchmark


def rectangles_benchmark(root: Path, photo_seed: int, bench_seed: int, count: int = 80) -> Path:
    """Write ``root/p.png`` (300x400, ``count`` filled rectangles) and its 192x256 benchmark; returns its folder."""
    rng = np.random.default_rng(photo_seed)
    img = np.full((300, 400), 90, np.uint8)
    for _ in range(count):
        x, y = int(rng.integers(0, 380)), int(rng.integers(0, 280))
        w, h = int(rng.integers(8, 60)), int(rng.integers(8, 60))
        cv2.rectangle(img, (x, y), (x + w, y + h), int(rng.integers(0, 256)), -1)
    cv2.imwrite(str(root / "p.png"), cv2.GaussianBlur(img, (3, 3), 0.8))
    make_benchmark([root / "p.png"], root / "bench", size=(192, 256), seed=bench_seed, ext=".png")
    return root / "bench"
