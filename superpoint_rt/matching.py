"""Descriptor matching and homography estimation.

Descriptors are unit-norm rows, so the L2 distance is sqrt(2 - 2 cos); ``max_distance`` is in that L2 unit
(0.7, the original demo's tracker threshold, is about cos >= 0.755).
"""

from __future__ import annotations

import cv2
import numpy as np

from ._blas import single_threaded_blas


def _check_desc(name: str, d: np.ndarray) -> np.ndarray:
    if not isinstance(d, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(d).__name__}")
    if d.ndim != 2:
        raise ValueError(f"{name} must be (N, D), got shape {d.shape}")
    if not np.issubdtype(d.dtype, np.floating):
        raise TypeError(f"{name} must be float, got {d.dtype}")
    if not np.isfinite(d).all():
        raise ValueError(f"{name} contains NaN or inf")
    return d.astype(np.float32, copy=False)


def mutual_nearest(distances: np.ndarray) -> np.ndarray:
    """The mutual check on a distance (or any smaller-is-better) matrix: pairs (i, j) where j is row i's smallest
    entry and i is column j's (the first index wins a tie, as ``argmin``).

    Args:
        distances: (N, M) array.
    Returns:
        (K, 2) int64 index pairs (i, j), sorted by i.
    """
    d = np.asarray(distances)
    if d.ndim != 2:
        raise ValueError(f"distances must be (N, M), got shape {d.shape}")
    if d.shape[0] == 0 or d.shape[1] == 0:
        return np.zeros((0, 2), np.int64)
    nn_ab = d.argmin(axis=1)
    nn_ba = d.argmin(axis=0)
    i = np.flatnonzero(nn_ba[nn_ab] == np.arange(d.shape[0]))
    return np.stack([i, nn_ab[i]], axis=1).astype(np.int64)


def mutual_nn_match(desc_a: np.ndarray, desc_b: np.ndarray, max_distance: float | None = 0.7) -> np.ndarray:
    """Mutual nearest neighbours under L2 distance (the one implementation: CLI, tracker, examples, evaluation).

    The squared distances ``|a|^2 + |b|^2 - 2 a.b`` come from one single-threaded BLAS product (clipped at 0, so
    rounding never makes a negative square); square roots are taken only for the matched pairs.

    Args:
        desc_a: (N, D) float descriptors. desc_b: (M, D).
        max_distance: keep pairs whose L2 distance is <= this (None: no threshold).

    Returns:
        (K, 2) int64 index pairs (i into a, j into b), sorted by i.
    """
    a = _check_desc("desc_a", desc_a)
    b = _check_desc("desc_b", desc_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"descriptor dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    if len(a) == 0 or len(b) == 0:
        return np.zeros((0, 2), np.int64)
    with single_threaded_blas():  # see superpoint_rt._blas: spinning BLAS threads slow the engine down
        ab = a @ b.T
    d2 = np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * ab, 0.0)
    pairs = mutual_nearest(d2)
    if max_distance is not None:
        pairs = pairs[np.sqrt(d2[pairs[:, 0], pairs[:, 1]]) <= max_distance]
    return pairs


def estimate_homography(
    kpts_a: np.ndarray, kpts_b: np.ndarray, matches: np.ndarray, ransac_threshold: float = 3.0
) -> tuple[np.ndarray | None, np.ndarray]:
    """RANSAC homography (OpenCV) mapping image a -> image b from matched keypoints.

    Returns:
        (H 3x3 float64 or None when fewer than 4 matches or no model was found, inlier mask (K,) bool).
    """
    matches = np.asarray(matches, dtype=np.int64).reshape(-1, 2)
    if len(matches) < 4:
        return None, np.zeros(len(matches), bool)
    src = np.asarray(kpts_a, np.float64)[matches[:, 0]]
    dst = np.asarray(kpts_b, np.float64)[matches[:, 1]]
    h, mask = cv2.findHomography(src, dst, cv2.RANSAC, ransac_threshold)
    if h is None:
        return None, np.zeros(len(matches), bool)
    return h, mask.ravel().astype(bool)
