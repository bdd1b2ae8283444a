"""Sub-pixel keypoint refinement on the detector heatmap.

NMS returns integer pixel positions; two ways to move them off the integer grid (``method``).

``"parabola"``: for each keypoint ``(x, y)`` (pixel centres at integers) a parabola is fitted
through the heatmap at ``x - 1, x, x + 1`` (row ``y``) and another through ``y - 1, y, y + 1`` (column ``x``);
the keypoint moves to their vertices:

    dx = (h[y, x-1] - h[y, x+1]) / (2 (h[y, x-1] - 2 h[y, x] + h[y, x+1])),   likewise dy,

each clipped to [-0.5, 0.5] (the maximum stays in its pixel) and 0 where the three values are not concave
(a plateau or a neighbour outside the image). For a heatmap that is a parabola (or close to one near the peak)
this recovers the peak exactly. On our bundled benchmark it lowers the localisation error by ~0.1 px at 480x640
(docs/EVALUATION.md).

``"centroid"`` (the default from the 6th session of 2026-12-02 to the 16th of 2026-12-04): the heatmap-weighted
mean position of the 3x3 window around the keypoint,

    dx = sum_{i,j in -1..1} h[y+i, x+j] j / sum_{i,j} h[y+i, x+j],   likewise dy,

where neighbours outside the image weigh nothing, clipped to [-0.5, 0.5] (0 when the window sums to 0). It pulls a
point toward the heavier side of a skewed peak; it localises v3's points 0.025-0.03 px better than the parabola on
the training-photo benchmark and on every held-out set (docs/EVALUATION.md).

``"centroid5"`` (the default since the 16th session of 2026-12-04): the same mean over the 5x5 window
(``i, j in -2..2``), clipped to [-1, 1]. A 3x3 window cuts off the tails of a peak about a pixel wide and so pulls
the estimate toward the integer pixel; the 5x5 window sees more of it. On the training photos' viewpoint pairs it
raised homography accuracy at 1 px (averaged over RANSAC orders) by 0.036 over the 3x3 mean, and held out it is
level or better on every set (docs/EVALUATION.md, "A wider centroid").

``"forstner"`` (needs the image): the ``"centroid5"`` estimate ``p_h``, then one Förstner corner step on the image
that the heatmap came from, with ``p_h`` as a prior. Over the (2 r + 1)^2 window centred on the pixel of ``p_h``
(r = ``FORSTNER_RADIUS``, binomial weights w, pixels outside the image weigh nothing) with image gradients g_k (3x3
Sobel, neighbours clamped to the image) at pixel offsets p_k,

    A = sum_k w_k g_k g_k^T,   b = sum_k w_k g_k g_k^T p_k,   q = (A + lam I)^-1 (b + lam p_h),
    lam = FORSTNER_PRIOR * trace(A) / 2,

the point where the window's edge lines (p - p_k) . g_k = 0 meet best in least squares, pulled toward ``p_h``. The
prior makes it contrast-invariant and harmless on an edge (along the edge A has no information and the point stays
at ``p_h``; across it, it moves); a flat window (A = 0) keeps ``p_h``. The step q - p_h is clipped to
``FORSTNER_LIMIT`` per axis and the point to the image. It uses what the 8x8-cell heatmap cannot see, the image's own
edges, and on the training photos' viewpoint pairs lowers the matched points' median true residual by 0.06 px where
no heatmap-only refinement gained more than 0.02 (docs/EVALUATION.md, "A corner step on the image").

All four run in float64 and visit the window in a fixed order, so the CUDA post-processing (csrc/subpixel/) reproduces
them bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

#: the refinements ``refine_subpixel`` (and the ``subpixel_method`` option, default ``"centroid5"``) know
SUBPIXEL_METHODS: tuple[str, ...] = ("parabola", "centroid", "centroid5", "forstner")

#: the methods that read the image as well as the heatmap
IMAGE_SUBPIXEL_METHODS: tuple[str, ...] = ("forstner",)

#: half-width r of the Förstner step's window ((2 r + 1)^2 pixels, binomial weights C(2r, r + i) C(2r, r + j))
FORSTNER_RADIUS = 3
#: weight of the heatmap prior, as a share of the window's mean gradient energy (lam = FORSTNER_PRIOR * trace(A) / 2)
FORSTNER_PRIOR = 0.5
#: the largest move of the Förstner step away from the centroid5 estimate, per axis, in pixels
FORSTNER_LIMIT = 1.5

#: half-width of the centroid's window and the largest offset it may return, per centroid method
_CENTROID_WINDOWS: dict[str, tuple[int, float]] = {"centroid": (1, 0.5), "centroid5": (2, 1.0)}


def refine_subpixel(
    heatmap: np.ndarray, keypoints: np.ndarray, method: str = "centroid5", image: np.ndarray | None = None
) -> np.ndarray:
    """Move integer keypoints off the pixel grid by the local shape of ``heatmap`` (see the module docstring).

    Args:
        heatmap: (H, W) float32 detector probabilities.
        keypoints: (N, 2) float32 integer-valued (x, y) pixel positions inside the heatmap.
        method: ``"centroid5"`` (5x5 heat-weighted mean, the default), ``"centroid"`` (3x3 mean),
            ``"parabola"`` (vertex of the local quadratic fits) or ``"forstner"`` (centroid5, then a Förstner step on
            ``image``).
        image: (H, W) gray image the heatmap was computed from (any real dtype; only its gradients' directions and
            relative sizes matter); needed by ``"forstner"``, ignored by the others.

    Returns:
        (N, 2) float32 refined (x, y), each within 0.5 px of its input per axis (``"centroid5"``: 1 px;
        ``"forstner"``: 1 + ``FORSTNER_LIMIT`` px, inside the image).

    Raises:
        ValueError: wrong shapes, keypoints outside the heatmap, an unknown method, or ``"forstner"`` without a
            finite image of the heatmap's size.
    """
    if method not in SUBPIXEL_METHODS:
        raise ValueError(f"subpixel method must be one of {SUBPIXEL_METHODS}, got {method!r}")
    heat = np.asarray(heatmap)
    kp = np.asarray(keypoints, dtype=np.float32)
    if heat.ndim != 2:
        raise ValueError(f"heatmap must be (H, W), got shape {heat.shape}")
    if kp.ndim != 2 or kp.shape[1] != 2:
        raise ValueError(f"keypoints must be (N, 2) as (x, y), got shape {kp.shape}")
    if len(kp) == 0:
        return kp.copy()
    h, w = heat.shape
    x = np.rint(kp[:, 0]).astype(np.int64)
    y = np.rint(kp[:, 1]).astype(np.int64)
    if x.min() < 0 or y.min() < 0 or x.max() >= w or y.max() >= h:
        raise ValueError(f"keypoints must lie inside the {h}x{w} heatmap")
    heat64 = heat.astype(np.float64, copy=False)
    if method == "forstner":
        img = _check_image(image, heat.shape)
        dx, dy = _centroid_offsets(heat64, x, y, *_CENTROID_WINDOWS["centroid5"])
        return _forstner(img, x, y, dx, dy)
    if method in _CENTROID_WINDOWS:
        return _centroid(heat64, x, y, *_CENTROID_WINDOWS[method])
    c = heat64[y, x]

    def offset(lo: np.ndarray, hi: np.ndarray, ok: np.ndarray) -> np.ndarray:
        den = lo - 2.0 * c + hi
        use = ok & (den < 0.0)
        out = np.zeros(len(c))
        out[use] = 0.5 * (lo[use] - hi[use]) / den[use]
        return np.clip(out, -0.5, 0.5)

    has_x = (x > 0) & (x < w - 1)
    has_y = (y > 0) & (y < h - 1)
    xm, xp = np.clip(x - 1, 0, w - 1), np.clip(x + 1, 0, w - 1)
    ym, yp = np.clip(y - 1, 0, h - 1), np.clip(y + 1, 0, h - 1)
    dx = offset(heat64[y, xm], heat64[y, xp], has_x)
    dy = offset(heat64[ym, x], heat64[yp, x], has_y)
    return np.stack([x + dx, y + dy], axis=1).astype(np.float32)


def _centroid(heat64: np.ndarray, x: np.ndarray, y: np.ndarray, radius: int, limit: float) -> np.ndarray:
    """(2 radius + 1)^2 heat-weighted mean around integer (x, y), rows then columns from -radius to radius (the C++
    order), offsets clipped to [-limit, limit]."""
    dx, dy = _centroid_offsets(heat64, x, y, radius, limit)
    return np.stack([x + dx, y + dy], axis=1).astype(np.float32)


def _centroid_offsets(
    heat64: np.ndarray, x: np.ndarray, y: np.ndarray, radius: int, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    """The float64 offsets (dx, dy), each (N,), of :func:`_centroid`."""
    h, w = heat64.shape
    total = np.zeros(len(x))
    sum_x = np.zeros(len(x))
    sum_y = np.zeros(len(x))
    for i, j, xx, yy, inside in _window(x, y, radius, h, w):
        v = np.where(inside, heat64[yy, xx], 0.0)
        total += v
        sum_x += v * j
        sum_y += v * i
    pos = total > 0.0
    safe = np.where(pos, total, 1.0)
    dx = np.where(pos, np.clip(sum_x / safe, -limit, limit), 0.0)
    dy = np.where(pos, np.clip(sum_y / safe, -limit, limit), 0.0)
    return dx, dy


def _window(
    x: np.ndarray, y: np.ndarray, radius: int, h: int, w: int
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]:
    """The (2 radius + 1)^2 window around integer (x, y) of an (h, w) image, rows i then columns j from -radius to
    radius (the C++ order): (i, j, x + j and y + i clamped to the image, whether they were inside)."""
    for i in range(-radius, radius + 1):
        for j in range(-radius, radius + 1):
            yy, xx = y + i, x + j
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            yield i, j, np.clip(xx, 0, w - 1), np.clip(yy, 0, h - 1), inside


def _check_image(image: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """The image as float64 (H, W), checked against the heatmap's ``shape``."""
    if image is None:
        raise ValueError("subpixel method 'forstner' needs the image the heatmap came from (image=...)")
    img = np.asarray(image)
    if img.shape != shape:
        raise ValueError(f"image must have the heatmap's shape {shape}, got {img.shape}")
    if not np.issubdtype(img.dtype, np.number) or np.iscomplexobj(img):
        raise ValueError(f"image must be real-valued, got dtype {img.dtype}")
    img64 = img.astype(np.float64)
    if not np.isfinite(img64).all():
        raise ValueError("image contains NaN or inf")
    return img64


def forstner_weights(radius: int = FORSTNER_RADIUS) -> np.ndarray:
    """(2 radius + 1,) binomial weights C(2 radius, k): the Förstner window is their outer product."""
    return np.array([math.comb(2 * radius, k) for k in range(2 * radius + 1)], dtype=np.float64)


def _forstner(
    img: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    dx0: np.ndarray,
    dy0: np.ndarray,
    radius: int = FORSTNER_RADIUS,
    prior: float = FORSTNER_PRIOR,
    limit: float = FORSTNER_LIMIT,
) -> np.ndarray:
    """One Förstner step with the prior (dx0, dy0) (offsets from integer (x, y)); see the module docstring. The window
    is centred on the prior's pixel; rows i then columns j from -radius to radius, the same sums in the same order as
    csrc/subpixel/subpixel_grid.h."""
    h, w = img.shape
    wts = forstner_weights(radius)
    # centre the window on the pixel of the prior (half to even, as np.rint): one step is pulled toward the window's
    # centre, so it starts from the best estimate there is
    sx = (dx0 > 0.5).astype(np.int64) - (dx0 < -0.5).astype(np.int64)
    sy = (dy0 > 0.5).astype(np.int64) - (dy0 < -0.5).astype(np.int64)
    xc, yc = np.clip(x + sx, 0, w - 1), np.clip(y + sy, 0, h - 1)
    dx0, dy0 = dx0 - (xc - x), dy0 - (yc - y)  # the prior, now from the window's centre
    x, y = xc, yc
    a00 = np.zeros(len(x))
    a01 = np.zeros(len(x))
    a11 = np.zeros(len(x))
    b0 = np.zeros(len(x))
    b1 = np.zeros(len(x))
    for i, j, xx, yy, inside in _window(x, y, radius, h, w):
        gx, gy = _sobel(img, xx, yy)
        wk = np.where(inside, wts[i + radius] * wts[j + radius], 0.0)
        gxx, gxy, gyy = wk * (gx * gx), wk * (gx * gy), wk * (gy * gy)
        a00 += gxx
        a01 += gxy
        a11 += gyy
        b0 += gxx * j + gxy * i
        b1 += gxy * j + gyy * i
    lam = prior * 0.5 * (a00 + a11)
    move = lam > 0.0
    m00, m11 = a00 + lam, a11 + lam
    r0, r1 = b0 + lam * dx0, b1 + lam * dy0
    det = np.where(move, m00 * m11 - a01 * a01, 1.0)
    qx = (m11 * r0 - a01 * r1) / det
    qy = (m00 * r1 - a01 * r0) / det
    dx = np.where(move, dx0 + np.clip(qx - dx0, -limit, limit), dx0)
    dy = np.where(move, dy0 + np.clip(qy - dy0, -limit, limit), dy0)
    px = np.clip(x + dx, 0.0, w - 1.0)
    py = np.clip(y + dy, 0.0, h - 1.0)
    return np.stack([px, py], axis=1).astype(np.float32)


def _sobel(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3x3 Sobel gradients (gx, gy) of the float64 image at integer (x, y) inside it, neighbours clamped to the image
    (unscaled: the step is invariant to the gradients' scale)."""
    h, w = img.shape
    xm, xp = np.maximum(x - 1, 0), np.minimum(x + 1, w - 1)
    ym, yp = np.maximum(y - 1, 0), np.minimum(y + 1, h - 1)
    gx = (img[ym, xp] + 2.0 * img[y, xp] + img[yp, xp]) - (img[ym, xm] + 2.0 * img[y, xm] + img[yp, xm])
    gy = (img[yp, xm] + 2.0 * img[yp, x] + img[yp, xp]) - (img[ym, xm] + 2.0 * img[ym, x] + img[ym, xp])
    return gx, gy
