"""NumPy reference implementations of the post-processing ops (the test oracles).

Same names and signatures as :mod:`superpoint_rt.ops`, written for readability (float64 inside,
plain loops where that is clearest), not speed. Also :func:`postprocess_demo_style` (and its first
step, :func:`heatmap_demo_style`), the post-processing of the original authors' demo re-written from
its description; the benchmark uses it as the "reference-style pipeline".

Conventions: keypoints are (x, y) = (column, row), pixel centres at integers.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np

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

CUBIC_A = -0.75  # Keys' a, as PyTorch's grid_sample / upsample bicubic

DetectOutput = tuple[np.ndarray, np.ndarray]


# ---------------------------------------------------------------------------------------------
# heatmap
# ---------------------------------------------------------------------------------------------
def heatmap(logits: np.ndarray) -> np.ndarray:
    """(B, 65, Hc, Wc) or (65, Hc, Wc) float32/float16 -> (B, 8Hc, 8Wc) or (8Hc, 8Wc) float32.

    Softmax over the channels in float64, the dustbin dropped, channel k of cell (i, j) written to
    pixel (8i + k // 8, 8j + k % 8).
    """
    x = as_float_array(logits, "heatmap", "logits", (3, 4), allow_float16=True)
    if x.shape[-3] != 65:
        raise ValueError(f"heatmap: logits must have 65 channels, got {x.shape}")
    check_spatial(x.shape[-2], x.shape[-1], "heatmap", "logits")
    check_finite(x, "heatmap", "logits")
    batched = x.ndim == 4
    z = x.astype(np.float64) if batched else x.astype(np.float64)[None]
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    prob = (e / e.sum(axis=1, keepdims=True))[:, :64]
    b, _, hc, wc = prob.shape
    # prob[b, 8r + c, i, j] -> heat[b, 8i + r, 8j + c]
    heat = prob.reshape(b, 8, 8, hc, wc).transpose(0, 3, 1, 4, 2).reshape(b, 8 * hc, 8 * wc)
    heat = heat.astype(np.float32)
    return heat if batched else heat[0]


# ---------------------------------------------------------------------------------------------
# nms / detect
# ---------------------------------------------------------------------------------------------
def _candidates(heat: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Candidate linear indices and scores in processing order (score desc, index asc)."""
    flat = heat.ravel()
    idx = np.flatnonzero(flat >= np.float32(threshold))  # ascending index
    scores = flat[idx]
    order = np.lexsort((idx, -scores.astype(np.float64)))  # last key is the primary one
    return idx[order], scores[order]


def nms(heat: np.ndarray, conf_threshold: float = 0.015, nms_radius: int = 4) -> np.ndarray:
    """Greedy NMS written as "a candidate is kept iff no earlier kept point lies within Chebyshev
    distance r of it" (a window look-up in an image of kept points).

    Returns int64 (K,) linear indices y * W + x in processing order (score desc, index asc).
    """
    x = as_float_array(heat, "nms", "heat", (2,))
    check_spatial(x.shape[0], x.shape[1], "nms", "heat")
    thr = check_threshold(conf_threshold, "nms")
    r = check_nonneg_int(nms_radius, "nms", "nms_radius")
    check_finite(x, "nms", "heat")
    w = x.shape[1]
    idx, _ = _candidates(x, thr)
    kept_image = np.zeros(x.shape, dtype=bool)
    kept: list[int] = []
    for i in idx.tolist():
        y, xx = divmod(i, w)
        if kept_image[max(0, y - r) : y + r + 1, max(0, xx - r) : xx + r + 1].any():
            continue
        kept_image[y, xx] = True
        kept.append(i)
    return np.asarray(kept, dtype=np.int64)


def _detect_one(heat: np.ndarray, thr: float, r: int, border: int, max_k: int | None, vh: int, vw: int) -> DetectOutput:
    w = heat.shape[1]
    kept = nms(heat, thr, r)
    ys, xs = np.divmod(kept, w)
    inside = (xs >= border) & (xs < vw - border) & (ys >= border) & (ys < vh - border)
    kept = kept[inside]
    if max_k is not None:
        kept = kept[:max_k]
    ys, xs = np.divmod(kept, w)
    keypoints = np.stack([xs, ys], axis=1).astype(np.float32).reshape(-1, 2)
    return keypoints, heat.ravel()[kept].astype(np.float32)


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
    """NMS, then border removal (with valid_size), then the first max_keypoints; see ops.detect."""
    x = as_float_array(heat, "detect", "heat", (2, 3))
    h, w = x.shape[-2], x.shape[-1]
    check_spatial(h, w, "detect", "heat")
    thr = check_threshold(conf_threshold, "detect")
    r = check_nonneg_int(nms_radius, "detect", "nms_radius")
    b = check_nonneg_int(border, "detect", "border")
    k = None if max_keypoints is None else check_nonneg_int(max_keypoints, "detect", "max_keypoints")
    vh, vw = check_valid_size(valid_size, h, w, "detect")
    if x.ndim == 2:
        return _detect_one(x, thr, r, b, k, vh, vw)
    return [_detect_one(x[i], thr, r, b, k, vh, vw) for i in range(x.shape[0])]


# ---------------------------------------------------------------------------------------------
# sample_descriptors
# ---------------------------------------------------------------------------------------------
def coarse_coordinate(p: np.ndarray, size: int, convention: str) -> np.ndarray:
    """Continuous coarse-map coordinate (float64) of pixel coordinates p along an axis of `size` cells."""
    p = np.asarray(p, dtype=np.float64)
    if convention == "center":
        return (p - 3.5) / 8.0
    if convention == "magicleap":
        return p / 8.0 - 0.5
    if convention == "superglue":
        return (p - 3.5) * (size - 1) / (8.0 * size - 4.5)
    raise ValueError(f"unknown convention {convention!r}, expected one of {CONVENTIONS}")


def keys_kernel(d: np.ndarray, a: float = CUBIC_A) -> np.ndarray:
    """Keys cubic convolution kernel W(d) (support |d| < 2)."""
    d = np.abs(np.asarray(d, dtype=np.float64))
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def _axis_taps(u: np.ndarray, size: int, interpolation: str, zero_pad: bool) -> tuple[np.ndarray, np.ndarray]:
    """Tap indices (N, T) (clamped into the map) and weights (N, T) along one axis."""
    # Far-away points: beyond a few cells outside the map nothing changes any more (all taps are
    # outside, or clamped to the same edge); clip so the integer conversion stays in range.
    u = np.clip(u, -4.0, size + 4.0)
    base = np.floor(u)
    offsets = np.array([0, 1]) if interpolation == "bilinear" else np.array([-1, 0, 1, 2])
    taps = base[:, None] + offsets[None, :]  # (N, T) float
    dist = u[:, None] - taps
    weights = (1.0 - np.abs(dist)) if interpolation == "bilinear" else keys_kernel(dist)
    taps_i = taps.astype(np.int64)
    inside = (taps_i >= 0) & (taps_i < size)
    if zero_pad:
        weights = np.where(inside, weights, 0.0)
    return np.clip(taps_i, 0, size - 1), weights


def sample_descriptors_raw(
    coarse: np.ndarray,
    keypoints: np.ndarray,
    interpolation: str = "bilinear",
    convention: str = "center",
) -> np.ndarray:
    """The interpolated descriptors before normalisation, float64 (N, C)."""
    op = "sample_descriptors"
    check_choice(interpolation, INTERPOLATIONS, op, "interpolation")
    check_choice(convention, CONVENTIONS, op, "convention")
    c = as_float_array(coarse, op, "coarse", (3,), allow_float16=True)
    if c.shape[0] == 0:
        raise ValueError(f"{op}: coarse must have at least one channel")
    ch, hc, wc = c.shape
    check_spatial(hc, wc, op, "coarse")
    k = as_float_array(keypoints, op, "keypoints", (2,))
    if k.shape[1] != 2:
        raise ValueError(f"{op}: keypoints must have shape (N, 2), got {k.shape}")
    check_finite(k, op, "keypoints")
    check_finite(c, op, "coarse")
    zero_pad = convention == "magicleap"
    iy, wy = _axis_taps(coarse_coordinate(k[:, 1], hc, convention), hc, interpolation, zero_pad)
    ix, wx = _axis_taps(coarse_coordinate(k[:, 0], wc, convention), wc, interpolation, zero_pad)
    data = c.astype(np.float64)
    out = np.zeros((k.shape[0], ch), dtype=np.float64)
    for a in range(iy.shape[1]):
        for b in range(ix.shape[1]):
            out += (wy[:, a] * wx[:, b])[:, None] * data[:, iy[:, a], ix[:, b]].T
    return out


def sample_descriptors(
    coarse: np.ndarray,
    keypoints: np.ndarray,
    interpolation: str = "bilinear",
    convention: str = "center",
) -> np.ndarray:
    """coarse (C, Hc, Wc) float32/float16, keypoints (N, 2) x, y -> (N, C) float32 unit rows (zero stays zero)."""
    out = sample_descriptors_raw(coarse, keypoints, interpolation, convention)
    norm = np.sqrt((out * out).sum(axis=1, keepdims=True))
    out = np.divide(out, norm, out=np.zeros_like(out), where=norm > 0)
    return out.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# The original demo's post-processing, as a baseline
# ---------------------------------------------------------------------------------------------
def heatmap_demo_style(logits: np.ndarray) -> np.ndarray:
    """The demo's heatmap: (65, Hc, Wc) logits -> (8Hc, 8Wc) float32.

    NumPy softmax the demo's way (``exp`` without max-subtraction, divided by the sum + 1e-5, in
    float32), the dustbin dropped, then reshape/transpose to full resolution. Equals :func:`heatmap`
    up to that 1e-5 and float32 rounding; kept apart because the baseline should do what the demo does.
    """
    semi = np.asarray(logits, dtype=np.float32)
    if semi.ndim != 3 or semi.shape[0] != 65:
        raise ValueError(f"heatmap_demo_style: expected (65, Hc, Wc) logits, got {semi.shape}")
    hc, wc = semi.shape[1:]
    dense = np.exp(semi)
    dense = dense / (np.sum(dense, axis=0) + 0.00001)
    nodust = dense[:-1, :, :].transpose(1, 2, 0)  # (Hc, Wc, 64)
    return nodust.reshape(hc, wc, 8, 8).transpose(0, 2, 1, 3).reshape(8 * hc, 8 * wc)


def postprocess_demo_style(
    logits: np.ndarray,
    coarse: np.ndarray,
    conf_threshold: float = 0.015,
    nms_radius: int = 4,
    border: int = 4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Post-processing as the original authors' Python demo does it (slow on purpose: a baseline).

    Steps, as in the demo: NumPy softmax (``exp`` without max-subtraction, divided by the sum
    + 1e-5), dustbin dropped, reshape/transpose to full resolution, ``np.where(heat >= thr)``, the
    grid NMS (a zero-padded grid marks candidates, a Python loop over points sorted by score keeps
    a point still marked and clears its (2r+1)^2 window), border removal, then bilinear sampling of
    the coarse descriptors at the "magicleap" convention (grid_sample, align_corners=False, zero
    padding, here in NumPy) and L2 normalisation. Ties are broken by the lower linear index (the
    demo's unstable argsort leaves them arbitrary).

    Args:
        logits: (65, Hc, Wc) or (1, 65, Hc, Wc) float32.
        coarse: (C, Hc, Wc) or (1, C, Hc, Wc) float32.
    Returns:
        keypoints (N, 2) float32 (x, y), scores (N,) float32, descriptors (N, C) float32; sorted by
        descending score.
    """
    semi = np.asarray(logits, dtype=np.float32)
    desc_map = np.asarray(coarse, dtype=np.float32)
    if semi.ndim == 4 and semi.shape[0] == 1:
        semi = semi[0]
    if desc_map.ndim == 4 and desc_map.shape[0] == 1:
        desc_map = desc_map[0]
    if semi.ndim != 3 or semi.shape[0] != 65 or desc_map.ndim != 3 or desc_map.shape[1:] != semi.shape[1:]:
        raise ValueError(
            f"postprocess_demo_style: expected (65,Hc,Wc) and (C,Hc,Wc), got {semi.shape} and {desc_map.shape}"
        )
    hc, wc = semi.shape[1:]
    height, width = 8 * hc, 8 * wc

    # Softmax the demo's way, then depth-to-space.
    heat = heatmap_demo_style(semi)

    ys, xs = np.where(heat >= conf_threshold)
    if len(xs) == 0:
        c = desc_map.shape[0]
        return np.zeros((0, 2), np.float32), np.zeros((0,), np.float32), np.zeros((0, c), np.float32)
    scores = heat[ys, xs]

    # Grid NMS: points sorted by score, a padded grid of marks, a Python loop.
    order = np.argsort(-scores, kind="stable")
    xs, ys, scores = xs[order], ys[order], scores[order]
    pad = nms_radius
    grid = np.zeros((height + 2 * pad, width + 2 * pad), dtype=np.int8)
    grid[ys + pad, xs + pad] = 1
    keep = []
    for i in range(len(xs)):
        py, px = int(ys[i]) + pad, int(xs[i]) + pad
        if grid[py, px] == 1:
            grid[py - pad : py + pad + 1, px - pad : px + pad + 1] = 0
            grid[py, px] = -1
            keep.append(i)
    kept = np.asarray(keep, dtype=np.int64)
    xs, ys, scores = xs[kept], ys[kept], scores[kept]

    # Border removal.
    remove = (xs < border) | (xs >= width - border) | (ys < border) | (ys >= height - border)
    xs, ys, scores = xs[~remove], ys[~remove], scores[~remove]

    # Descriptors: normalise to [-1, 1] as the demo, un-normalise as grid_sample(align_corners=False).
    gx = xs.astype(np.float32) / (float(width) / 2.0) - 1.0
    gy = ys.astype(np.float32) / (float(height) / 2.0) - 1.0
    u = ((gx + 1.0) * wc - 1.0) / 2.0
    v = ((gy + 1.0) * hc - 1.0) / 2.0
    x0 = np.floor(u).astype(np.int64)
    y0 = np.floor(v).astype(np.int64)
    fx = (u - x0).astype(np.float32)
    fy = (v - y0).astype(np.float32)
    desc = np.zeros((desc_map.shape[0], len(xs)), dtype=np.float32)
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            yy, xx = y0 + dy, x0 + dx
            ok = (yy >= 0) & (yy < hc) & (xx >= 0) & (xx < wc)
            vals = desc_map[:, np.clip(yy, 0, hc - 1), np.clip(xx, 0, wc - 1)]
            desc += vals * (wy * wx * ok)[None, :]
    norm = np.linalg.norm(desc, axis=0)
    unit = desc / np.where(norm > 0, norm, 1.0)[None, :]

    keypoints = np.stack([xs, ys], axis=1).astype(np.float32)
    return keypoints, scores.astype(np.float32), np.ascontiguousarray(unit.T, dtype=np.float32)
