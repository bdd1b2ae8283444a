"""OpenCV drop-in: :class:`superpoint_rt.SuperPoint` speaks ``cv2.Feature2D``'s language.

Code written for ORB or SIFT takes SuperPoint by changing the line that makes the detector::

    sp = SuperPoint()  # was: sp = cv2.ORB_create() / cv2.SIFT_create()
    kps, des = sp.detectAndCompute(img, mask)  # tuple of cv2.KeyPoint, (N, 256) float32
    bf = cv2.BFMatcher(sp.defaultNorm(), crossCheck=True)
    out = cv2.drawMatches(img, kps, img2, kps2, bf.match(des, des2), None)

The methods live on ``SuperPoint`` (``detect``, ``compute``, ``detectAndCompute``, ``descriptorSize``,
``descriptorType``, ``defaultNorm``, ``getDefaultName``, ``empty``); the work is done here. The conventions:

* ``pt``: (x, y) = (column, row) with pixel centres at integer coordinates -- OpenCV's convention and ours, so
  keypoints need no shift either way;
* ``size`` = ``8 / s``: the width, in input pixels, of one detector cell (8 pixels of the pyramid level of scale
  ``s``; 8 for single-scale detection). It is a neighbourhood diameter for drawing (``DRAW_RICH_KEYPOINTS``) and
  for code that reads sizes; SuperPoint's descriptor reads a larger receptive field;
* ``angle`` = -1 (no orientation: SuperPoint's descriptor is not rotation invariant);
* ``response`` = the detector score; ``octave`` = the pyramid level's index in ``options.scales`` (0 for
  single-scale); ``class_id`` = -1;
* descriptors: float32 (N, 256), unit L2 norm, for ``cv2.NORM_L2``; ``None`` when there are no keypoints, and the
  keypoints are a tuple, as OpenCV's Python bindings return them;
* ``mask``: uint8 (H, W), nonzero = allowed. A keypoint is dropped where ``mask[int(y + 0.5), int(x + 0.5)] == 0``
  (OpenCV's ``KeyPointsFilter::runByPixelsMask``). The mask is applied **before** the top-k cut
  (``max_keypoints``): asking for 1000 points in a mask gives up to 1000 inside it;
* ``compute(img, keypoints)`` describes any keypoints (from FAST, GFTT, another image's SuperPoint, ...): it keeps
  those whose centre lies on the image (``-0.5 <= x < W - 0.5`` and ``-0.5 <= y < H - 0.5``, finite), samples the
  dense descriptor map with the options' ``interpolation`` and ``convention`` as detection does, and returns
  ``(kept keypoints, descriptors)``. With multi-scale options each keypoint is described at the level its
  ``octave`` names; single-scale options ignore ``octave``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import cv2
import numpy as np

from . import ops
from .multiscale import level_size
from .network_spec import CELL, DESCRIPTOR_DIM
from .options import SuperPointOptions
from .preprocess import check_image
from .types import Features

__all__ = [
    "check_mask",
    "compute",
    "detect_and_compute",
    "keypoint_arrays",
    "mask_keep",
    "to_dmatches",
    "to_keypoints",
]

KeyPoints = tuple[cv2.KeyPoint, ...]


class SuperPointLike(Protocol):
    """What these functions use of :class:`superpoint_rt.SuperPoint` (which calls them: no import back)."""

    @property
    def options(self) -> SuperPointOptions: ...

    def __call__(self, images: Any) -> Any: ...

    def descriptor_map(self, image: np.ndarray, scale: float = 1.0) -> np.ndarray: ...

    def _features_without_top_k(self, image: np.ndarray) -> Features: ...


def check_mask(mask: Any, size: tuple[int, int]) -> np.ndarray:
    """Validate an OpenCV detection mask for an image of ``size = (H, W)``.

    Raises:
        ValueError: not a uint8 array of shape (H, W).
    """
    if not isinstance(mask, np.ndarray):
        raise ValueError(f"mask must be a uint8 numpy array of shape {size} (or None), got {type(mask).__name__}")
    if mask.dtype != np.uint8:
        raise ValueError(f"mask must be uint8 (nonzero = allowed, as OpenCV's CV_8UC1), got {mask.dtype}")
    if mask.shape != tuple(size):
        raise ValueError(f"mask must have the image's shape {tuple(size)} (H, W), got {mask.shape}")
    return mask


def mask_keep(points: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(N,) bool: which (x, y) points the mask allows, by OpenCV's rule ``mask[int(y + 0.5), int(x + 0.5)] != 0``
    (``int`` truncates towards zero, as C++'s cast). Points off the mask are not allowed."""
    p = np.asarray(points, np.float32).reshape(-1, 2)
    h, w = mask.shape
    with np.errstate(invalid="ignore"):
        col = np.trunc(p[:, 0] + np.float32(0.5))
        row = np.trunc(p[:, 1] + np.float32(0.5))
        inside = np.isfinite(p).all(axis=1) & (col >= 0) & (col < w) & (row >= 0) & (row < h)
    keep = np.zeros(len(p), bool)
    keep[inside] = mask[row[inside].astype(np.intp), col[inside].astype(np.intp)] != 0
    return keep


def _octaves(features: Features, scales: Sequence[float]) -> np.ndarray:
    if features.scales is None or len(scales) == 1:
        return np.zeros(len(features), np.int64)
    lookup = np.asarray(scales, np.float32)
    return np.abs(np.asarray(features.scales, np.float32)[:, None] - lookup[None, :]).argmin(axis=1)


def to_keypoints(features: Features, scales: Sequence[float] = (1.0,)) -> KeyPoints:
    """Features -> a tuple of ``cv2.KeyPoint`` (module docstring: the field conventions).

    Args:
        features: as ``SuperPoint.__call__`` returns them.
        scales: the pyramid the features were detected with (``sp.options.scales``): octave = index into it.
    """
    octave = _octaves(features, scales)
    size = CELL / np.asarray(scales, np.float64)[octave]
    kp = np.asarray(features.keypoints, np.float32)
    sc = np.asarray(features.scores, np.float32)
    return tuple(
        cv2.KeyPoint(float(x), float(y), float(s), -1.0, float(r), int(o), -1)
        for (x, y), s, r, o in zip(kp.tolist(), size.tolist(), sc.tolist(), octave.tolist())
    )


def keypoint_arrays(keypoints: Sequence[cv2.KeyPoint]) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.KeyPoint`` sequence -> (points (N, 2) float32 x, y; octaves (N,) int64).

    Raises:
        TypeError: an element is not a ``cv2.KeyPoint``.
    """
    pts = np.empty((len(keypoints), 2), np.float32)
    octaves = np.empty(len(keypoints), np.int64)
    for n, k in enumerate(keypoints):
        if not isinstance(k, cv2.KeyPoint):
            raise TypeError(f"keypoints must be cv2.KeyPoint objects, element {n} is {type(k).__name__}")
        pts[n] = k.pt
        octaves[n] = k.octave
    return pts, octaves


def to_dmatches(pairs: np.ndarray, distances: np.ndarray | None = None) -> list[cv2.DMatch]:
    """(K, 2) index pairs from :func:`superpoint_rt.matching.match` -> ``cv2.DMatch`` list (queryIdx = i into the
    first set, trainIdx = j), for ``cv2.drawMatches``; ``distances`` (K,) fills ``DMatch.distance`` (else 0)."""
    p = np.asarray(pairs, np.int64).reshape(-1, 2)
    d = np.zeros(len(p)) if distances is None else np.asarray(distances, np.float64).reshape(-1)
    if len(d) != len(p):
        raise ValueError(f"{len(p)} pairs but {len(d)} distances")
    return [cv2.DMatch(int(i), int(j), float(x)) for (i, j), x in zip(p.tolist(), d.tolist())]


def _subset(f: Features, idx: np.ndarray) -> Features:
    return Features(
        f.keypoints[idx],
        f.scores[idx],
        f.descriptors[idx],
        f.image_size,
        f.timings,
        None if f.scales is None else f.scales[idx],
    )


def detect_features(sp: SuperPointLike, image: np.ndarray, mask: np.ndarray | None = None) -> Features:
    """``sp(image)`` with an OpenCV mask applied before the top-k cut (``mask`` None: exactly ``sp(image)``)."""
    check_image(image)
    if mask is None:
        f = sp(image)
        assert isinstance(f, Features)
        return f
    check_mask(mask, image.shape[:2])
    f = sp._features_without_top_k(image)
    idx = np.flatnonzero(mask_keep(f.keypoints, mask))
    if sp.options.max_keypoints is not None:
        idx = idx[: sp.options.max_keypoints]
    return _subset(f, idx)


def detect_and_compute(sp: SuperPointLike, image: np.ndarray, mask: np.ndarray | None = None) -> tuple[KeyPoints, Any]:
    """``cv2.Feature2D.detectAndCompute``: (keypoints tuple, (N, 256) float32 descriptors or None when N == 0)."""
    f = detect_features(sp, image, mask)
    kps = to_keypoints(f, sp.options.scales)
    return kps, (np.ascontiguousarray(f.descriptors, np.float32) if len(kps) else None)


def compute(sp: SuperPointLike, image: np.ndarray, keypoints: Sequence[cv2.KeyPoint]) -> tuple[KeyPoints, Any]:
    """``cv2.Feature2D.compute``: descriptors of given keypoints (module docstring: which are kept, which level).

    Returns:
        (the kept keypoints, in their order, as a tuple of the same objects; (K, 256) float32 unit descriptors,
        or None when none is kept).
    Raises:
        ValueError: multi-scale options and a keypoint whose ``octave`` is not an index into ``options.scales``.
    """
    gray = check_image(image)
    h, w = gray.shape[:2]
    kps = tuple(keypoints)
    pts, octaves = keypoint_arrays(kps)
    if not kps:
        return (), None
    x, y = pts[:, 0], pts[:, 1]
    with np.errstate(invalid="ignore"):
        inside = np.isfinite(pts).all(axis=1) & (x >= -0.5) & (x < w - 0.5) & (y >= -0.5) & (y < h - 0.5)
    o = sp.options
    scales = o.scales
    level = np.zeros(len(kps), np.int64) if len(scales) == 1 else octaves
    bad = inside & ((level < 0) | (level >= len(scales)))
    if bad.any():
        n = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"keypoint {n} has octave {int(octaves[n])}, not a level of scales={scales} (0..{len(scales) - 1}): "
            "give multi-scale keypoints the octave of their level, or describe them with a single-scale SuperPoint"
        )
    desc = np.zeros((len(kps), DESCRIPTOR_DIM), np.float32)
    for lv in np.unique(level[inside]).tolist():
        sel = inside & (level == lv)
        coarse = sp.descriptor_map(image, scales[lv])
        hl, wl = level_size((h, w), scales[lv])
        p = pts[sel].astype(np.float64)  # input pixels -> level pixels (inverse of multiscale.level_to_input)
        p[:, 0] = (p[:, 0] + 0.5) * (wl / w) - 0.5
        p[:, 1] = (p[:, 1] + 0.5) * (hl / h) - 0.5
        desc[sel] = ops.sample_descriptors(
            coarse, p.astype(np.float32), interpolation=o.interpolation, convention=str(o.convention)
        )
    idx = np.flatnonzero(inside)
    if len(idx) == 0:
        return (), None
    return tuple(kps[i] for i in idx.tolist()), np.ascontiguousarray(desc[idx])
