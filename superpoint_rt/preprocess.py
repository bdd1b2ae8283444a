"""Image validation and conversion to the network input.

Accepted images: (H, W) gray, (H, W, 1), (H, W, 3) BGR or (H, W, 4) BGRA; dtype uint8 in [0, 255] or float32 in
[0, 1]; H, W >= 16. The network needs H and W to be multiples of 8: the image is padded at the bottom and right by
replicating its last row/column up to the next multiple of 8 (no pixel is lost); keypoints are detected only
inside the original H x W, and the border rule applies to the original size.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from .network_spec import CELL

MIN_SIZE = 16


def check_image(image: np.ndarray) -> np.ndarray:
    """Validate one image without converting its values; returns it with a (H, W, 1) channel axis dropped.

    Raises:
        TypeError: not a NumPy array, or a dtype other than uint8/float32.
        ValueError: wrong number of dims/channels, smaller than 16x16, NaN/inf, or float values outside [0, 1].
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype not in (np.uint8, np.float32):
        raise TypeError(
            f"image dtype must be uint8 (0..255) or float32 (0..1), got {image.dtype}"
            + (" (convert float64 with .astype(np.float32))" if image.dtype == np.float64 else "")
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3:
        if image.shape[2] not in (3, 4):
            raise ValueError(f"color images must be (H, W, 3) BGR or (H, W, 4) BGRA, got shape {image.shape}")
    elif image.ndim != 2:
        raise ValueError(f"image must be (H, W) gray or (H, W, 3) BGR, got shape {image.shape}")
    h, w = image.shape[:2]
    if h < MIN_SIZE or w < MIN_SIZE:
        raise ValueError(f"image is {h}x{w}; SuperPoint needs at least {MIN_SIZE}x{MIN_SIZE} pixels")
    if image.dtype == np.float32:
        if not np.isfinite(image).all():
            raise ValueError("image contains NaN or inf")
        lo, hi = float(image.min()), float(image.max())
        if lo < -1e-3 or hi > 1.0 + 1e-3:
            raise ValueError(
                f"float32 images must be in [0, 1], got values in [{lo:g}, {hi:g}] (pass uint8, or divide by 255)"
            )
    return image


def to_gray_float(image: np.ndarray) -> np.ndarray:
    """Validate one image (:func:`check_image`) and return it as gray float32 (H, W) in [0, 1]."""
    image = check_image(image)
    if image.ndim == 3:
        code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        image = cv2.cvtColor(np.ascontiguousarray(image), code)
    if image.dtype == np.uint8:
        return image.astype(np.float32) / np.float32(255.0)  # the same rounding as a user's float32 / 255
    return np.ascontiguousarray(np.clip(image, 0.0, 1.0), dtype=np.float32)


def padded_size(height: int, width: int) -> tuple[int, int]:
    """(H, W) rounded up to multiples of 8."""
    return (height + CELL - 1) // CELL * CELL, (width + CELL - 1) // CELL * CELL


def pad_to_multiple(gray: np.ndarray) -> np.ndarray:
    """(H, W) -> (H', W') with H', W' the next multiples of 8, by edge replication (bottom/right)."""
    h, w = gray.shape
    hp, wp = padded_size(h, w)
    if (hp, wp) == (h, w):
        return gray
    return np.pad(gray, ((0, hp - h), (0, wp - w)), mode="edge")


def split_images(images: np.ndarray | Sequence[np.ndarray]) -> tuple[list[np.ndarray], bool]:
    """Normalise the accepted forms to a list of images; the bool says whether a batch was given.

    A batch is a list/tuple of images, or an array (B, H, W) (W > 4) / (B, H, W, C).
    """
    if isinstance(images, (list, tuple)):
        if len(images) == 0:
            raise ValueError("empty list of images")
        return list(images), True
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            return list(images), True
        if images.ndim == 3 and images.shape[2] > 4:  # (B, H, W) gray; (H, W, C<=4) is one image
            return list(images), True
        return [images], False
    raise TypeError(f"expected an image (numpy array) or a list of images, got {type(images).__name__}")


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as BGR uint8 (H, W, 3); FileNotFoundError / ValueError naming the file when it cannot be."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"image not found: {path}")
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot read {path} as an image (corrupt or unsupported format)")
    return img
