"""The detector's output in PyTorch: logits -> heatmap, max-pool NMS, and detection counts for validation.

Shared by the trainer (validation metrics) and Homographic Adaptation (:class:`~superpoint_rt.train.adaptation.
TorchHeatmap`); imports nothing else of :mod:`superpoint_rt.train`.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def logits_to_heatmap(logits: torch.Tensor) -> torch.Tensor:
    """(B,65,Hc,Wc) -> (B,H,W) probabilities: FP32 softmax, drop the dustbin, depth-to-space 8x8."""
    prob = F.softmax(logits.float(), dim=1)[:, :-1]
    return F.pixel_shuffle(prob, 8)[:, 0]


def maxpool_nms(heat: torch.Tensor, radius: int) -> torch.Tensor:
    """(B,H,W) -> same with non-maxima (in a (2r+1)^2 window) set to 0 (one max-pool pass)."""
    k = 2 * radius + 1
    mx = F.max_pool2d(heat[:, None], k, stride=1, padding=radius)[:, 0]
    return torch.where(heat == mx, heat, torch.zeros_like(heat))


def detection_metrics(
    heat: torch.Tensor, kmap: torch.Tensor, threshold: float, nms_radius: int, tol: int
) -> tuple[int, int, int, int]:
    """Counts for precision / recall of detections against label points, within ``tol`` px (Chebyshev).

    Returns ``(true detections, detections, found labels, labels)``.
    """
    det = maxpool_nms(heat, nms_radius) >= threshold
    gt = kmap > 0
    k = 2 * tol + 1
    gt_d = F.max_pool2d(gt[:, None].float(), k, stride=1, padding=tol)[:, 0] > 0
    det_d = F.max_pool2d(det[:, None].float(), k, stride=1, padding=tol)[:, 0] > 0
    return int((det & gt_d).sum()), int(det.sum()), int((gt & det_d).sum()), int(gt.sum())
