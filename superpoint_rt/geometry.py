"""Homographies shared by training (Homographic Adaptation, warped pairs) and evaluation.

Convention: a homography ``H`` (3x3 float64) maps a point (x, y) of the *source* image to the
*target* image, in pixels, pixel centres at integer coordinates; ``warp_image(img, H)`` produces the
target image (``target(H p) = source(p)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class HomographyConfig:
    """Random homography parameters (the original implementations' defaults).

    The homography is built in normalised coordinates: a centred square patch covering
    ``patch_ratio`` of the image is perturbed (perspective, scale, rotation, translation), kept
    inside the image, and then mapped onto the whole target image.
    """

    translation: bool = True
    rotation: bool = True
    scaling: bool = True
    perspective: bool = True
    scaling_amplitude: float = 0.2
    perspective_amplitude_x: float = 0.2
    perspective_amplitude_y: float = 0.2
    patch_ratio: float = 0.85
    max_angle: float = 1.57
    allow_artifacts: bool = False
    max_tries: int = 100


def _truncated_normal(rng: np.random.Generator, sigma: float) -> float:
    while True:
        v = rng.normal(0.0, sigma)
        if abs(v) <= 2 * sigma:
            return float(v)


def sample_homography(
    height: int,
    width: int,
    rng: np.random.Generator,
    config: HomographyConfig = HomographyConfig(),
) -> np.ndarray:
    """A random homography (3x3 float64) for a ``height x width`` image, source -> target pixels.

    Every corner of the perturbed source patch stays inside the source image unless
    ``allow_artifacts``; so the target image shows no area outside the source.
    """
    if height < 2 or width < 2:
        raise ValueError(f"image too small for a homography: {height}x{width}")
    c = config
    margin = (1.0 - c.patch_ratio) / 2.0
    base = np.array([[0, 0], [0, 1], [1, 1], [1, 0]], dtype=np.float64) * c.patch_ratio + margin
    for _ in range(c.max_tries):
        pts = base.copy()
        if c.perspective:
            amp_x = min(c.perspective_amplitude_x, margin) if not c.allow_artifacts else c.perspective_amplitude_x
            amp_y = min(c.perspective_amplitude_y, margin) if not c.allow_artifacts else c.perspective_amplitude_y
            p = _truncated_normal(rng, amp_y / 2)
            hl = _truncated_normal(rng, amp_x / 2)
            hr = _truncated_normal(rng, amp_x / 2)
            # corners (x, y): top-left, bottom-left, bottom-right, top-right
            pts += np.array([[hl, p], [hl, -p], [hr, p], [hr, -p]])
        if c.scaling:
            s = 1.0 + _truncated_normal(rng, c.scaling_amplitude / 2)
            center = pts.mean(axis=0)
            pts = (pts - center) * s + center
        if c.rotation:
            a = rng.uniform(-c.max_angle, c.max_angle)
            center = pts.mean(axis=0)
            rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
            pts = (pts - center) @ rot.T + center
        if c.translation:
            # translations that keep the patch inside [0, 1]^2 (with artifacts: up to `margin` outside)
            t_lo = -pts.min(axis=0)
            t_hi = 1.0 - pts.max(axis=0)
            if c.allow_artifacts:
                t_lo, t_hi = t_lo - margin, t_hi + margin
            if np.all(t_lo <= t_hi):
                pts = pts + rng.uniform(t_lo, t_hi)
        if c.allow_artifacts or (pts.min() >= 0.0 and pts.max() <= 1.0):
            break
    else:
        pts = base  # could not place a valid patch: fall back to the plain centre crop
    scale = np.array([width - 1, height - 1], dtype=np.float64)
    src = (pts * scale).astype(np.float32)
    dst = (np.array([[0, 0], [0, 1], [1, 1], [1, 0]], dtype=np.float64) * scale).astype(np.float32)
    return cv2.getPerspectiveTransform(src, dst).astype(np.float64)


def warp_points(points: np.ndarray, homography: np.ndarray) -> np.ndarray:
    """Map (N,2) x,y points through a 3x3 homography; returns (N,2) float64."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    h = np.asarray(homography, dtype=np.float64)
    if h.shape != (3, 3):
        raise ValueError(f"homography must be 3x3, got {h.shape}")
    ph = np.concatenate([pts, np.ones((len(pts), 1))], axis=1) @ h.T
    with np.errstate(divide="ignore", invalid="ignore"):
        return ph[:, :2] / ph[:, 2:3]


def warp_image(image: np.ndarray, homography: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Warp ``image`` by ``homography`` into a target of ``size = (height, width)`` (default: same)."""
    h, w = image.shape[:2] if size is None else size
    return cv2.warpPerspective(image, np.asarray(homography, dtype=np.float64), (w, h), flags=cv2.INTER_LINEAR)


def points_inside(points: np.ndarray, height: int, width: int, margin: float = 0.0) -> np.ndarray:
    """Boolean mask of (N,2) x,y points inside ``[margin, W-1-margin] x [margin, H-1-margin]``."""
    p = np.asarray(points).reshape(-1, 2)
    return (
        (p[:, 0] >= margin) & (p[:, 0] <= width - 1 - margin) & (p[:, 1] >= margin) & (p[:, 1] <= height - 1 - margin)
    )
