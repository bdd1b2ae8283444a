"""Shift equivariance of the detector: integer-shifted copies of a batch and the loss that asks their heatmaps agree.

A fully-convolutional detector with stride-8 cells is not equivariant to translations that are not multiples of 8:
moving an image by a pixel moves v6's keypoints by 0.3 px (median) relative to the content, as much as SIFT's whole
matching error. :func:`shift_consistency_loss` compares the heatmap of an image with the heatmap of the same image
shifted by ``(dx, dy)`` pixels (:func:`shift_images`, exact: no interpolation), re-aligned, away from the borders.
It can be lowered without moving a single keypoint, by lowering the peaks (recipe L's 216 steps did: the
median keypoint score fell by a third while the keypoints' displacement under shifts stayed where it was).
:func:`shift_centroid_loss` asks for what the detector's output is: at each peak of the unshifted heatmap, the
5x5 heat-weighted centroid (the ``centroid5`` refinement) of both heatmaps must agree. It does not change when a
heatmap is scaled.

Conventions: images (B, 1, H, W); logits (B, 65, H/8, W/8); a shift ``(dx, dy)`` moves content at pixel (x, y) to
(x + dx, y + dy); the rows and columns it uncovers (top, left) repeat the image's first row / column.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from superpoint_rt.network_spec import CELL
from superpoint_rt.train.config import SHIFT_LOSSES
from superpoint_rt.train.heatmap import logits_to_heatmap, maxpool_nms

#: pixels left out at every border of the compared region (padding and the network's border effects)
SHIFT_MARGIN = 8
#: half-width of :func:`shift_centroid_loss`'s window (5x5: the ``centroid5`` refinement's)
CENTROID_RADIUS = 2
#: seeds the trainer's per-step shift draws apart from every other random stream
SHIFT_STREAM = 0x5F1F7


def draw_shifts(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 2) int64 shifts (dx, dy), uniform over {0..7}^2 without (0, 0) (a multiple of 8 is equivariant already)."""
    k = rng.integers(1, CELL * CELL, size=n)
    return np.stack([k % CELL, k // CELL], axis=1).astype(np.int64)


def step_shifts(seed: int, step: int, rank: int, n: int) -> np.ndarray:
    """The trainer's (n, 2) shifts for training ``step`` on process ``rank``: :func:`draw_shifts` from a generator
    seeded by ``(seed, step, rank, SHIFT_STREAM)``, so a resumed run draws the same ones."""
    return draw_shifts(np.random.default_rng([seed, step, rank, SHIFT_STREAM]), n)


def _check_shifts(shifts: np.ndarray, batch: int) -> np.ndarray:
    s = np.asarray(shifts)
    if s.shape != (batch, 2) or not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"shifts must be ({batch}, 2) integers, got {s.shape} {s.dtype}")
    if (s < 0).any() or (s >= CELL).any():
        raise ValueError(f"shifts must be in [0, {CELL - 1}], got {s.tolist()}")
    return s


def shift_images(images: torch.Tensor, shifts: np.ndarray) -> torch.Tensor:
    """(B, 1, H, W) images -> the same images shifted by ``shifts[i] = (dx, dy)`` pixels (edge-replicated)."""
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got {tuple(images.shape)}")
    b, _c, h, w = images.shape
    s = _check_shifts(shifts, b)
    out = [
        F.pad(images[i : i + 1], (int(dx), 0, int(dy), 0), mode="replicate")[..., :h, :w]
        for i, (dx, dy) in enumerate(s)
    ]
    return torch.cat(out)


def _heatmap_pair(
    logits: torch.Tensor, shifted_logits: torch.Tensor, shifts: np.ndarray, margin: int
) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
    """Checked shifts and the (B, H, W) heatmaps of both logits; raises if the shapes differ or ``margin`` leaves
    nothing to compare."""
    if logits.shape != shifted_logits.shape or logits.ndim != 4:
        raise ValueError(f"logits {tuple(logits.shape)} and shifted_logits {tuple(shifted_logits.shape)} differ")
    s = _check_shifts(shifts, logits.shape[0])
    heat = logits_to_heatmap(logits)
    h, w = heat.shape[1:]
    if h - (CELL - 1) - 2 * margin < 1 or w - (CELL - 1) - 2 * margin < 1:
        raise ValueError(f"{h}x{w} heatmaps leave nothing to compare at margin {margin}")
    return s, heat, logits_to_heatmap(shifted_logits)


def _aligned(heat: torch.Tensor, heat_s: torch.Tensor, dx: int, dy: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(H, W) heatmap and the one of the image shifted by (dx, dy) -> both (H - dy, W - dx), pixel (x, y) of the
    first and of the second showing the same content."""
    h, w = heat.shape
    return heat[: h - dy, : w - dx], heat_s[dy:, dx:]


def shift_consistency_loss(
    logits: torch.Tensor, shifted_logits: torch.Tensor, shifts: np.ndarray, margin: int = SHIFT_MARGIN
) -> torch.Tensor:
    """How far the heatmaps of an image and of its shifted copy disagree once re-aligned.

    Args:
        logits: (B, 65, Hc, Wc) detector logits of the images.
        shifted_logits: the same for ``shift_images(images, shifts)``.
        shifts: (B, 2) integer (dx, dy) in [0, 7].
        margin: pixels left out at every border of the compared region.

    Returns: scalar, the batch mean of ``sum_region (p(x, y) - p_s(x + dx, y + dy))^2 / (region pixels / 64)``
    with ``p`` the (H, W) probability heatmap (FP32 softmax, dustbin dropped): a squared difference summed per
    8x8 cell, averaged over the cells of the compared region ``margin <= x < W - dx - margin`` (same for y).
    """
    s, heat, heat_s = _heatmap_pair(logits, shifted_logits, shifts, margin)
    per_image = []
    for i, (dx, dy) in enumerate(s):
        a, c = _aligned(heat[i], heat_s[i], int(dx), int(dy))
        inner = (slice(margin, a.shape[0] - margin), slice(margin, a.shape[1] - margin))
        a, c = a[inner], c[inner]
        per_image.append(((a - c) ** 2).sum() / (a.numel() / (CELL * CELL)))
    return torch.stack(per_image).mean()


def peak_pixels(
    heat: torch.Tensor, margin: int, nms_radius: int, threshold: float, max_points: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(H, W) heatmap -> (ys, xs), each (K,) int64, K <= ``max_points``: the strongest local maxima of the
    (2 nms_radius + 1)^2 neighbourhood above ``threshold``, at least ``margin`` pixels inside every border; no
    gradient (the points are chosen, not learned)."""
    h, w = heat.shape
    hd = heat.detach()
    keep = maxpool_nms(hd[None], nms_radius)[0] > threshold
    inner = torch.zeros_like(keep)
    inner[margin : h - margin, margin : w - margin] = True
    keep &= inner
    ys, xs = torch.nonzero(keep, as_tuple=True)
    if len(ys) > max_points:
        top = torch.topk(hd[ys, xs], max_points).indices
        ys, xs = ys[top], xs[top]
    return ys, xs


def window_centroids(heat: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, radius: int) -> torch.Tensor:
    """(H, W) heatmap, (K,) integer pixels (windows inside the heatmap) -> (K, 2) (dx, dy): the heat-weighted mean
    offset over the (2 radius + 1)^2 window around each pixel (``refine_subpixel``'s ``centroid5`` at radius 2,
    without its clip)."""
    r = torch.arange(-radius, radius + 1, device=heat.device)
    oy, ox = torch.meshgrid(r, r, indexing="ij")
    vals = heat[ys[:, None] + oy.reshape(1, -1), xs[:, None] + ox.reshape(1, -1)].float()  # (K, (2r+1)^2)
    total = vals.sum(dim=1).clamp_min(1e-12)
    cx = (vals * ox.reshape(1, -1)).sum(dim=1) / total
    cy = (vals * oy.reshape(1, -1)).sum(dim=1) / total
    return torch.stack([cx, cy], dim=1)


def shift_centroid_loss(
    logits: torch.Tensor,
    shifted_logits: torch.Tensor,
    shifts: np.ndarray,
    margin: int = SHIFT_MARGIN,
    nms_radius: int = 4,
    threshold: float = 0.015,
    max_points: int = 256,
    radius: int = CENTROID_RADIUS,
) -> torch.Tensor:
    """How far the keypoints of an image and of its shifted copy disagree, in squared pixels.

    At each peak of the unshifted heatmap (:func:`peak_pixels`: local maxima of radius ``nms_radius`` above
    ``threshold``, the ``max_points`` strongest, ``margin`` px inside the compared region), the
    :func:`window_centroids` of both heatmaps, re-aligned, over the same window. Scaling either heatmap leaves it
    unchanged; an exactly equivariant detector scores 0.

    Args:
        logits: (B, 65, Hc, Wc) detector logits of the images.
        shifted_logits: the same for ``shift_images(images, shifts)``.
        shifts: (B, 2) integer (dx, dy) in [0, 7].

    Returns: scalar, the mean over every chosen peak of the batch of ``|c - c_s|^2`` (px^2); 0 (with a gradient
    path) when no image has a peak.
    """
    if margin < radius:
        raise ValueError(f"margin {margin} must be >= the window radius {radius}")
    s, heat, heat_s = _heatmap_pair(logits, shifted_logits, shifts, margin)
    sq = []
    for i, (dx, dy) in enumerate(s):
        a, c = _aligned(heat[i], heat_s[i], int(dx), int(dy))
        ys, xs = peak_pixels(a, margin, nms_radius, threshold, max_points)
        if len(ys):
            d = window_centroids(a, ys, xs, radius) - window_centroids(c, ys, xs, radius)
            sq.append((d**2).sum(dim=1))
    if not sq:
        return (heat.sum() + heat_s.sum()) * 0.0
    return torch.cat(sq).mean()


def shift_loss(kind: str, logits: torch.Tensor, shifted_logits: torch.Tensor, shifts: np.ndarray) -> torch.Tensor:
    """The shift term named by ``kind`` (``TrainConfig.shift_loss``): ``"heatmap"`` ->
    :func:`shift_consistency_loss`, ``"centroid"`` -> :func:`shift_centroid_loss`."""
    if kind == "heatmap":
        return shift_consistency_loss(logits, shifted_logits, shifts)
    if kind == "centroid":
        return shift_centroid_loss(logits, shifted_logits, shifts)
    raise ValueError(f"shift_loss must be one of {SHIFT_LOSSES}, got {kind!r}")
