"""Detector metrics on held-out Synthetic Shapes: the paper's MagicPoint evaluation.

    superpoint-rt eval synthetic --method superpoint fast harris shi --weights magicpoint-interim [--noise]

Images are drawn by :func:`superpoint_rt.train.synthetic.generate_shape` with a seed that training never uses
(:data:`HELD_OUT_SEED`; training draws from its config ``seed`` and ``val_seed``), each primitive equally often.
Every image gets one random homography (``HomographyConfig``, rotations up to 45 degrees, no area outside the
source) for repeatability; ``noise=True`` adds the training photometric augmentation (brightness, contrast,
Gaussian noise, speckle, shade, motion blur) to both images independently (the paper's "noisy" column).

Metrics (points (x, y) = (column, row), pixel centres at integers):

- **detection mAP** against the true corners: the detections of all images are ranked by score; a detection is
  correct when an as-yet unclaimed true corner of its image lies within ``eps`` pixels (claims go greedily by
  descending score, the nearest free corner first); AP = sum_k precision@k * correct_k / (number of corners).
  A method scores its full candidate list here (low thresholds), so AP integrates the whole PR curve.
- **precision / recall** at the method's operating point (SuperPoint: its default threshold 0.015; OpenCV
  detectors: their defaults).
- **repeatability** and **localisation error** between the image and its warp, at the operating point and at
  most ``top_k`` points each
  (:func:`superpoint_rt.eval.metrics.repeatability`), and the mean number of detections.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from superpoint_rt.eval.methods import Method
from superpoint_rt.eval.metrics import repeatability
from superpoint_rt.geometry import HomographyConfig, sample_homography, warp_image

#: Seed of the held-out synthetic set (training uses the config's ``seed`` and ``val_seed``).
HELD_OUT_SEED = 20_181_017


@dataclass
class SyntheticSample:
    """One held-out image, its true corners and a warped copy.

    Attributes:
        image: (H, W) uint8.
        points: (N, 2) float32 true corners, x, y.
        warped: (H, W) uint8, ``warp_image(image, homography)`` (then noise when asked).
        homography: (3, 3) float64, image -> warped pixels.
        primitive: the Synthetic Shapes primitive drawn.
    """

    image: np.ndarray
    points: np.ndarray
    warped: np.ndarray
    homography: np.ndarray
    primitive: str


def synthetic_benchmark(
    n: int, seed: int = HELD_OUT_SEED, size: tuple[int, int] = (120, 160), noise: bool = False
) -> list[SyntheticSample]:
    """``n`` held-out samples, deterministic in ``(n, seed, size, noise)``; primitives in turn."""
    from superpoint_rt.train.augment import PhotometricConfig, photometric_augment
    from superpoint_rt.train.synthetic import PRIMITIVES, ShapesConfig, generate_shape

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    cfg = ShapesConfig(height=size[0], width=size[1])
    hcfg = HomographyConfig(max_angle=0.785)
    photo = PhotometricConfig()
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        img, pts, prim = generate_shape(rng, cfg, PRIMITIVES[i % len(PRIMITIVES)])
        hmat = sample_homography(size[0], size[1], rng, hcfg)
        warped = warp_image(img, hmat)
        if noise:
            img = np.clip(photometric_augment(img, rng, photo), 0, 255).round().astype(np.uint8)
            warped = np.clip(photometric_augment(warped, rng, photo), 0, 255).round().astype(np.uint8)
        out.append(SyntheticSample(img, pts, warped, hmat, prim))
    return out


def claim_detections(keypoints: np.ndarray, scores: np.ndarray, truth: np.ndarray, eps: float) -> np.ndarray:
    """(N,) bool: which detections claim a true corner within ``eps`` px (greedy by score, one claim each).

    Args:
        keypoints: (N, 2) x, y; scores: (N,); truth: (M, 2) x, y.
    """
    kp = np.asarray(keypoints, np.float64).reshape(-1, 2)
    gt = np.asarray(truth, np.float64).reshape(-1, 2)
    correct = np.zeros(len(kp), bool)
    if len(kp) == 0 or len(gt) == 0:
        return correct
    dist = np.sqrt(((kp[:, None, :] - gt[None, :, :]) ** 2).sum(-1))
    free = np.ones(len(gt), bool)
    for i in np.argsort(-np.asarray(scores, np.float64), kind="stable"):
        d = np.where(free, dist[i], np.inf)
        j = int(np.argmin(d))
        if d[j] <= eps:
            free[j] = False
            correct[i] = True
    return correct


def average_precision(correct: np.ndarray, scores: np.ndarray, num_truth: int) -> float:
    """AP of detections ranked by descending score: sum_k precision@k * correct_k / ``num_truth`` (nan if 0)."""
    if num_truth == 0:
        return float("nan")
    c = np.asarray(correct, np.float64)[np.argsort(-np.asarray(scores, np.float64), kind="stable")]
    if len(c) == 0:
        return 0.0
    precision = np.cumsum(c) / np.arange(1, len(c) + 1)
    return float((precision * c).sum() / num_truth)


def _at_operating_point(scores: np.ndarray, threshold: float | None) -> np.ndarray:
    """(N,) bool: detections with score >= ``threshold`` (all of them when None)."""
    sc = np.asarray(scores)
    return np.ones(len(sc), bool) if threshold is None else sc >= threshold


@dataclass
class SyntheticResult:
    """Detector metrics of one method on the held-out synthetic set (see the module docstring)."""

    method: str
    images: int
    noise: bool
    eps: float
    map: float
    precision: float
    recall: float
    repeatability: float
    localization_error: float
    mean_detections: float
    per_primitive_map: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_synthetic(
    method: Method,
    samples: list[SyntheticSample],
    eps: float = 3.0,
    top_k: int = 300,
    operating_threshold: float | None = None,
    noise: bool = False,
    progress: bool = True,
) -> SyntheticResult:
    """Detection mAP, precision/recall, repeatability of ``method`` on ``samples``.

    Args:
        method: returns (keypoints, scores, descriptors) for an (H, W) uint8 image; it should return its full
            candidate list (low threshold): AP ranks all of them.
        operating_threshold: precision, recall and repeatability use only detections with score >= this
            (None: all of them).
        top_k: repeatability keeps at most this many points per image (by score).
    """
    all_correct, all_scores, prims = [], [], []
    n_truth = 0
    tp = 0
    reps, errs, counts = [], [], []
    for s in tqdm(samples, desc=f"synthetic {method.name}", disable=not progress, leave=False):
        kp, sc, _ = method(s.image)
        ok = claim_detections(kp, sc, s.points, eps)
        all_correct.append(ok)
        all_scores.append(np.asarray(sc, np.float64))
        prims.append(s.primitive)
        n_truth += len(s.points)
        keep = _at_operating_point(sc, operating_threshold)
        tp += int(ok[keep].sum())
        counts.append(int(keep.sum()))
        kp2, sc2, _ = method(s.warped)
        keep2 = _at_operating_point(sc2, operating_threshold)
        shape = s.image.shape[:2]
        r = repeatability(kp[keep], kp2[keep2], s.homography, shape, shape, eps, sc[keep], sc2[keep2], top_k)
        if not np.isnan(r.repeatability):
            reps.append(r.repeatability)
        if not np.isnan(r.localization_error):
            errs.append(r.localization_error)
    nd = sum(counts)
    correct, scores = np.concatenate(all_correct), np.concatenate(all_scores)
    per_prim: dict[str, float] = {}
    for p in sorted(set(prims)):
        idx = [i for i, q in enumerate(prims) if q == p]
        nt = sum(len(samples[i].points) for i in idx)
        if nt:
            per_prim[p] = average_precision(
                np.concatenate([all_correct[i] for i in idx]), np.concatenate([all_scores[i] for i in idx]), nt
            )
    return SyntheticResult(
        method=method.name,
        images=len(samples),
        noise=noise,
        eps=eps,
        map=average_precision(correct, scores, n_truth),
        precision=tp / nd if nd else float("nan"),
        recall=tp / n_truth if n_truth else float("nan"),
        repeatability=float(np.mean(reps)) if reps else float("nan"),
        localization_error=float(np.mean(errs)) if errs else float("nan"),
        mean_detections=nd / len(counts) if counts else 0.0,
        per_primitive_map=per_prim,
    )


def synthetic_table(results: list[SyntheticResult]) -> str:
    """A Markdown table of :class:`SyntheticResult` rows."""
    lines = [
        "| Method | Images | Noise | mAP | Precision | Recall | Rep. | MLE | Detections |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.method} | {r.images} | {'yes' if r.noise else 'no'} | {r.map:.3f} | {r.precision:.3f} | "
            f"{r.recall:.3f} | {r.repeatability:.3f} | {r.localization_error:.2f} | {r.mean_detections:.1f} |"
        )
    return "\n".join(lines) + "\n"
