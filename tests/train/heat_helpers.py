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
