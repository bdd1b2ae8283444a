"""Post-processing ops (C++ on the CPU): heatmap, nms, detect, sample_descriptors.

Each function validates its inputs here (clear TypeError / ValueError), then calls the compiled
``superpoint_rt._C`` with the GIL released. ``superpoint_rt.ops.reference`` holds NumPy versions of
the same ops with the same signatures (the test oracles).

Conventions: keypoints are (x, y) = (column, row) in pixels of the full-resolution heatmap, pixel
centres at integers. NaN/inf in logits or heat is detected inside the C++ pass (no extra sweep in
Python) and raises ValueError all the same.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np

from superpoint_rt._ext import ext_available, load_ext
from superpoint_rt.ops._checks import (
    CONVENTIONS,
    INTERPOLATIONS,
    as_float_array,
    check_choice,
    check_finite,
    check_nonneg_int,
    check_spatial,
    check_threshold,
    check_valid_size,
)

__all__ = [
    "CONVENTIONS",
    "INTERPOLATIONS",
    "build_info",
    "detect",
    "ext_available",
    "heatmap",
    "nms",
    "sample_descriptors",
]

DetectOutput = tuple[np.ndarray, np.ndarray]


def build_info() -> dict[str, Any]:
    """How ``superpoint_rt._C`` was built.

    Returns:
        {"version": str, "cuda": bool (CUDA sources compiled in), "cuda_archs": list[str],
         "sanitize": bool (ASan/UBSan build), "compiler": str}.
    Raises:
        ImportError: the extension is not built.
    """
    return dict(load_ext().build_info())


def heatmap(logits: np.ndarray) -> np.ndarray:
    """Detector logits -> full-resolution keypoint heatmap.

    Softmax over the 65 channels in float32 (max-subtracted), the dustbin (channel 64) dropped, then
    depth-to-space: ``heat[b, 8*i + k // 8, 8*j + k % 8] = prob[b, k, i, j]``.

    Args:
        logits: float32 or float16, (B, 65, Hc, Wc) or (65, Hc, Wc).
    Returns:
        float32 (B, 8*Hc, 8*Wc) or (8*Hc, 8*Wc).
    Raises:
        TypeError: not an ndarray or not float32/float16.
        ValueError: wrong ndim, not 65 channels, Hc or Wc == 0, NaN/inf in logits.
    """
    x = as_float_array(logits, "heatmap", "logits", (3, 4), allow_float16=True)
    if x.shape[-3] != 65:
        raise ValueError(f"heatmap: logits must have 65 channels (64 cell pixels + dustbin) in dim -3, got {x.shape}")
    check_spatial(x.shape[-2], x.shape[-1], "heatmap", "logits")
    return load_ext().heatmap(x)


def nms(heat: np.ndarray, conf_threshold: float = 0.015, nms_radius: int = 4) -> np.ndarray:
    """Greedy non-maximum suppression.

    Candidates are pixels with ``heat >= conf_threshold`` (">=", compared in float32, as the
    original demo). They are visited by descending score, equal scores by ascending linear index
    ``y * W + x``; a candidate that is not suppressed is kept and suppresses every candidate within
    Chebyshev distance ``nms_radius`` (the (2r+1)^2 square). ``nms_radius=0`` keeps all candidates.
    O(N log N) in the number of candidates.

    Args:
        heat: float32 (H, W).
        conf_threshold: detection threshold (not NaN).
        nms_radius: r >= 0.
    Returns:
        int64 (K,) linear indices ``y * W + x`` of the kept points, in processing order.
    Raises:
        TypeError / ValueError: bad dtype, shape, H or W == 0, NaN/inf in heat, negative radius.
    """
    x = as_float_array(heat, "nms", "heat", (2,))
    check_spatial(x.shape[0], x.shape[1], "nms", "heat")
    thr = check_threshold(conf_threshold, "nms")
    r = check_nonneg_int(nms_radius, "nms", "nms_radius")
    return load_ext().nms(x, thr, r)


@overload
def detect(
    heat: np.ndarray[tuple[int, int], Any],
    conf_threshold: float = ...,
    nms_radius: int = ...,
    border: int = ...,
    max_keypoints: int | None = ...,
    valid_size: tuple[int, int] | None = ...,
) -> DetectOutput: ...


@overload
def detect(
    heat: np.ndarray[tuple[int, int, int], Any],
    conf_threshold: float = ...,
    nms_radius: int = ...,
    border: int = ...,
    max_keypoints: int | None = ...,
    valid_size: tuple[int, int] | None = ...,
) -> list[DetectOutput]: ...


def detect(
    heat: np.ndarray,
    conf_threshold: float = 0.015,
    nms_radius: int = 4,
    border: int = 4,
    max_keypoints: int | None = None,
    valid_size: tuple[int, int] | None = None,
) -> DetectOutput | list[DetectOutput]:
    """Keypoints from a heatmap: NMS, then border removal, then the top ``max_keypoints``.

    Steps: ``nms(heat, conf_threshold, nms_radius)`` on the whole heatmap; remove points with
    ``x < border``, ``x >= w - border``, ``y < border`` or ``y >= h - border`` where ``(h, w)`` is
    ``valid_size`` (default the heatmap size; pass the unpadded image size when the image was padded
    to a multiple of 8); keep the first ``max_keypoints``. Border removal comes after NMS (as in the
    original demo): a point in the border still suppresses its neighbours.

    Args:
        heat: float32 (H, W), or (B, H, W) for a batch.
        conf_threshold, nms_radius: as in :func:`nms`.
        border: >= 0 pixels removed at each side.
        max_keypoints: None (all) or an int >= 0.
        valid_size: None or (h, w) with 1 <= h <= H, 1 <= w <= W.
    Returns:
        (keypoints float32 (N, 2) as (x, y), scores float32 (N,)) sorted by descending score (equal
        scores: lower linear index first); for a batch, a list of B such tuples.
    """
    x = as_float_array(heat, "detect", "heat", (2, 3))
    h, w = x.shape[-2], x.shape[-1]
    check_spatial(h, w, "detect", "heat")
    thr = check_threshold(conf_threshold, "detect")
    r = check_nonneg_int(nms_radius, "detect", "nms_radius")
    b = check_nonneg_int(border, "detect", "border")
    k = -1 if max_keypoints is None else check_nonneg_int(max_keypoints, "detect", "max_keypoints")
    vh, vw = check_valid_size(valid_size, h, w, "detect")
    return load_ext().detect(x, thr, r, b, k, vh, vw)


def sample_descriptors(
    coarse: np.ndarray,
    keypoints: np.ndarray,
    interpolation: str = "bilinear",
    convention: str = "center",
) -> np.ndarray:
    """Samples the coarse descriptor map at keypoints and L2-normalises each row.

    Where pixel x reads the coarse map (column coordinate u; rows likewise with y and Hc):

    - ``"center"``: ``u = (x - 3.5) / 8`` (cell centres), taps clamped to the edge;
    - ``"magicleap"``: ``u = x / 8 - 0.5`` with zero padding (the original demo's
      ``grid_sample(align_corners=False)``);
    - ``"superglue"``: ``u = (x - 3.5) * (Wc - 1) / (8 * Wc - 4.5)``, taps clamped to the edge
      (SuperGlue/LightGlue's ``align_corners=True`` formula; for bilinear and keypoints inside the
      image this normalises to the same descriptor as their zero padding).

    ``interpolation="bilinear"`` uses 2x2 taps, ``"bicubic"`` 4x4 Keys cubic convolution with
    a = -0.75 (PyTorch's grid_sample). Keypoints anywhere are allowed: outside the map the padding
    rule applies (edge value or zero), reads never leave the array. A zero descriptor stays zero.

    Args:
        coarse: float32 or float16 (C, Hc, Wc).
        keypoints: float32 (N, 2) as (x, y) in pixels of the 8*Hc x 8*Wc image; N may be 0.
    Returns:
        float32 (N, C), rows of unit L2 norm (or zero).
    Raises:
        TypeError / ValueError: bad dtype or shape, C/Hc/Wc == 0, NaN/inf in keypoints, NaN/inf in
        the coarse values a keypoint reads (or a bicubic overshoot beyond float32), unknown
        interpolation or convention. (Coarse values no keypoint reads are not scanned: that would
        cost a full pass over the map.)
    """
    op = "sample_descriptors"
    check_choice(interpolation, INTERPOLATIONS, op, "interpolation")
    check_choice(convention, CONVENTIONS, op, "convention")
    c = as_float_array(coarse, op, "coarse", (3,), allow_float16=True)
    if c.shape[0] == 0:
        raise ValueError(f"{op}: coarse must have at least one channel, got shape {c.shape}")
    check_spatial(c.shape[1], c.shape[2], op, "coarse")
    k = as_float_array(keypoints, op, "keypoints", (2,))
    if k.shape[1] != 2:
        raise ValueError(f"{op}: keypoints must have shape (N, 2) as (x, y), got {k.shape}")
    check_finite(k, op, "keypoints")
    return load_ext().sample_descriptors(c, k, interpolation, convention)
