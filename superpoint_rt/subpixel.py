"""Sub-pixel keypoint refinement on the detector heatmap.

NMS returns integer pixel positions; two ways to move them off the integer grid (``method``).

``"parabola"``: for each keypoint ``(x, y)`` (pixel centres at integers) a parabola is fitted
through the heatmap at ``x - 1, x, x + 1`` (row ``y``) and another through ``y - 1, y, y + 1`` (column ``x``);
the keypoint moves to their vertices:

    dx = (h[y, x-1] - h[y, x+1]) / (2 (h[y, x-1] - 2 h[y, x] + h[y, x+1])),   likewise dy,

each clipped to [-0.5, 0.5] (the maximum stays in its pixel) and 0 where the three values are not concave
(a plateau or a neighbour outside the image). For a heatmap that is a parabola (or close to one near the peak)
this recovers the peak exactly. On our bundled benchmark it lowers the localisation error by ~0.1 px at 480x640
(docs/EVALUATION.md).

``"centroid"`` (the default from the 6th session of 2026-12-02 to the 16th of 2026-12-04): the heatmap-weighted
mean position of the 3x3 window around the keypoint,

    dx = sum_{i,j in -1..1} h[y+i, x+j] j / sum_{i,j} h[y+i, x+j],   likewise dy,

where neighbours outside the image weigh nothing, clipped to [-0.5, 0.5] (0 when the window sums to 0). It pulls a
point toward the heavier side of a skewed peak; it localises v3's points 0.025-0.03 px better than the parabola on
the training-photo benchmark and on every held-out set (docs/EVALUATION.md).

``"centroid5"`` (the default since the 16th session of 2026-12-04): the same mean over the 5x5 window
(``i, j in -2..2``), clipped to [-1, 1]. A 3x3 window cuts off the tails of a peak about a pixel wide and so pulls
the estimate toward the integer pixel; the 5x5 window sees more of it. On the training photos' viewpoint pairs it
raised homography accuracy at 1 px (averaged over RANSAC orders) by 0.036 over the 3x3 mean, and held out it is
level or better on every set (docs/EVALUATION.md, "A wider centroid").

All three run in float64 and visit the window in a fixed order, so the CUDA post-processing (csrc/subpixel/) reproduces
them bit for bit.
"""

from __future__ import annotations

import numpy as np

#: the refinements ``refine_subpixel`` (and the ``subpixel_method`` option, default ``"centroid5"``) know
SUBPIXEL_METHODS: tuple[str, ...] = ("parabola", "centroid", "centroid5")

#: half-width of the centroid's window and the largest offset it may return, per centroid method
_CENTROID_WINDOWS: dict[str, tuple[int, float]] = {"centroid": (1, 0.5), "centroid5": (2, 1.0)}


def refine_subpixel(heatmap: np.ndarray, keypoints: np.ndarray, method: str = "centroid5") -> np.ndarray:
    """Move integer keypoints off the pixel grid by the local shape of ``heatmap`` (see the module docstring).

    Args:
        heatmap: (H, W) float32 detector probabilities.
        keypoints: (N, 2) float32 integer-valued (x, y) pixel positions inside the heatmap.
        method: ``"centroid5"`` (5x5 heat-weighted mean, the default), ``"centroid"`` (3x3 mean) or
            ``"parabola"`` (vertex of the local quadratic fits).

    Returns:
        (N, 2) float32 refined (x, y), each within 0.5 px of its input per axis (``"centroid5"``: 1 px).

    Raises:
        ValueError: wrong shapes, keypoints outside the heatmap, or an unknown method.
    """
    if method not in SUBPIXEL_METHODS:
        raise ValueError(f"subpixel method must be one of {SUBPIXEL_METHODS}, got {method!r}")
    heat = np.asarray(heatmap)
    kp = np.asarray(keypoints, dtype=np.float32)
    if heat.ndim != 2:
        raise ValueError(f"heatmap must be (H, W), got shape {heat.shape}")
    if kp.ndim != 2 or kp.shape[1] != 2:
        raise ValueError(f"keypoints must be (N, 2) as (x, y), got shape {kp.shape}")
    if len(kp) == 0:
        return kp.copy()
    h, w = heat.shape
    x = np.rint(kp[:, 0]).astype(np.int64)
    y = np.rint(kp[:, 1]).astype(np.int64)
    if x.min() < 0 or y.min() < 0 or x.max() >= w or y.max() >= h:
        raise ValueError(f"keypoints must lie inside the {h}x{w} heatmap")
    heat64 = heat.astype(np.float64, copy=False)
    if method in _CENTROID_WINDOWS:
        return _centroid(heat64, x, y, *_CENTROID_WINDOWS[method])
    c = heat64[y, x]

    def offset(lo: np.ndarray, hi: np.ndarray, ok: np.ndarray) -> np.ndarray:
        den = lo - 2.0 * c + hi
        use = ok & (den < 0.0)
        out = np.zeros(len(c))
        out[use] = 0.5 * (lo[use] - hi[use]) / den[use]
        return np.clip(out, -0.5, 0.5)

    has_x = (x > 0) & (x < w - 1)
    has_y = (y > 0) & (y < h - 1)
    xm, xp = np.clip(x - 1, 0, w - 1), np.clip(x + 1, 0, w - 1)
    ym, yp = np.clip(y - 1, 0, h - 1), np.clip(y + 1, 0, h - 1)
    dx = offset(heat64[y, xm], heat64[y, xp], has_x)
    dy = offset(heat64[ym, x], heat64[yp, x], has_y)
    return np.stack([x + dx, y + dy], axis=1).astype(np.float32)


def _centroid(heat64: np.ndarray, x: np.ndarray, y: np.ndarray, radius: int, limit: float) -> np.ndarray:
    """(2 radius + 1)^2 heat-weighted mean around integer (x, y), rows then columns from -radius to radius (the C++
    order), offsets clipped to [-limit, limit]."""
    h, w = heat64.shape
    total = np.zeros(len(x))
    sum_x = np.zeros(len(x))
    sum_y = np.zeros(len(x))
    span = range(-radius, radius + 1)
    for i in span:
        for j in span:
            yy, xx = y + i, x + j
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            v = np.where(inside, heat64[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)], 0.0)
            total += v
            sum_x += v * j
            sum_y += v * i
    pos = total > 0.0
    safe = np.where(pos, total, 1.0)
    dx = np.where(pos, np.clip(sum_x / safe, -limit, limit), 0.0)
    dy = np.where(pos, np.clip(sum_y / safe, -limit, limit), 0.0)
    return np.stack([x + dx, y + dy], axis=1).astype(np.float32)
