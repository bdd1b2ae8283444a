"""The warp-centroid term: a training pair's keypoints must land where the homography sends them, to the sub-pixel.

The shift term (:mod:`superpoint_rt.train.equivariance`, recipe M) asks the detector to follow whole-pixel moves.
What the held-out homographies still lose to SIFT on are the strongest warps, where RANSAC's inliers sit 0.6-1 px off
the truth against SIFT's 0.3-0.6 (docs/EVALUATION.md, "Why homographies miss"): scale, perspective and sub-pixel
moves that no whole-pixel shift covers. The training pair already holds such a move: the source image and its warp
by ``H``. :func:`warp_centroid_loss` reads both heatmaps the way the product does (a peak of the max-pool NMS, then
the 5x5 heat-weighted centroid, ``subpixel_method="centroid5"``) and asks that the warped image's keypoint sit at
``H`` applied to the source image's keypoint. No forward pass is added: both heatmaps are the detector loss's.

Conventions: logits (B, 65, H/8, W/8); heatmap pixel (x, y) is the point (x, y) (pixel centres); ``H`` maps source
points to warped points, (x, y, 1) -> (x', y', w') -> (x'/w', y'/w'), as :func:`superpoint_rt.geometry.warp_points`.
"""

from __future__ import annotations

from typing import Any

import torch

from superpoint_rt.network_spec import CELL
from superpoint_rt.train.equivariance import CENTROID_RADIUS, SHIFT_MARGIN, peak_pixels, window_centroids
from superpoint_rt.train.heatmap import logits_to_heatmap

#: a source keypoint pairs with the warped image's peak nearest to its warp when that peak is at most this far (px)
MATCH_RADIUS = 2.0
#: pairs whose keypoints end up further apart than this (px) are taken for different points and left out
MAX_ERROR = 3.0


def _check(logits: torch.Tensor, warped_logits: torch.Tensor, homographies: torch.Tensor) -> None:
    if logits.ndim != 4 or logits.shape != warped_logits.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and warped_logits {tuple(warped_logits.shape)} differ")
    if homographies.shape != (logits.shape[0], 3, 3):
        raise ValueError(f"homographies must be ({logits.shape[0]}, 3, 3), got {tuple(homographies.shape)}")
    if not torch.isfinite(homographies).all():
        raise ValueError("homographies hold a NaN or an infinity")


def keypoints_with_centroids(heat: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, radius: int) -> torch.Tensor:
    """(H, W) heatmap and (K,) peak pixels -> (K, 2) float64 keypoints (x, y): the pixel plus its window centroid
    (with the heatmap's gradient)."""
    c = window_centroids(heat, ys, xs, radius).double()
    return torch.stack([xs, ys], dim=1).double() + c


def warp_points_torch(points: torch.Tensor, homography: torch.Tensor) -> torch.Tensor:
    """(K, 2) points (x, y) and a 3x3 homography -> (K, 2) warped points, float64, differentiable in ``points``."""
    ph = torch.cat([points.double(), torch.ones_like(points[:, :1], dtype=torch.float64)], dim=1)
    w = ph @ homography.double().T
    return w[:, :2] / w[:, 2:3]


def warp_centroid_errors(
    logits: torch.Tensor,
    warped_logits: torch.Tensor,
    homographies: torch.Tensor,
    warped_cell_valid: torch.Tensor | None = None,
    margin: int = SHIFT_MARGIN,
    nms_radius: int = 4,
    threshold: float = 0.015,
    max_points: int = 256,
    radius: int = CENTROID_RADIUS,
    match_radius: float = MATCH_RADIUS,
) -> torch.Tensor:
    """(P,) float64 squared distances ``|p' - q|^2`` (px^2) of every keypoint pair of the batch, with the gradient
    of both centroids; see :func:`warp_centroid_loss` for the pairing and the arguments."""
    _check(logits, warped_logits, homographies)
    if margin < radius:
        raise ValueError(f"margin {margin} must be >= the window radius {radius}")
    heat = logits_to_heatmap(logits)
    heat_w = logits_to_heatmap(warped_logits)
    h, w = heat.shape[1:]
    sq = [(heat.sum() + heat_w.sum()).double().reshape(1)[:0] * 0.0]  # keeps a gradient path when nothing pairs
    for i in range(heat.shape[0]):
        ys, xs = peak_pixels(heat[i], margin, nms_radius, threshold, max_points)
        yb, xb = peak_pixels(heat_w[i], margin, nms_radius, threshold, h * w)
        if not len(ys) or not len(yb):
            continue
        q = warp_points_torch(keypoints_with_centroids(heat[i], ys, xs, radius), homographies[i])
        dmin, j = torch.cdist(q.detach(), torch.stack([xb, yb], dim=1).double()).min(dim=1)
        ok = torch.isfinite(dmin) & (dmin <= match_radius)
        if warped_cell_valid is not None:
            ok &= warped_cell_valid[i, yb[j] // CELL, xb[j] // CELL].bool()
        if bool(ok.any()):
            p_b = keypoints_with_centroids(heat_w[i], yb[j[ok]], xb[j[ok]], radius)
            sq.append(((p_b - q[ok]) ** 2).sum(dim=1))
    return torch.cat(sq)


def warp_centroid_loss(
    logits: torch.Tensor,
    warped_logits: torch.Tensor,
    homographies: torch.Tensor,
    warped_cell_valid: torch.Tensor | None = None,
    max_error: float = MAX_ERROR,
    **pairing: Any,
) -> torch.Tensor:
    """How far the warped image's keypoints sit from the warps of the source image's keypoints, in squared pixels.

    For each image: the source heatmap's peaks (:func:`~superpoint_rt.train.equivariance.peak_pixels`, the
    ``max_points`` strongest above ``threshold``, ``margin`` px inside) refined by their (2 radius + 1)^2 centroid
    give keypoints ``p``; ``q = H p``. Each ``q`` pairs with the nearest peak of the warped heatmap (every peak
    above ``threshold``, ``margin`` inside) if that peak is within ``match_radius`` px and, with
    ``warped_cell_valid``, in a cell that sees the source; that peak refined the same way is ``p'``. The term is the
    mean of ``|p' - q|^2`` over the pairs with ``|p' - q| <= max_error`` (the chosen peaks and pairs carry no
    gradient; both centroids do, so the term moves the heat around the peaks of both images).

    Args:
        logits: (B, 65, Hc, Wc) detector logits of the source images.
        warped_logits: the same for the warped images.
        homographies: (B, 3, 3) source -> warped pixels.
        warped_cell_valid: optional (B, Hc, Wc) bool, cells of the warped image that see the source.
        pairing: ``margin``, ``nms_radius``, ``threshold``, ``max_points``, ``radius``, ``match_radius`` of
            :func:`warp_centroid_errors`.

    Returns: scalar float32; 0 (with a gradient path) when no pair is found.
    """
    sq = warp_centroid_errors(logits, warped_logits, homographies, warped_cell_valid, **pairing)
    kept = sq[sq.detach() <= max_error**2]
    return (kept.mean() if len(kept) else sq.sum()).float()
