"""The SuperPoint paper's detector and descriptor metrics on one image pair.

Inputs everywhere: keypoints ``(N, 2)`` x,y in pixels (pixel centres at integers), ``H`` (3x3) maps
image-1 pixels to image-2 pixels, image shapes ``(height, width)``. "Shared region": a point of image
1 counts only if ``H`` maps it inside image 2 (in front of the camera), and a point of image 2 only if
``H^-1`` maps it inside image 1.

Definitions (written for this project; they follow the paper's appendix and rpautrat/SuperPoint):

* repeatability: keep shared-region points, then the ``top_k`` best of each image; warp image-1
  points into image 2; a point is repeated when the nearest point of the other image lies within
  ``eps``; ``(repeated_1 + repeated_2) / (n_1 + n_2)``.
* localisation error: mean of those nearest distances that are ``<= eps`` (both directions pooled).
* equal-footing repeatability (optional, ``point_nms``): the same after one greedy NMS of every method's
  points, so a detector that reports several points on one corner (ORB: one per pyramid level) is
  counted as SuperPoint, whose own NMS keeps one point per 9x9 window, is.
* NN mAP: each shared-region point of image 1 is matched to its descriptor nearest neighbour among
  the shared-region points of image 2; matches ranked by descriptor distance; a match is correct when
  the warped point lies within ``eps`` of its match. Average precision = ``sum_k P@k * correct_k / P``
  where ``P`` is the number of image-1 points that have *some* image-2 point within ``eps`` (the
  correspondences there are to find; ``recall_base="retrieved"`` uses the number of correct matches
  instead, which is what ``sklearn.metrics.average_precision_score`` on the NN matches gives).
  Computed 1->2 and 2->1 and averaged.
* matching score: mutual-nearest-neighbour matches among shared-region points; correct ones divided
  by the number of shared-region points, averaged over the two images.
* homography: mutual NN matches among all points, ``cv2.findHomography(RANSAC, 3 px)``; error = mean
  distance between the 4 image-1 corners warped by the estimate and by the ground truth; ``inf`` when
  the estimate fails. Correct at ``eps`` when the error is ``<= eps``.
* homography AUC at ``T`` px: the area under the accuracy-vs-threshold curve on ``[0, T]`` divided by ``T``
  (SuperGlue's AUC@5/10). It equals the mean over pairs of ``max(0, 1 - error / T)``, so it is smooth in the
  errors where accuracy at one ε flips with every pair that crosses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from superpoint_rt.geometry import points_inside
from superpoint_rt.matching import mutual_nearest


def _as_points(points: np.ndarray, name: str) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2), got {p.shape}")
    return p


def _as_homography(h: np.ndarray) -> np.ndarray:
    m = np.asarray(h, dtype=np.float64)
    if m.shape != (3, 3):
        raise ValueError(f"homography must be 3x3, got {m.shape}")
    return m


def warp(points: np.ndarray, homography: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(warped (N,2) float64, in_front (N,) bool)``: points through ``homography``, w > 0 flag."""
    p = np.concatenate([points, np.ones((len(points), 1))], axis=1) @ homography.T
    w = p[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = p[:, :2] / w[:, None]
    return out, w > 0


def shared_mask(points: np.ndarray, homography: np.ndarray, other_shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of points that ``homography`` maps inside an image of ``other_shape = (h, w)``."""
    p = _as_points(points, "points")
    warped, front = warp(p, _as_homography(homography))
    return front & np.isfinite(warped).all(axis=1) & points_inside(warped, other_shape[0], other_shape[1])


def _top_k(idx: np.ndarray, scores: np.ndarray | None, k: int | None) -> np.ndarray:
    """Indices ``idx`` reduced to the ``k`` with the highest score (stable: earlier index first on ties)."""
    if k is None or len(idx) <= k:
        return idx
    if scores is None:
        return idx[:k]
    s = np.asarray(scores, dtype=np.float64)[idx]
    order = np.argsort(-s, kind="stable")[:k]
    return idx[np.sort(order)]


def _pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) Euclidean distances between 2-D points (float64; exact enough for pixel coordinates)."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


@dataclass
class Repeatability:
    """Repeatability and localisation error of one pair (nan when undefined)."""

    repeatability: float
    localization_error: float
    n1: int
    n2: int
    repeated1: int
    repeated2: int


def repeatability(
    kp1: np.ndarray,
    kp2: np.ndarray,
    homography: np.ndarray,
    shape1: tuple[int, int],
    shape2: tuple[int, int],
    eps: float = 3.0,
    scores1: np.ndarray | None = None,
    scores2: np.ndarray | None = None,
    top_k: int | None = None,
) -> Repeatability:
    """Repeatability and localisation error (see the module docstring); ``top_k`` after the shared-region filter."""
    p1, p2 = _as_points(kp1, "kp1"), _as_points(kp2, "kp2")
    h = _as_homography(homography)
    i1 = _top_k(np.flatnonzero(shared_mask(p1, h, shape2)), scores1, top_k)
    i2 = _top_k(np.flatnonzero(shared_mask(p2, np.linalg.inv(h), shape1)), scores2, top_k)
    n1, n2 = len(i1), len(i2)
    if n1 == 0 or n2 == 0:
        return Repeatability(0.0 if n1 + n2 > 0 else float("nan"), float("nan"), n1, n2, 0, 0)
    d = _pairwise_distances(warp(p1[i1], h)[0], p2[i2])
    min1, min2 = d.min(axis=1), d.min(axis=0)
    ok1, ok2 = min1 <= eps, min2 <= eps
    c1, c2 = int(ok1.sum()), int(ok2.sum())
    rep = (c1 + c2) / (n1 + n2)
    err = float((min1[ok1].sum() + min2[ok2].sum()) / (c1 + c2)) if c1 + c2 > 0 else float("nan")
    return Repeatability(float(rep), err, n1, n2, c1, c2)


def point_nms(points: np.ndarray, scores: np.ndarray, radius: float) -> np.ndarray:
    """Greedy non-maximum suppression of sub-pixel points: indices kept, ascending.

    Points are visited by score (highest first; the earlier index first on ties); a point is kept
    when no point kept before it lies within Chebyshev distance ``radius`` (``max(|dx|, |dy|) <= radius``),
    the square window SuperPoint's own NMS uses on its heatmap. ``radius = 0`` keeps all but exact duplicates.
    ``points``: (N, 2) x, y in pixels; ``scores``: (N,).
    """
    p = _as_points(points, "points")
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(s) != len(p):
        raise ValueError(f"point_nms: {len(p)} points but {len(s)} scores")
    r = float(radius)
    if not np.isfinite(r) or r < 0:
        raise ValueError(f"point_nms: radius must be finite and >= 0, got {radius}")
    if not (np.isfinite(p).all() and np.isfinite(s).all()):
        raise ValueError("point_nms: points and scores must be finite")
    suppressed = np.zeros(len(p), dtype=bool)
    kept: list[int] = []
    for i in np.argsort(-s, kind="stable").tolist():
        if suppressed[i]:
            continue
        kept.append(i)
        suppressed |= np.abs(p - p[i]).max(axis=1) <= r
    return np.sort(np.asarray(kept, dtype=np.int64))


def descriptor_distances(desc1: np.ndarray, desc2: np.ndarray) -> np.ndarray:
    """(N1, N2) float64 Euclidean distances between descriptor rows (computed in float64)."""
    a = np.asarray(desc1, dtype=np.float64)
    b = np.asarray(desc2, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"descriptors must be (N, D) with the same D, got {a.shape} and {b.shape}")
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def mutual_nn_matches(desc1: np.ndarray, desc2: np.ndarray) -> np.ndarray:
    """(M, 2) int64 index pairs ``(i, j)`` where j is i's nearest neighbour and i is j's (first index on ties)."""
    if len(desc1) == 0 or len(desc2) == 0:
        return np.zeros((0, 2), np.int64)
    return mutual_nearest(descriptor_distances(desc1, desc2))  # float64 distances: the evaluation's precision


@dataclass
class RankedMatches:
    """Nearest-neighbour matches of one direction ranked by descriptor distance (for AP and PR curves)."""

    distances: np.ndarray  # (M,) ascending
    correct: np.ndarray  # (M,) bool, in the same order
    num_positives: int  # correspondences there are to find (see ``recall_base``)


def _ranked(dd: np.ndarray, geo: np.ndarray, eps: float, recall_base: str) -> RankedMatches:
    """NN matches of the rows of ``dd`` (descriptor distances); ``geo``: distances in the target image."""
    if recall_base not in ("possible", "retrieved"):
        raise ValueError(f"recall_base must be 'possible' or 'retrieved', got {recall_base!r}")
    if dd.shape[0] == 0 or dd.shape[1] == 0:
        return RankedMatches(np.zeros(0), np.zeros(0, bool), 0)
    rows = np.arange(dd.shape[0])
    nn = dd.argmin(axis=1)
    dist = dd[rows, nn]
    correct = geo[rows, nn] <= eps
    order = np.argsort(dist, kind="stable")
    positives = int((geo.min(axis=1) <= eps).sum()) if recall_base == "possible" else int(correct.sum())
    return RankedMatches(dist[order], correct[order], positives)


@dataclass
class _Pair:
    """Shared-region subsets of a pair with their distance matrices."""

    p1: np.ndarray  # (n1, 2) shared-region points of image 1
    p2: np.ndarray
    dd: np.ndarray  # (n1, n2) descriptor distances
    geo12: np.ndarray  # (n1, n2) |H p1 - p2| in image 2
    geo21: np.ndarray  # (n2, n1) |H^-1 p2 - p1| in image 1


def _shared_pair(
    kp1: np.ndarray,
    desc1: np.ndarray,
    kp2: np.ndarray,
    desc2: np.ndarray,
    homography: np.ndarray,
    shape1: tuple[int, int],
    shape2: tuple[int, int],
    distances: np.ndarray | None = None,
) -> _Pair:
    p1, p2 = _as_points(kp1, "kp1"), _as_points(kp2, "kp2")
    h = _as_homography(homography)
    hinv = np.linalg.inv(h)
    d1, d2 = np.asarray(desc1), np.asarray(desc2)
    if len(d1) != len(p1) or len(d2) != len(p2):
        raise ValueError(f"descriptor counts {len(d1)}, {len(d2)} differ from keypoint counts {len(p1)}, {len(p2)}")
    m1 = shared_mask(p1, h, shape2)
    m2 = shared_mask(p2, hinv, shape1)
    p1, p2 = p1[m1], p2[m2]
    if distances is not None and distances.shape == (len(m1), len(m2)):
        dd = distances[np.ix_(m1, m2)]
    else:
        dd = descriptor_distances(d1[m1], d2[m2])
    geo12 = _pairwise_distances(warp(p1, h)[0], p2)
    geo21 = _pairwise_distances(warp(p2, hinv)[0], p1)
    return _Pair(p1, p2, dd, geo12, geo21)


def ranked_nn_matches(
    kp1: np.ndarray,
    desc1: np.ndarray,
    kp2: np.ndarray,
    desc2: np.ndarray,
    homography: np.ndarray,
    shape1: tuple[int, int],
    shape2: tuple[int, int],
    eps: float = 3.0,
    recall_base: str = "possible",
) -> RankedMatches:
    """NN matches from image 1 to image 2 among shared-region points, ranked by descriptor distance."""
    pair = _shared_pair(kp1, desc1, kp2, desc2, homography, shape1, shape2)
    return _ranked(pair.dd, pair.geo12, eps, recall_base)


def average_precision(ranked: RankedMatches) -> float:
    """``sum_k precision@k * correct_k / num_positives``; nan when there is nothing to find."""
    if ranked.num_positives == 0:
        return float("nan")
    c = ranked.correct.astype(np.float64)
    precision = np.cumsum(c) / np.arange(1, len(c) + 1)
    return float((precision * c).sum() / ranked.num_positives)


def _nanmean2(a: float, b: float) -> float:
    vals = [v for v in (a, b) if not np.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


def _matching_score(pair: _Pair, eps: float) -> float:
    n1, n2 = len(pair.p1), len(pair.p2)
    if n1 == 0 and n2 == 0:
        return float("nan")
    if n1 == 0 or n2 == 0:
        return 0.0
    m = mutual_nearest(pair.dd)
    c = int((pair.geo12[m[:, 0], m[:, 1]] <= eps).sum())
    return float((c / n1 + c / n2) / 2.0)


def nn_map(
    kp1: np.ndarray,
    desc1: np.ndarray,
    kp2: np.ndarray,
    desc2: np.ndarray,
    homography: np.ndarray,
    shape1: tuple[int, int],
    shape2: tuple[int, int],
    eps: float = 3.0,
    recall_base: str = "possible",
) -> float:
    """Nearest-neighbour mean average precision, symmetric (mean of 1->2 and 2->1; nan-aware)."""
    pair = _shared_pair(kp1, desc1, kp2, desc2, homography, shape1, shape2)
    a = average_precision(_ranked(pair.dd, pair.geo12, eps, recall_base))
    b = average_precision(_ranked(pair.dd.T, pair.geo21, eps, recall_base))
    return _nanmean2(a, b)


def matching_score(
    kp1: np.ndarray,
    desc1: np.ndarray,
    kp2: np.ndarray,
    desc2: np.ndarray,
    homography: np.ndarray,
    shape1: tuple[int, int],
    shape2: tuple[int, int],
    eps: float = 3.0,
) -> float:
    """Correct mutual-NN matches over shared-region points, averaged over both images (nan if none)."""
    return _matching_score(_shared_pair(kp1, desc1, kp2, desc2, homography, shape1, shape2), eps)


@dataclass
class DescriptorMetrics:
    """NN mAP, matching score and the 1->2 ranked NN matches of one pair, from one set of distances."""

    nn_map: float
    matching_score: float
    ranked: RankedMatches


def descriptor_metrics(
    kp1: np.ndarray,
    desc1: np.ndarray,
    kp2: np.ndarray,
    desc2: np.ndarray,
    homography: np.ndarray,
    shape1: tuple[int, int],
    shape2: tuple[int, int],
    eps: float = 3.0,
    recall_base: str = "possible",
    distances: np.ndarray | None = None,
) -> DescriptorMetrics:
    """:func:`nn_map` and :func:`matching_score` together, computing the distance matrices once.

    ``distances``: the (N1, N2) :func:`descriptor_distances` of all points, if already computed.
    """
    pair = _shared_pair(kp1, desc1, kp2, desc2, homography, shape1, shape2, distances)
    r12 = _ranked(pair.dd, pair.geo12, eps, recall_base)
    r21 = _ranked(pair.dd.T, pair.geo21, eps, recall_base)
    return DescriptorMetrics(_nanmean2(average_precision(r12), average_precision(r21)), _matching_score(pair, eps), r12)


@dataclass
class NNErrorAnatomy:
    """Where the descriptor nearest neighbours of one pair land (direction 1 -> 2, shared-region points).

    ``with_partner``: points of image 1 with a detected point of image 2 within ``eps`` of their warped position
    (NN mAP's positives); of those, ``correct`` have their NN within ``eps`` of the warped position, ``near`` land
    farther but within ``near_px`` (a sub-cell / neighbour confusion), ``far`` beyond (a descriptor confusion).
    """

    with_partner: int
    correct: int
    near: int
    far: int


def nn_error_anatomy(
    kp1: np.ndarray,
    desc1: np.ndarray,
    kp2: np.ndarray,
    desc2: np.ndarray,
    homography: np.ndarray,
    shape1: tuple[int, int],
    shape2: tuple[int, int],
    eps: float = 3.0,
    near_px: float = 12.0,
) -> NNErrorAnatomy:
    """Split the NN matches of the points that have a partner into correct / near miss / far miss.

    Keypoints (N, 2) x, y pixels; descriptors (N, D) (L2 distances, as :func:`nn_map`); ``homography`` maps image 1
    to image 2 pixels. The distance that classifies a match is ``|H p1 - p2_NN|`` in image 2.
    """
    if not near_px >= eps:
        raise ValueError(f"near_px ({near_px}) must be >= eps ({eps})")
    pair = _shared_pair(kp1, desc1, kp2, desc2, homography, shape1, shape2)
    if pair.dd.shape[0] == 0 or pair.dd.shape[1] == 0:
        return NNErrorAnatomy(0, 0, 0, 0)
    has = pair.geo12.min(axis=1) <= eps
    g = pair.geo12[np.arange(len(pair.p1)), pair.dd.argmin(axis=1)][has]  # positives' NN distances
    correct = int((g <= eps).sum())
    near = int((g <= near_px).sum()) - correct
    return NNErrorAnatomy(len(g), correct, near, len(g) - correct - near)


def image_corners(shape: tuple[int, int]) -> np.ndarray:
    """(4, 2) float64 corners of an image, pixel-centre coordinates: (0,0), (0,H-1), (W-1,0), (W-1,H-1)."""
    h, w = shape
    return np.array([[0, 0], [0, h - 1], [w - 1, 0], [w - 1, h - 1]], dtype=np.float64)


def corner_error(estimate: np.ndarray | None, truth: np.ndarray, shape: tuple[int, int]) -> float:
    """Mean distance between image corners warped by ``estimate`` and by ``truth``; inf if no estimate."""
    if estimate is None:
        return float("inf")
    c = image_corners(shape)
    a, fa = warp(c, _as_homography(estimate))
    b, _ = warp(c, _as_homography(truth))
    if not fa.all() or not np.isfinite(a).all():
        return float("inf")
    return float(np.linalg.norm(a - b, axis=1).mean())


@dataclass
class HomographyEstimate:
    """Result of matching + RANSAC on one pair."""

    homography: np.ndarray | None  # 3x3 or None when it failed
    matches: np.ndarray  # (M, 2) mutual-NN index pairs
    inliers: np.ndarray  # (M,) bool RANSAC inlier mask (all False on failure)
    error: float  # mean corner error (inf on failure)


def estimate_homography(
    kp1: np.ndarray,
    desc1: np.ndarray,
    kp2: np.ndarray,
    desc2: np.ndarray,
    truth: np.ndarray,
    shape: tuple[int, int],
    ransac_threshold: float = 3.0,
    seed: int = 0,
    distances: np.ndarray | None = None,
) -> HomographyEstimate:
    """Mutual-NN matching and ``cv2.findHomography(..., cv2.RANSAC)``; error vs ``truth`` on ``shape`` corners.

    ``distances``: the (N1, N2) :func:`descriptor_distances`, if already computed.
    """
    p1, p2 = _as_points(kp1, "kp1"), _as_points(kp2, "kp2")
    if distances is not None and distances.shape == (len(p1), len(p2)):
        matches = mutual_nearest(distances)
    else:
        matches = mutual_nn_matches(desc1, desc2)
    inliers = np.zeros(len(matches), bool)
    if len(matches) < 4:
        return HomographyEstimate(None, matches, inliers, float("inf"))
    cv2.setRNGSeed(seed)
    src = p1[matches[:, 0]].astype(np.float32)
    dst = p2[matches[:, 1]].astype(np.float32)
    h, mask = cv2.findHomography(src, dst, cv2.RANSAC, ransac_threshold)
    if h is None or h.shape != (3, 3) or not np.isfinite(h).all():
        return HomographyEstimate(None, matches, inliers, float("inf"))
    if mask is not None:
        inliers = mask.ravel().astype(bool)
    return HomographyEstimate(h, matches, inliers, corner_error(h, truth, shape))


def homography_trial_errors(
    kp1: np.ndarray,
    kp2: np.ndarray,
    matches: np.ndarray,
    truth: np.ndarray,
    shape: tuple[int, int],
    trials: int,
    ransac_threshold: float = 3.0,
    seed: int = 0,
) -> list[float]:
    """Mean corner errors of ``trials`` RANSAC runs on the same matches, each on its own order of them.

    ``cv2.findHomography`` with RANSAC is deterministic for one input, but its random samples follow the order of the
    matches, so a tiny change of the features can move a pair's error a lot (0.7 -> 2.2 px has been seen). Trial 0
    keeps the given order (it equals :func:`estimate_homography`'s error); trial ``t >= 1`` shuffles the matches
    with ``numpy.random.default_rng((seed, t))``. The share of trials within ``eps`` is a per-pair accuracy with
    RANSAC's own noise averaged out. Points are (x, y) px; ``matches`` (M, 2) index pairs; inf marks a failure.
    """
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    p1, p2 = _as_points(kp1, "kp1"), _as_points(kp2, "kp2")
    m = np.asarray(matches, dtype=np.int64).reshape(-1, 2)
    if len(m) < 4:
        return [float("inf")] * trials
    out = []
    for t in range(trials):
        order = np.arange(len(m)) if t == 0 else np.random.default_rng((seed, t)).permutation(len(m))
        cv2.setRNGSeed(seed)
        src = p1[m[order, 0]].astype(np.float32)
        dst = p2[m[order, 1]].astype(np.float32)
        h, _ = cv2.findHomography(src, dst, cv2.RANSAC, ransac_threshold)
        ok = h is not None and h.shape == (3, 3) and np.isfinite(h).all()
        out.append(corner_error(h, truth, shape) if ok else float("inf"))
    return out


def auc_score(error: float | None, max_eps: float) -> float:
    """One pair's share of the homography AUC at ``max_eps`` px: ``max(0, 1 - error / max_eps)``; 0 for a failed
    estimate (error inf, or None as in the JSON files)."""
    if not max_eps > 0:
        raise ValueError(f"max_eps must be > 0, got {max_eps}")
    if error is None or not np.isfinite(error):
        return 0.0
    if error < 0:
        raise ValueError(f"corner error must be >= 0, got {error}")
    return max(0.0, 1.0 - float(error) / max_eps)


def homography_auc(errors: Sequence[float | None] | np.ndarray, max_eps: float = 5.0) -> float:
    """Area under the fraction-of-pairs-with-error-<=-t curve for t in [0, max_eps], divided by max_eps.

    ``errors``: per-pair mean corner errors in px (inf or None: failed). Empty input raises ``ValueError``.
    """
    if len(errors) == 0:
        raise ValueError("homography_auc needs at least one pair")
    return float(np.mean([auc_score(e, max_eps) for e in errors]))


def homography_correct(error: float, eps: float) -> bool:
    """Correct when the mean corner error is ``<= eps`` (a failed estimate has error inf)."""
    return bool(error <= eps)
