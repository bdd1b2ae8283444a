"""One image pair's matches drawn for a person to look at: which RANSAC inliers are truly right, and where.

Coordinates are pixels ``(x, y)`` of the images as given, pixel centres at integers (the evaluator's convention).
A match ``(i, j)`` pairs ``kp1[i]`` with ``kp2[j]``; its *true error* is the distance in image 2 between ``kp2[j]``
and ``H kp1[i]`` under the ground-truth homography ``H`` (image 1 -> image 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from superpoint_rt.drawing import draw_matches, to_bgr
from superpoint_rt.eval.failures import true_residuals

#: BGR colours of a match by its true error: within 1 px, within 3 px, further
GOOD, NEAR, WRONG = (60, 170, 40), (0, 160, 240), (60, 60, 220)


@dataclass
class PairMatches:
    """What one method did on one pair.

    Attributes:
        kp1, kp2: (N1, 2), (N2, 2) float keypoints ``(x, y)``.
        matches: (M, 2) int indices into kp1, kp2.
        inliers: (M,) bool, RANSAC's inlier mask.
        error: corner error of the estimated homography in px (inf when none was found).
        label: the row's title, e.g. ``"SIFT"``.
    """

    kp1: np.ndarray
    kp2: np.ndarray
    matches: np.ndarray
    inliers: np.ndarray
    error: float
    label: str


def true_errors(kp1: np.ndarray, kp2: np.ndarray, matches: np.ndarray, homography: np.ndarray) -> np.ndarray:
    """(M,) distance in px between ``kp2[j]`` and ``homography @ kp1[i]`` for each match ``(i, j)``."""
    h = np.asarray(homography, np.float64)
    if h.shape != (3, 3) or not np.isfinite(h).all():
        raise ValueError(f"homography must be a finite 3x3 array, got shape {h.shape}")
    m = np.asarray(matches, np.int64).reshape(-1, 2)
    if len(m) == 0:
        return np.zeros(0)
    err = true_residuals(np.asarray(kp1)[m[:, 0], :2], np.asarray(kp2)[m[:, 1], :2], h)
    return np.where(np.isfinite(err), err, np.inf)


def error_classes(errors: np.ndarray) -> np.ndarray:
    """(M,) 0 = within 1 px, 1 = within 3 px, 2 = further (the colours GOOD, NEAR, WRONG)."""
    e = np.asarray(errors, np.float64)
    return np.where(e <= 1.0, 0, np.where(e <= 3.0, 1, 2))


def draw_pair(
    image1: np.ndarray, image2: np.ndarray, result: PairMatches, homography: np.ndarray, gap: int = 8
) -> np.ndarray:
    """(H + 22, W1 + gap + W2, 3) uint8 BGR: the two images side by side (dimmed), every detected point as a grey
    dot, RANSAC's inliers as lines coloured by true error (the wrong ones drawn first, under the right ones), and a
    caption line with the counts. Drawn by :func:`superpoint_rt.drawing.draw_matches`.

    Raises:
        ValueError: images other than (H, W) or (H, W, 3) uint8, a bad homography, matches out of range.
    """
    for name, img in (("image1", image1), ("image2", image2)):
        if img.dtype != np.uint8:
            raise ValueError(f"{name} must be uint8, got {img.dtype}")
        if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
            raise ValueError(f"{name} must be (H, W) gray or (H, W, 3) BGR, got shape {img.shape}")
    m = np.asarray(result.matches, np.int64).reshape(-1, 2)
    if len(m) and (m[:, 0].max() >= len(result.kp1) or m[:, 1].max() >= len(result.kp2) or m.min() < 0):
        raise ValueError("matches index outside kp1/kp2")
    inl = np.asarray(result.inliers, bool).reshape(-1)
    if len(inl) != len(m):
        raise ValueError(f"inliers has {len(inl)} entries for {len(m)} matches")
    a = (to_bgr(image1) * 0.6 + 100).astype(np.uint8)
    a = np.pad(a, ((0, 0), (0, gap), (0, 0)), constant_values=255)  # the gap travels with image 1
    b = (to_bgr(image2) * 0.6 + 100).astype(np.uint8)
    cls = error_classes(true_errors(result.kp1, result.kp2, m[inl], homography))
    order = np.argsort(-cls, kind="stable")
    colours = np.array((GOOD, NEAR, WRONG), np.uint8)[cls[order]]
    pair = draw_matches(a, b, result.kp1, result.kp2, m[inl][order], draw_unmatched=True, colors=colours)
    canvas = np.full((pair.shape[0] + 22, pair.shape[1], 3), 255, np.uint8)
    canvas[: pair.shape[0]] = pair
    counts = np.bincount(cls, minlength=3)
    err_txt = "none" if not np.isfinite(result.error) else f"{result.error:.2f} px"
    caption = (
        f"{result.label}: {len(result.kp1)}/{len(result.kp2)} points, {len(m)} matches, {int(inl.sum())} inliers "
        f"({counts[0]} <=1px, {counts[1]} <=3px, {counts[2]} wrong); corner error {err_txt}"
    )
    cv2.putText(canvas, caption, (4, pair.shape[0] + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (30, 30, 30), 1, cv2.LINE_AA)
    return canvas


def stack_rows(rows: list[np.ndarray], gap: int = 6) -> np.ndarray:
    """Rows of :func:`draw_pair` one under the other (white between, padded to the widest)."""
    if not rows:
        raise ValueError("no rows to stack")
    w = max(r.shape[1] for r in rows)
    out = []
    for k, r in enumerate(rows):
        pad = np.full((r.shape[0], w, 3), 255, np.uint8)
        pad[:, : r.shape[1]] = r
        out.append(pad)
        if k + 1 < len(rows):
            out.append(np.full((gap, w, 3), 255, np.uint8))
    return np.concatenate(out, axis=0)
