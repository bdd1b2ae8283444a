"""Real training images: finding them in a folder and loading them at the training size.

Homographic Adaptation (:mod:`superpoint_rt.train.adaptation`) and the SuperPoint pairs
(:mod:`superpoint_rt.train.pairs`) load images the same way, so labels written by one line up with the
images the other reads.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp")


def load_image(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """Grey image resized to cover ``size = (H, W)`` (aspect kept), centre-cropped; float32 [0, 1]."""
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError(f"cannot read image {path}")
    h, w = size
    s = max(h / img.shape[0], w / img.shape[1])
    nh, nw = max(h, round(img.shape[0] * s)), max(w, round(img.shape[1] * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    img = cv2.resize(img, (nw, nh), interpolation=interp)
    y0, x0 = (nh - h) // 2, (nw - w) // 2
    return (img[y0 : y0 + h, x0 : x0 + w].astype(np.float32) / 255.0).copy()


def list_images(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted by relative path."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"not a folder: {root}")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
