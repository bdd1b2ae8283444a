"""Shift equivariance of the detector: integer-shifted copies of a batch and the loss that asks their heatmaps agree.

A fully-convolutional detector with stride-8 cells is not equivariant to translations that are not multiples of 8:
moving an image by a pixel moves v6's keypoints by 0.3 px (median) relative to the content, as much as SIFT's whole
matching error. :func:`shift_consistency_loss` compares the heatmap of an image with the heatmap of the same image
shifted by ``(dx, dy)`` pixels (:func:`shift_images`, exact: no interpolation), re-aligned, away from the borders.

Conventions: images (B, 1, H, W); logits (B, 65, H/8, W/8); a shift ``(dx, dy)`` moves content at pixel (x, y) to
(x + dx, y + dy); the rows and columns it uncovers (top, left) repeat the image's first row / column.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from superpoint_rt.network_spec import CELL
from superpoint_rt.train.heatmap import logits_to_heatmap

#: pixels left out at every border of the compared region (padding and the network's border effects)
SHIFT_MARGIN = 8
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
    if logits.shape != shifted_logits.shape or logits.ndim != 4:
        raise ValueError(f"logits {tuple(logits.shape)} and shifted_logits {tuple(shifted_logits.shape)} differ")
    b = logits.shape[0]
    s = _check_shifts(shifts, b)
    heat = logits_to_heatmap(logits)
    heat_s = logits_to_heatmap(shifted_logits)
    h, w = heat.shape[1:]
    if h - (CELL - 1) - 2 * margin < 1 or w - (CELL - 1) - 2 * margin < 1:
        raise ValueError(f"{h}x{w} heatmaps leave nothing to compare at margin {margin}")
    per_image = []
    for i, (dx, dy) in enumerate(s):
        dx, dy = int(dx), int(dy)
        a = heat[i, margin : h - dy - margin, margin : w - dx - margin]
        c = heat_s[i, margin + dy : h - margin, margin + dx : w - margin]
        per_image.append(((a - c) ** 2).sum() / (a.numel() / (CELL * CELL)))
    return torch.stack(per_image).mean()
