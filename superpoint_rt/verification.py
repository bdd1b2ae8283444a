"""Geometric verification of matches between two images: the matches a robot can trust.

Descriptor matching alone (:func:`superpoint_rt.matching.match`) pairs points that merely *look* alike; a repeated
texture or a bland patch gives pairs that jump across the frame. :func:`verify_matches` keeps only the pairs that
pass, in this order,

1. the **descriptor gate**: L2 descriptor distance ``<= max_descriptor_distance``;
2. the **displacement gate**: the point moved ``<= max_displacement`` pixels between the two images;
3. **RANSAC** (OpenCV) on the survivors, fitting one model to the pair of images:

   * ``"fundamental"`` (the default): a fundamental matrix F, the constraint of any rigid camera motion through a
     3-D scene; a match is an inlier when each point lies within the threshold (1 px by default) of the epipolar
     line of the other (OpenCV's ``FM_RANSAC`` error);
   * ``"homography"``: a homography H, exact for a **planar scene** or a camera that **only rotates**; an inlier's
     point in image b lies within the threshold (1.5 px by default) of ``H p_a``;
   * None: no RANSAC, the gates only.

Each gate and the model are switched on and off by one field of :class:`VerificationConfig`.

**Too few matches for RANSAC** (fewer than 8 for F, 4 for H reach it): the gates still apply and RANSAC is skipped;
the survivors are kept unverified (``Verification.ransac == "too_few"``). With only a handful of matches no model
can tell right from wrong; a caller that must not act on unverified matches checks that status. Just above those
minimums RANSAC has little power too (8 points always fit *some* F closely): trust a fit by its inlier count.

**No model found** (OpenCV's RANSAC returns nothing from 8+/4+ matches, e.g. all points on a line): every match that
reached RANSAC is rejected (``ransac == "no_model"``); there is no geometry to vouch for them.

**Degenerate motion.** When the scene is a plane, or the camera only rotates (no translation), every match obeys a
homography and F is ill-conditioned: a whole family of F fits the true matches, RANSAC picks one with an arbitrary
epipole, and a wrong match lying along one of its epipolar lines passes. Use ``model="homography"`` there (the
bundled sample video is such a scene). Forward motion has the same weakness in another form: the epipolar lines
radiate from the focus of expansion, so a match that slides along its radial line passes F at any distance; the
displacement gate is what stops long slides. F checks one direction per match (across the epipolar line), H both:
between consecutive video frames the camera moves little and a homography often fits a 3-D scene's true matches
within 1.5 px too; then ``model="homography"`` rejects far more of the wrong ones (on our rendered 3-D clip it left
under 1% of track steps off by more than 2 px where F left about 5%; README, "Tracks a robot can trust"). Near
objects seen from a translating camera break that: H then ends right tracks (it never accepts wrong ones for it).

Example::

    from superpoint_rt.verification import VerificationConfig, match_verified

    v = match_verified(fa.keypoints, fa.descriptors, fb.keypoints, fb.descriptors)  # mutual NN, then F-RANSAC
    v.matches  # (K, 2) pairs that passed; v.candidates[~v.inliers] were rejected (v.rejected_by says by what)
    planar = VerificationConfig(model="homography", max_displacement=40.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .matching import match

__all__ = [
    "DEFAULT_RANSAC_THRESHOLD",
    "MIN_MATCHES",
    "MODELS",
    "REJECT_DESCRIPTOR",
    "REJECT_DISPLACEMENT",
    "REJECT_NAMES",
    "REJECT_RANSAC",
    "Verification",
    "VerificationConfig",
    "match_verified",
    "verify_matches",
]

#: the RANSAC models
MODELS: tuple[str, ...] = ("fundamental", "homography")
#: the fewest matches RANSAC runs on, per model (below: the gates only, ``ransac == "too_few"``)
MIN_MATCHES: dict[str, int] = {"fundamental": 8, "homography": 4}
#: the RANSAC inlier threshold (px) when ``VerificationConfig.ransac_threshold`` is None, per model: the best trade-off
#: between wrong steps kept and right steps lost on our two clips (README, bench/results/tracks_cpu.json)
DEFAULT_RANSAC_THRESHOLD: dict[str, float] = {"fundamental": 1.0, "homography": 1.5}

#: ``Verification.rejected_by`` codes: 0 kept, then the first gate that rejected the match
KEPT, REJECT_DESCRIPTOR, REJECT_DISPLACEMENT, REJECT_RANSAC = 0, 1, 2, 3
REJECT_NAMES: dict[int, str] = {
    KEPT: "kept",
    REJECT_DESCRIPTOR: "descriptor",
    REJECT_DISPLACEMENT: "displacement",
    REJECT_RANSAC: "ransac",
}


def _number(name: str, value: Any, *, low: float, high: float = math.inf, low_open: bool = True) -> float:
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(v) or v > high or (v <= low if low_open else v < low):
        bound = f"({low}, {high}]" if high < math.inf else f"> {low}" if low_open else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return v


@dataclass(frozen=True)
class VerificationConfig:
    """What :func:`verify_matches` checks (see the module docstring); validated on construction.

    ``VerificationConfig.off()`` switches everything off; ``dataclasses.replace(cfg, ...)`` changes one field.

    Raises:
        ValueError / TypeError: a value out of range or of the wrong type (the message names the field).
    """

    #: RANSAC model per image pair: "fundamental" (general motion, the default), "homography" (a planar scene or a
    #: rotation-only camera: F is ill-conditioned there), or None (no RANSAC: the gates only)
    model: str | None = "fundamental"
    #: RANSAC inlier threshold, px: distance to the epipolar line (F) or reprojection distance in image b (H);
    #: None: the model's default (:data:`DEFAULT_RANSAC_THRESHOLD`: 1.0 for F, 1.5 for H), see :attr:`threshold`
    ransac_threshold: float | None = None
    #: RANSAC confidence that a sample free of outliers was drawn, in (0, 1); more means more iterations
    confidence: float = 0.999
    #: cap on RANSAC iterations (OpenCV's maxIters); 2000 takes well under a millisecond per frame pair at 100s
    #: of matches
    max_iters: int = 2000
    #: displacement gate: largest distance in px a point may move between the two images, None: no gate (the
    #: default: how far points move depends on the camera, the frame rate and the resolution; see the README)
    max_displacement: float | None = None
    #: descriptor gate: largest L2 distance between the two unit descriptors (0 to 2), None: no gate. 0.7 is the
    #: tracker's and the matcher's own threshold (cos >= 0.755): a no-op after them, a check on matches from elsewhere
    max_descriptor_distance: float | None = 0.7

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        if self.model is not None and self.model not in MODELS:
            raise ValueError(f"model must be one of {list(MODELS)} or None, got {self.model!r}")
        if self.ransac_threshold is not None:
            put("ransac_threshold", _number("ransac_threshold", self.ransac_threshold, low=0.0))
        put("confidence", _number("confidence", self.confidence, low=0.0, high=1.0))
        if self.confidence >= 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence!r}")
        if isinstance(self.max_iters, bool) or not isinstance(self.max_iters, (int, np.integer)) or self.max_iters < 1:
            raise ValueError(f"max_iters must be an integer >= 1, got {self.max_iters!r}")
        put("max_iters", int(self.max_iters))
        if self.max_displacement is not None:
            put("max_displacement", _number("max_displacement", self.max_displacement, low=0.0))
        if self.max_descriptor_distance is not None:
            put(
                "max_descriptor_distance",
                _number("max_descriptor_distance", self.max_descriptor_distance, low=0.0, high=2.0, low_open=False),
            )

    @classmethod
    def off(cls) -> VerificationConfig:
        """No gate and no RANSAC: every match passes (the tracker's behaviour before verification existed)."""
        return cls(model=None, max_displacement=None, max_descriptor_distance=None)

    @property
    def threshold(self) -> float | None:
        """The RANSAC threshold in px that applies: ``ransac_threshold``, or the model's default (None: no model)."""
        if self.model is None:
            return None
        return DEFAULT_RANSAC_THRESHOLD[self.model] if self.ransac_threshold is None else self.ransac_threshold

    @property
    def enabled(self) -> bool:
        """Whether anything is checked at all."""
        return self.model is not None or self.max_displacement is not None or self.max_descriptor_distance is not None


@dataclass(frozen=True)
class Verification:
    """The outcome of :func:`verify_matches` for one image pair.

    Attributes:
        candidates: (M, 2) int64 the input pairs (i into a, j into b), in their order.
        inliers: (M,) bool which candidates passed every check.
        rejected_by: (M,) uint8 0 for a kept match, else the first check that rejected it (1 descriptor gate,
            2 displacement gate, 3 RANSAC; :data:`REJECT_NAMES`).
        model: the fitted 3x3 float64 F or H (None: no RANSAC ran, or it found no model).
        ransac: "fitted", "too_few" (fewer than :data:`MIN_MATCHES` passed the gates: RANSAC skipped, the survivors
            kept unverified), "no_model" (RANSAC found none: every match that reached it rejected) or "off".
        model_name: the config's model ("fundamental", "homography" or None).
    """

    candidates: np.ndarray
    inliers: np.ndarray
    rejected_by: np.ndarray
    model: np.ndarray | None
    ransac: str
    model_name: str | None

    @property
    def matches(self) -> np.ndarray:
        """(K, 2) int64 the pairs that passed."""
        return self.candidates[self.inliers]

    @property
    def outliers(self) -> np.ndarray:
        """(M - K, 2) int64 the pairs that were rejected."""
        return self.candidates[~self.inliers]

    def counts(self) -> dict[str, int]:
        """{"candidates", "kept", "descriptor", "displacement", "ransac"}: how many matches each check rejected."""
        out = {"candidates": len(self.candidates)}
        for code, name in REJECT_NAMES.items():
            out[name] = int((self.rejected_by == code).sum())
        return out


def _pairs(matches: Any) -> np.ndarray:
    m = np.asarray(matches)
    if m.size == 0:
        return np.zeros((0, 2), np.int64)
    if m.ndim != 2 or m.shape[1] != 2 or not np.issubdtype(m.dtype, np.integer):
        raise ValueError(f"matches must be (K, 2) integer index pairs, got {m.dtype} {m.shape}")
    return m.astype(np.int64)


def _points(name: str, p: Any) -> np.ndarray:
    a = np.asarray(p, np.float64)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"{name} must be (N, 2) x, y, got shape {a.shape}")
    return a


def verify_matches(
    kpts_a: Any,
    kpts_b: Any,
    matches: Any,
    distances: Any = None,
    config: VerificationConfig | None = None,
) -> Verification:
    """Check matches between two images by descriptor distance, displacement and RANSAC (module docstring).

    Args:
        kpts_a: (N, 2) x, y keypoints of image a. kpts_b: (M, 2) of image b.
        matches: (K, 2) integer pairs (i into kpts_a, j into kpts_b), e.g. from :func:`superpoint_rt.matching.match`
            or a ``cv2.BFMatcher`` (``(m.queryIdx, m.trainIdx)``).
        distances: (K,) descriptor L2 distances of the pairs (``match(..., return_distances=True)``), read by the
            descriptor gate only; None: that gate is skipped (there is nothing to check), the others still apply.
        config: what to check (None: the defaults, ``VerificationConfig()``).

    Returns:
        :class:`Verification` (``.matches``: the pairs that passed).
    Raises:
        ValueError: bad shapes or indices out of range.
    """
    cfg = VerificationConfig() if config is None else config
    if not isinstance(cfg, VerificationConfig):
        raise TypeError(f"config must be a VerificationConfig or None, got {type(cfg).__name__}")
    ka, kb = _points("kpts_a", kpts_a), _points("kpts_b", kpts_b)
    m = _pairs(matches)
    if len(m) and (m.min() < 0 or m[:, 0].max() >= len(ka) or m[:, 1].max() >= len(kb)):
        raise ValueError(f"match indices out of range for {len(ka)} and {len(kb)} keypoints")
    rejected = np.zeros(len(m), np.uint8)
    if cfg.max_descriptor_distance is not None and distances is not None:
        d = np.asarray(distances, np.float64).reshape(-1)
        if d.shape[0] != len(m):
            raise ValueError(f"distances {d.shape} do not match {len(m)} matches")
        rejected[~(d <= cfg.max_descriptor_distance)] = REJECT_DESCRIPTOR  # NaN fails too
    pa, pb = ka[m[:, 0]], kb[m[:, 1]]
    if cfg.max_displacement is not None:
        moved = np.linalg.norm(pb - pa, axis=1)
        rejected[(rejected == KEPT) & ~(moved <= cfg.max_displacement)] = REJECT_DISPLACEMENT
    model: np.ndarray | None = None
    status = "off"
    if cfg.model is not None:
        idx = np.flatnonzero(rejected == KEPT)
        if len(idx) < MIN_MATCHES[cfg.model]:
            status = "too_few"
        else:
            model, mask = _ransac(cfg, pa[idx], pb[idx])
            if model is None:
                status = "no_model"
                rejected[idx] = REJECT_RANSAC
            else:
                status = "fitted"
                rejected[idx[~mask]] = REJECT_RANSAC
    return Verification(m, rejected == KEPT, rejected, model, status, cfg.model)


def _ransac(cfg: VerificationConfig, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """OpenCV's robust fit, deterministic (a fixed seed per call): ``FM_RANSAC`` for F (on our clips it kept fewer
    wrong steps than OpenCV's USAC variants, which keep more right ones), ``USAC_DEFAULT`` for H (local optimisation:
    fewer wrong steps *and* more right ones than ``RANSAC``). Returns (model or None, inlier mask)."""
    pts_a, pts_b = src.reshape(-1, 1, 2), dst.reshape(-1, 1, 2)
    thr = float(cfg.threshold or 0.0)  # a model is set here, so the threshold is too
    if cfg.model == "fundamental":
        model, mask = cv2.findFundamentalMat(pts_a, pts_b, cv2.FM_RANSAC, thr, cfg.confidence, cfg.max_iters)
    else:
        model, mask = cv2.findHomography(pts_a, pts_b, cv2.USAC_DEFAULT, thr, None, cfg.max_iters, cfg.confidence)
    if model is None or model.shape != (3, 3) or mask is None:
        return None, np.zeros(len(src), bool)
    return np.asarray(model, np.float64), np.asarray(mask).reshape(-1).astype(bool)


def match_verified(
    kpts_a: Any,
    desc_a: Any,
    kpts_b: Any,
    desc_b: Any,
    *,
    max_distance: float | None = 0.7,
    ratio: float | None = None,
    mutual: bool = True,
    device: Any = None,
    verification: VerificationConfig | None = None,
) -> Verification:
    """:func:`superpoint_rt.matching.match` (same ``max_distance``, ``ratio``, ``mutual``, ``device``), then
    :func:`verify_matches` with ``verification`` (None: the defaults, fundamental-matrix RANSAC).

    Args:
        kpts_a, desc_a: (N, 2) keypoints and (N, D) descriptors of image a (e.g. ``Features.keypoints`` /
            ``.descriptors``). kpts_b, desc_b: the same for image b.
    Returns:
        :class:`Verification`: ``.candidates`` are the descriptor matches, ``.matches`` those that passed.
    """
    pairs, dist = match(
        desc_a, desc_b, max_distance=max_distance, ratio=ratio, mutual=mutual, device=device, return_distances=True
    )
    return verify_matches(kpts_a, kpts_b, pairs, dist, verification)
