"""Photometric and homographic augmentation (NumPy / OpenCV, run in data-loader workers).

Images are (H, W) uint8 or float32 grey levels in [0, 255]; points are (N, 2) x,y float pixels,
pixel centres at integers. Homographies map source -> target pixels (see :mod:`superpoint_rt.geometry`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from superpoint_rt.geometry import HomographyConfig, points_inside, sample_homography, warp_image, warp_points


@dataclass(frozen=True)
class PhotometricConfig:
    """Photometric augmentation; every enabled op is applied in a random order.

    Attributes:
        brightness: max absolute additive change (grey levels).
        contrast: (min, max) multiplicative factor around the image mean.
        noise_sigma: (min, max) std of additive Gaussian noise (grey levels).
        speckle_prob: (min, max) fraction of pixels set to 0 or 255.
        shade_transparency: (min, max) strength of the additive elliptic shade (negative darkens).
        shade_kernel: (min, max) blur kernel size of the shade, as a fraction of the image width.
        motion_blur: max kernel size of the motion blur (odd; 0 or 1 disables it).
    """

    enable: bool = True
    brightness: float = 50.0
    contrast: tuple[float, float] = (0.5, 1.5)
    noise_sigma: tuple[float, float] = (0.0, 10.0)
    speckle_prob: tuple[float, float] = (0.0, 0.0035)
    shade_transparency: tuple[float, float] = (-0.5, 0.8)
    shade_kernel: tuple[float, float] = (0.15, 0.3)
    motion_blur: int = 3


def _brightness(img: np.ndarray, rng: np.random.Generator, c: PhotometricConfig) -> np.ndarray:
    return img + rng.uniform(-c.brightness, c.brightness)


def _contrast(img: np.ndarray, rng: np.random.Generator, c: PhotometricConfig) -> np.ndarray:
    m = float(img.mean())
    return (img - m) * rng.uniform(*c.contrast) + m


def _noise(img: np.ndarray, rng: np.random.Generator, c: PhotometricConfig) -> np.ndarray:
    return img + rng.normal(0.0, rng.uniform(*c.noise_sigma), size=img.shape).astype(np.float32)


def _speckle(img: np.ndarray, rng: np.random.Generator, c: PhotometricConfig) -> np.ndarray:
    p = rng.uniform(*c.speckle_prob)
    u = rng.uniform(size=img.shape)
    out = img.copy()
    out[u < p / 2] = 0.0
    out[u > 1 - p / 2] = 255.0
    return out


def _shade(img: np.ndarray, rng: np.random.Generator, c: PhotometricConfig) -> np.ndarray:
    h, w = img.shape
    mask = np.zeros((h, w), np.float32)
    min_dim = min(h, w) / 4
    for _ in range(int(rng.integers(1, 4))):
        ax = (max(1, int(rng.uniform(min_dim / 4, min_dim))), max(1, int(rng.uniform(min_dim / 4, min_dim))))
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.ellipse(mask, center, ax, float(rng.uniform(0, 90)), 0, 360, 255.0, -1)
    k = int(rng.uniform(*c.shade_kernel) * w) | 1
    blurred = cv2.GaussianBlur(mask, (k, k), 0)
    t = rng.uniform(*c.shade_transparency)
    return img * (1.0 - t * blurred / 255.0)


def _motion_blur(img: np.ndarray, rng: np.random.Generator, c: PhotometricConfig) -> np.ndarray:
    if c.motion_blur < 3:
        return img
    k = int(rng.integers(0, (c.motion_blur + 1) // 2)) * 2 + 1
    if k < 3:
        return img
    kernel = np.zeros((k, k), np.float32)
    mode = int(rng.integers(0, 3))
    if mode == 0:
        kernel[k // 2, :] = 1.0
    elif mode == 1:
        kernel[:, k // 2] = 1.0
    else:
        np.fill_diagonal(kernel, 1.0)
    kernel /= kernel.sum()
    return cv2.filter2D(img, -1, kernel)


_OPS = (_brightness, _contrast, _noise, _speckle, _shade, _motion_blur)


def photometric_augment(image: np.ndarray, rng: np.random.Generator, config: PhotometricConfig) -> np.ndarray:
    """Random photometric changes; returns float32 (H, W) clipped to [0, 255]."""
    img = np.asarray(image, dtype=np.float32)
    if not config.enable:
        return img
    for i in rng.permutation(len(_OPS)):
        img = np.clip(_OPS[int(i)](img, rng, config), 0.0, 255.0).astype(np.float32)
    return img


def valid_mask_after_warp(height: int, width: int, homography: np.ndarray, border_margin: int) -> np.ndarray:
    """(H, W) bool: target pixels that see the source image, eroded by ``border_margin`` pixels."""
    ones = np.full((height, width), 255, np.uint8)
    m = cv2.warpPerspective(ones, homography, (width, height), flags=cv2.INTER_NEAREST)
    if border_margin > 0:
        k = 2 * border_margin + 1
        m = cv2.erode(m, np.ones((k, k), np.uint8))  # image borders stay valid
    return m > 0


def homographic_augment(
    image: np.ndarray,
    points: np.ndarray,
    rng: np.random.Generator,
    config: HomographyConfig,
    border_margin: int = 3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Warp an image and its points by a random homography.

    Returns ``(warped image (H,W) same dtype, points (M,2) float32 inside the valid area,
    valid mask (H,W) bool, H (3,3) float64 source -> target)``.
    """
    h, w = image.shape[:2]
    hmat = sample_homography(h, w, rng, config)
    warped = warp_image(image, hmat)
    valid = valid_mask_after_warp(h, w, hmat, border_margin)
    pts = warp_points(points, hmat)
    keep = points_inside(pts, h, w)
    pts = pts[keep]
    if len(pts):
        r = np.round(pts).astype(np.int64)
        pts = pts[valid[r[:, 1], r[:, 0]]]
    return warped, pts.astype(np.float32), valid, hmat
