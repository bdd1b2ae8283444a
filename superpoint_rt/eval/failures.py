"""Why a pair's homography misses: the anatomy of one RANSAC estimate against the ground truth.

:func:`superpoint_rt.eval.metrics.estimate_homography` says *whether* a pair's estimate lands within ``eps`` of the
true corners; this module says what stood in the way when it does not. With the true homography ``H`` every match
``(p1, p2)`` has a **true residual** ``|H p1 - p2|`` (px, image 2). The **oracle fit** is the least-squares
homography (``cv2.findHomography`` with method 0, a DLT refined by Levenberg-Marquardt) on the matches whose true
residual is at most ``oracle_px``: what an estimator that knew the right matches would get from these points. Then a
pair whose RANSAC estimate misses (corner error > ``eps``) falls in exactly one class:

* ``"too_few"``: fewer than ``min_oracle`` matches within ``oracle_px`` (the descriptors found too little);
* ``"fit"``: the oracle fit is within ``eps`` -- the right matches were there and precise enough, RANSAC's
  inlier set or its fit was not (typically matches 1.5-3 px off kept by the 3 px threshold, pulling a fit whose
  points cover a small part of the image);
* ``"precision"``: even the oracle fit misses -- the right matches are too imprecise or too clustered to pin the
  corners (localisation is the limit).

A pair within ``eps`` is ``"correct"``. Conventions as :mod:`superpoint_rt.eval.metrics`: keypoints (N, 2) x, y px
(pixel centres at integers), ``H`` maps image-1 px to image-2 px, shapes (height, width).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from .metrics import _as_homography, _as_points, corner_error, warp

#: the classes of :func:`classify`, in the order reports list them
CLASSES = ("correct", "fit", "precision", "too_few")


@dataclass
class HomographyAnatomy:
    """One pair's estimate taken apart (see the module docstring); distances in px of image 2."""

    error: float  #: the RANSAC estimate's mean corner error (inf: failed)
    n_matches: int  #: mutual-NN matches RANSAC saw
    n_inliers: int  #: of them, RANSAC's inliers
    n_true: int  #: matches with true residual <= oracle_px (what the oracle fits)
    inlier_residual_median: float  #: median true residual of RANSAC's inliers (nan: none)
    inliers_off: int  #: RANSAC inliers whose true residual is > oracle_px (they pull the fit)
    hull_fraction: float  #: area of the convex hull of the oracle's points in image 1 / image-1 area
    oracle_error: float  #: the oracle fit's mean corner error (inf: fewer than 4 points or no fit)
    label: str  #: one of :data:`CLASSES`

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}


def true_residuals(p1: np.ndarray, p2: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(M,) ``|H p1 - p2|`` for matched points p1, p2 (M, 2); inf where ``H`` sends p1 behind the camera."""
    w, front = warp(np.asarray(p1, np.float64).reshape(-1, 2), truth)
    r = np.linalg.norm(w - np.asarray(p2, np.float64).reshape(-1, 2), axis=1)
    r[~front] = np.inf
    return r


def oracle_fit(p1: np.ndarray, p2: np.ndarray) -> np.ndarray | None:
    """Least-squares homography (no RANSAC) of (M, 2) point pairs; None below 4 pairs or when OpenCV finds none."""
    if len(p1) < 4:
        return None
    h, _ = cv2.findHomography(np.asarray(p1, np.float32), np.asarray(p2, np.float32), 0)
    if h is None or h.shape != (3, 3) or not np.isfinite(h).all():
        return None
    return np.asarray(h, np.float64)


def hull_fraction(points: np.ndarray, shape: tuple[int, int]) -> float:
    """Convex-hull area of (N, 2) points over the area of an image of ``shape``; 0 below 3 points."""
    pts = np.asarray(points, np.float32).reshape(-1, 2)
    if len(pts) < 3:
        return 0.0
    return float(cv2.contourArea(cv2.convexHull(pts))) / float(shape[0] * shape[1])


def classify(error: float, oracle_error: float, n_true: int, eps: float, min_oracle: int) -> str:
    """The class of one pair (module docstring): correct / too_few / fit / precision, checked in that order."""
    if error <= eps:
        return "correct"
    if n_true < min_oracle:
        return "too_few"
    return "fit" if oracle_error <= eps else "precision"


def homography_anatomy(
    kp1: np.ndarray,
    kp2: np.ndarray,
    matches: np.ndarray,
    inliers: np.ndarray,
    error: float,
    truth: np.ndarray,
    shape: tuple[int, int],
    eps: float = 3.0,
    oracle_px: float = 1.0,
    min_oracle: int = 8,
) -> HomographyAnatomy:
    """Take apart one estimate: ``matches`` (M, 2) index pairs into kp1/kp2, RANSAC's ``inliers`` (M,) bool, its
    corner ``error``; ``truth`` the true H; ``shape`` the image size the corner error is measured on.

    Raises:
        ValueError: mismatched matches/inliers, a match index out of range, or oracle_px/eps not positive.
    """
    if not (eps > 0 and oracle_px > 0):
        raise ValueError(f"eps and oracle_px must be > 0, got {eps} and {oracle_px}")
    if min_oracle < 4:
        raise ValueError(f"min_oracle must be >= 4 (a homography needs 4 points), got {min_oracle}")
    truth = _as_homography(truth)
    p1, p2 = _as_points(kp1, "kp1"), _as_points(kp2, "kp2")
    m = np.asarray(matches, np.int64).reshape(-1, 2)
    inl = np.asarray(inliers, bool).reshape(-1)
    if len(inl) != len(m):
        raise ValueError(f"{len(m)} matches but {len(inl)} inlier flags")
    if len(m) and (m.min() < 0 or m[:, 0].max() >= len(p1) or m[:, 1].max() >= len(p2)):
        raise ValueError("a match index is out of range of the keypoints")
    a, b = p1[m[:, 0]], p2[m[:, 1]]
    r = true_residuals(a, b, truth)
    good = r <= oracle_px
    n_true = int(good.sum())
    h = oracle_fit(a[good], b[good])
    oracle = corner_error(h, truth, shape) if h is not None else float("inf")
    return HomographyAnatomy(
        error=float(error),
        n_matches=len(m),
        n_inliers=int(inl.sum()),
        n_true=n_true,
        inlier_residual_median=float(np.median(r[inl])) if inl.any() else float("nan"),
        inliers_off=int((inl & ~good).sum()),
        hull_fraction=hull_fraction(a[good], shape),
        oracle_error=float(oracle),
        label=classify(float(error), float(oracle), n_true, eps, min_oracle),
    )


def summarize(items: list[HomographyAnatomy]) -> dict[str, Any]:
    """Counts per class, and per class (and over ``"all"`` pairs) the medians that tell the classes apart."""
    out: dict[str, Any] = {"pairs": len(items), "counts": {c: sum(i.label == c for i in items) for c in CLASSES}}

    def med(vals: list[float]) -> float | None:
        v = np.asarray([x for x in vals if np.isfinite(x)], np.float64)
        return float(np.median(v)) if len(v) else None

    for c in ("all", *CLASSES):
        sel = [i for i in items if c in ("all", i.label)]
        out[c] = {
            "n_inliers": med([float(i.n_inliers) for i in sel]),
            "n_true": med([float(i.n_true) for i in sel]),
            "inlier_residual_median": med([i.inlier_residual_median for i in sel]),
            "inliers_off_share": med([i.inliers_off / i.n_inliers for i in sel if i.n_inliers]),
            "hull_fraction": med([i.hull_fraction for i in sel]),
            "oracle_error": med([i.oracle_error for i in sel]),
        }
    return out


def level_pair_key(level1: float, level2: float) -> str:
    """The label of a pyramid level pair, image 1's level first: ``"1.41->0.71"``."""
    return f"{level1:g}->{level2:g}"


def inlier_residuals_by_level(
    kp1: np.ndarray,
    kp2: np.ndarray,
    matches: np.ndarray,
    inliers: np.ndarray,
    truth: np.ndarray,
    levels1: np.ndarray,
    levels2: np.ndarray,
) -> dict[str, list[float]]:
    """True residuals ``|H p1 - p2|`` (px, image 2) of RANSAC's inliers, grouped by the pyramid levels of their points.

    ``levels1`` (N1,) / ``levels2`` (N2,): the pyramid scale each keypoint was detected at (``Features.scales``);
    keys as :func:`level_pair_key`. Inliers whose true position falls behind the camera are left out.

    Raises:
        ValueError: a levels array that does not match its keypoints, or mismatched matches/inliers.
    """
    p1, p2 = _as_points(kp1, "kp1"), _as_points(kp2, "kp2")
    l1, l2 = np.asarray(levels1, np.float64).reshape(-1), np.asarray(levels2, np.float64).reshape(-1)
    if len(l1) != len(p1) or len(l2) != len(p2):
        raise ValueError(f"levels ({len(l1)}, {len(l2)}) must match the keypoints ({len(p1)}, {len(p2)})")
    m = np.asarray(matches, np.int64).reshape(-1, 2)
    inl = np.asarray(inliers, bool).reshape(-1)
    if len(inl) != len(m):
        raise ValueError(f"{len(m)} matches but {len(inl)} inlier flags")
    m = m[inl]
    r = true_residuals(p1[m[:, 0]], p2[m[:, 1]], _as_homography(truth))
    out: dict[str, list[float]] = {}
    for a, b, x in zip(l1[m[:, 0]], l2[m[:, 1]], r):
        if np.isfinite(x):
            out.setdefault(level_pair_key(float(a), float(b)), []).append(float(x))
    return out


def summarize_levels(groups: dict[str, list[float]], oracle_px: float = 1.0) -> list[dict[str, Any]]:
    """Per level pair (most inliers first): ``{"levels", "inliers", "share", "residual_median",
    "residual_median_level_px", "over_oracle_px"}``; ``residual_median_level_px`` is the median in pixels of image 2's
    level (residual x its scale, the key's second number), ``over_oracle_px`` the share off by more than oracle_px."""
    total = sum(len(v) for v in groups.values())
    rows = []
    for key, vals in groups.items():
        v = np.asarray(vals, np.float64)
        s2 = float(key.split("->")[1])
        rows.append(
            {
                "levels": key,
                "inliers": len(v),
                "share": len(v) / total if total else 0.0,
                "residual_median": float(np.median(v)),
                "residual_median_level_px": float(np.median(v)) * s2,
                "over_oracle_px": float((v > oracle_px).mean()),
            }
        )
    return sorted(rows, key=lambda r: -r["inliers"])
