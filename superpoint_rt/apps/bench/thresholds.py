"""Detection thresholds for random weights.

Random weights (no trained weights given) give a near-uniform heatmap, on which the demo's 0.015 keeps almost
everything or nothing; the benchmark then picks, per image, the threshold that about ``target`` pixels pass, and
uses the median over a resolution's images for every pipeline at that resolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def threshold_for_count(heat: np.ndarray, count: int) -> float:
    """The largest threshold that at least ``count`` pixels of ``heat`` pass (heat >= threshold)."""
    flat = heat.ravel()
    if count >= flat.size:
        return float(flat.min())
    return float(np.partition(flat, flat.size - count)[flat.size - count])


def common_threshold(per_image: Sequence[float]) -> float:
    """One threshold for a set of images: the median of their own thresholds."""
    return float(np.median(np.asarray(per_image, np.float64)))
