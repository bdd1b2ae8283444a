"""Heatmap <-> logits helpers for the training tests (float64 NumPy oracles of ``logits_to_heatmap``)."""

from __future__ import annotations

import numpy as np
import torch


def heat64(logits: np.ndarray) -> np.ndarray:
    """(B, 65, Hc, Wc) -> (B, 8Hc, 8Wc) float64: softmax, dustbin dropped, class 8r+c at pixel (8i+r, 8j+c)."""
    z = logits.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = (e / e.sum(axis=1, keepdims=True))[:, :64]
    b, _, hc, wc = p.shape
    return p.reshape(b, 8, 8, hc, wc).transpose(0, 3, 1, 4, 2).reshape(b, 8 * hc, 8 * wc)


def logits_of(heat: np.ndarray) -> torch.Tensor:
    """(B, 8Hc, 8Wc) probabilities (each cell summing to < 1) -> (B, 65, Hc, Wc) logits whose heatmap is ``heat``
    (the dustbin takes the rest of each cell)."""
    b, h, w = heat.shape
    cells = heat.reshape(b, h // 8, 8, w // 8, 8).transpose(0, 2, 4, 1, 3).reshape(b, 64, h // 8, w // 8)
    dust = 1.0 - cells.sum(axis=1, keepdims=True)
    assert (dust > 0).all()
    return torch.from_numpy(np.log(np.concatenate([cells, dust], axis=1)))


def peaks64(heat: np.ndarray, margin: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Float64 loops over an (H, W) heatmap: pixels that are the maximum of their 9x9 window (clipped at the
    borders) and > 0.015, at least ``margin`` px inside; the ``limit`` strongest, strongest first, as (xs, ys)."""
    h, w = heat.shape
    found = []
    for y in range(margin, h - margin):
        for x in range(margin, w - margin):
            if heat[y, x] > 0.015 and heat[y, x] >= heat[max(y - 4, 0) : y + 5, max(x - 4, 0) : x + 5].max():
                found.append((heat[y, x], y, x))
    found = sorted(found, reverse=True)[:limit]
    return np.array([f[2] for f in found], int), np.array([f[1] for f in found], int)
