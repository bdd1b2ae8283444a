"""Synthetic Shapes, generated on the fly (the MagicPoint training set of the SuperPoint paper).

Every image is a function of a ``numpy.random.Generator`` only (deterministic by seed). Primitives:
lines, polygon, multiple (overlapping) polygons, ellipses (no corners), star, checkerboard (under a
random perspective), stripes (under a random perspective), cube and pure Gaussian noise (no points),
over a random smooth blob background.

Labels are the *visible* corners / junctions, (x, y) = (column, row) float pixels of the output image,
pixel centres at integers. Shapes are drawn at ``draw_scale`` times the output resolution and
downsampled with ``INTER_AREA`` (anti-aliasing): a high-resolution point ``p`` maps to
``(p + 0.5) / draw_scale - 0.5``. Occlusion: in "multiple_polygons" polygons are drawn one after the
other; a vertex of an earlier polygon covered by a later one is dropped, and the T-junctions where a
later polygon's edge crosses an earlier visible edge are added. Points outside the image are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

PRIMITIVES: tuple[str, ...] = (
    "lines",
    "polygon",
    "multiple_polygons",
    "ellipses",
    "star",
    "checkerboard",
    "stripes",
    "cube",
    "gaussian_noise",
)


@dataclass(frozen=True)
class ShapesConfig:
    """Synthetic Shapes generation parameters.

    Attributes:
        height, width: output image size in pixels.
        draw_scale: shapes are drawn at this multiple of the output size, then area-downsampled.
        primitives: names from :data:`PRIMITIVES` to draw from (uniformly, or by ``weights``).
        weights: optional relative frequency of each entry of ``primitives``.
        min_contrast: minimum grey-level difference between a shape and the background mean.
        blur_sigma: (min, max) sigma of the final Gaussian blur, output pixels.
    """

    height: int = 120
    width: int = 160
    draw_scale: int = 2
    primitives: tuple[str, ...] = PRIMITIVES
    weights: tuple[float, ...] | None = None
    min_contrast: float = 40.0
    blur_sigma: tuple[float, float] = (0.2, 0.7)

    def __post_init__(self) -> None:
        if self.height < 16 or self.width < 16:
            raise ValueError(f"image too small: {self.height}x{self.width}")
        if self.draw_scale < 1:
            raise ValueError(f"draw_scale must be >= 1, got {self.draw_scale}")
        unknown = [p for p in self.primitives if p not in PRIMITIVES]
        if unknown or not self.primitives:
            raise ValueError(f"unknown or empty primitives {unknown}; choose from {PRIMITIVES}")
        if self.weights is not None and len(self.weights) != len(self.primitives):
            raise ValueError("weights must have one entry per primitive")


# ----------------------------------------------------------------------------------------------
# geometry helpers (high-resolution pixel coordinates)


def _seg_intersection(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> np.ndarray | None:
    """Intersection point of segments p1p2 and q1q2 (strictly inside both), or None."""
    r = p2 - p1
    s = q2 - q1
    den = r[0] * s[1] - r[1] * s[0]
    if abs(den) < 1e-9:
        return None
    qp = q1 - p1
    t = (qp[0] * s[1] - qp[1] * s[0]) / den
    u = (qp[0] * r[1] - qp[1] * r[0]) / den
    if 1e-6 < t < 1 - 1e-6 and 1e-6 < u < 1 - 1e-6:
        return np.asarray(p1 + t * r)
    return None


def _point_seg_dist(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = float(np.clip(np.dot(p - a, ab) / max(float(np.dot(ab, ab)), 1e-12), 0.0, 1.0))
    return float(np.linalg.norm(p - (a + t * ab)))


def _segments_conflict(a: np.ndarray, b: np.ndarray, others: list[tuple[np.ndarray, np.ndarray]], gap: float) -> bool:
    """True when segment ab crosses, or comes within ``gap`` of, any segment of ``others``."""
    for c, d in others:
        if _seg_intersection(a, b, c, d) is not None:
            return True
        if (
            min(_point_seg_dist(a, c, d), _point_seg_dist(b, c, d), _point_seg_dist(c, a, b), _point_seg_dist(d, a, b))
            < gap
        ):
            return True
    return False


def _corner_angles_ok(poly: np.ndarray, min_deg: float, max_deg: float) -> bool:
    """Every vertex's unsigned angle between its two edges lies in [min_deg, max_deg]."""
    n = len(poly)
    for i in range(n):
        v1 = poly[i - 1] - poly[i]
        v2 = poly[(i + 1) % n] - poly[i]
        n1, n2 = np.linalg.norm(v1), np.linalg.norm(v2)
        if n1 < 1e-6 or n2 < 1e-6:
            return False
        ang = math.degrees(math.acos(float(np.clip(np.dot(v1, v2) / (n1 * n2), -1.0, 1.0))))
        if not (min_deg <= ang <= max_deg):
            return False
    return True


def _covered(p: np.ndarray, poly: np.ndarray, margin: float) -> bool:
    """``p`` inside ``poly`` or within ``margin`` of its boundary."""
    d = cv2.pointPolygonTest(poly.astype(np.float32).reshape(-1, 1, 2), (float(p[0]), float(p[1])), True)
    return d > -margin


# ----------------------------------------------------------------------------------------------
# drawing context


class _Canvas:
    """A high-resolution grey image with its background mean, the rng and the size."""

    def __init__(self, rng: np.random.Generator, h: int, w: int, scale: int, min_contrast: float) -> None:
        self.rng = rng
        self.h, self.w, self.scale = h, w, scale
        self.min_contrast = min_contrast
        self.img = _background(rng, h, w)
        self.bg_mean = float(self.img.mean())
        self.size = float(min(h, w))

    def color(self, avoid: tuple[float, ...] = (), region: np.ndarray | None = None) -> int:
        """A grey level at least ``min_contrast`` from the background mean and from ``avoid`` (best effort).

        ``region``: (N,2) points whose bounding box gives the local background mean to contrast with.
        """
        ref = self.bg_mean
        if region is not None and len(region):
            x0, y0 = np.clip(np.floor(region.min(axis=0)).astype(int), 0, [self.w - 1, self.h - 1])
            x1, y1 = np.clip(np.ceil(region.max(axis=0)).astype(int) + 1, 1, [self.w, self.h])
            if x1 > x0 and y1 > y0:
                ref = float(self.img[y0:y1, x0:x1].mean())
        c = int(self.rng.integers(0, 256))
        for _ in range(30):
            if abs(c - ref) >= self.min_contrast and all(abs(c - a) >= self.min_contrast * 0.6 for a in avoid):
                break
            c = int(self.rng.integers(0, 256))
        return c

    def thickness(self, lo: float = 0.012, hi: float = 0.03) -> int:
        return max(1, round(self.rng.uniform(lo, hi) * self.size))

    def point(self, margin: float = 0.0) -> np.ndarray:
        m = margin * self.size
        return np.array([self.rng.uniform(m, self.w - 1 - m), self.rng.uniform(m, self.h - 1 - m)])


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth random blobs: a coarse random field and a few discs, blurred at 1/4 resolution, upsampled."""
    sh, sw = max(8, h // 4), max(8, w // 4)
    gh, gw = int(rng.integers(2, 6)), int(rng.integers(2, 6))
    base = rng.uniform(0, 255, size=(gh, gw)).astype(np.float32)
    small = cv2.resize(base, (sw, sh), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(0, 15))):
        c = (int(rng.integers(0, sw)), int(rng.integers(0, sh)))
        r = int(rng.integers(2, max(3, min(sh, sw) // 3)))
        cv2.circle(small, c, r, float(rng.uniform(0, 255)), -1)
    k = int(rng.choice([5, 9, 13])) | 1
    small = cv2.GaussianBlur(small, (k, k), 0)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(big, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# primitives: each draws on canvas.img and returns the (N,2) float64 high-resolution points


def _random_polygon(cv: _Canvas, center: np.ndarray, radius: float, n_range: tuple[int, int]) -> np.ndarray | None:
    for _ in range(30):
        n = int(cv.rng.integers(n_range[0], n_range[1] + 1))
        ang = np.sort(cv.rng.uniform(0, 2 * np.pi, n))
        rad = radius * cv.rng.uniform(0.4, 1.0, n)
        poly = center + np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=1)
        edges = np.linalg.norm(poly - np.roll(poly, 1, axis=0), axis=1)
        if edges.min() > 0.08 * cv.size and _corner_angles_ok(poly, 25.0, 155.0):
            return poly
    return None


def draw_lines(cv: _Canvas) -> np.ndarray:
    segs: list[tuple[np.ndarray, np.ndarray]] = []
    pts: list[np.ndarray] = []
    for _ in range(int(cv.rng.integers(1, 7))):
        for _try in range(10):
            a = cv.point()
            b = cv.point()
            if np.linalg.norm(a - b) < 0.15 * cv.size:
                continue
            t = cv.thickness()
            if _segments_conflict(a, b, segs, gap=3.0 * t + 4 * cv.scale):
                continue
            cv2.line(cv.img, _ip(a), _ip(b), cv.color(region=np.stack([a, b])), t, cv2.LINE_AA, _SHIFT)
            segs.append((a, b))
            pts += [a, b]
            break
    return _stack(pts)


def draw_polygon(cv: _Canvas) -> np.ndarray:
    center = cv.point(margin=0.1)
    poly = _random_polygon(cv, center, cv.rng.uniform(0.15, 0.45) * cv.size, (3, 5))
    if poly is None:
        return _stack([])
    cv2.fillPoly(cv.img, [_ipoly(poly)], cv.color(region=poly), cv2.LINE_AA, _SHIFT)
    return poly


def draw_multiple_polygons(cv: _Canvas) -> np.ndarray:
    """Overlapping filled polygons drawn in order; visible vertices + visible T-junctions."""
    polys: list[np.ndarray] = []
    colors: list[float] = []
    for _ in range(int(cv.rng.integers(2, 6))):
        poly = _random_polygon(cv, cv.point(margin=0.05), cv.rng.uniform(0.1, 0.3) * cv.size, (3, 5))
        if poly is None:
            continue
        c = cv.color(tuple(colors), region=poly)
        cv2.fillPoly(cv.img, [_ipoly(poly)], c, cv2.LINE_AA, _SHIFT)
        polys.append(poly)
        colors.append(c)
    return visible_polygon_points(polys, margin=1.5 * cv.scale)


def visible_polygon_points(polys: list[np.ndarray], margin: float) -> np.ndarray:
    """Visible corners of filled polygons drawn in list order (later ones on top).

    A vertex of polygon ``k`` is kept unless a later polygon covers it (inside, or within
    ``margin`` of its boundary). A crossing of an edge of ``a`` with an edge of a later ``b`` is a
    T-junction, kept unless a polygon other than ``a`` and ``b`` drawn after ``a`` covers it (one
    drawn after ``b`` hides it; one drawn between them hides ``a``'s edge there).
    Returns (N, 2) float64 x,y.
    """
    pts: list[np.ndarray] = []
    for k, poly in enumerate(polys):
        for v in poly:
            if not any(_covered(v, polys[c], margin) for c in range(k + 1, len(polys))):
                pts.append(v)
    for a in range(len(polys)):
        for b in range(a + 1, len(polys)):
            pa, pb = polys[a], polys[b]
            for i in range(len(pa)):
                for j in range(len(pb)):
                    x = _seg_intersection(pa[i - 1], pa[i], pb[j - 1], pb[j])
                    if x is None:
                        continue
                    if not any(_covered(x, polys[c], margin) for c in range(a + 1, len(polys)) if c != b):
                        pts.append(x)
    return _stack(pts)


def draw_ellipses(cv: _Canvas) -> np.ndarray:
    """Non-overlapping filled ellipses: no labels."""
    circles: list[tuple[np.ndarray, float]] = []
    for _ in range(int(cv.rng.integers(1, 7))):
        for _try in range(10):
            c = cv.point(margin=0.05)
            ax1 = cv.rng.uniform(0.05, 0.25) * cv.size
            ax2 = ax1 * cv.rng.uniform(0.35, 1.0)
            if any(np.linalg.norm(c - c2) < ax1 + r2 + 2 for c2, r2 in circles):
                continue
            angle = float(cv.rng.uniform(0, 180))
            box = ((float(c[0]), float(c[1])), (2 * ax1, 2 * ax2), angle)
            cv2.ellipse(cv.img, box, cv.color(), -1, cv2.LINE_AA)
            circles.append((c, ax1))
            break
    return _stack([])


def draw_star(cv: _Canvas) -> np.ndarray:
    """Rays from a centre; labels = the centre (a junction) and the ray ends."""
    center = cv.point(margin=0.15)
    n = int(cv.rng.integers(3, 8))
    for _ in range(30):
        ang = np.sort(cv.rng.uniform(0, 2 * np.pi, n))
        gaps = np.diff(np.concatenate([ang, ang[:1] + 2 * np.pi]))
        if gaps.min() > math.radians(25):
            break
    else:
        n = 3
        ang = cv.rng.uniform(0, 2 * np.pi) + np.arange(3) * 2 * np.pi / 3
    rad = cv.rng.uniform(0.15, 0.45, n) * cv.size
    ends = center + np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=1)
    col = cv.color(region=np.concatenate([center[None], ends]))
    t = cv.thickness()
    for e in ends:
        cv2.line(cv.img, _ip(center), _ip(e), col, t, cv2.LINE_AA, _SHIFT)
    return np.concatenate([center[None], ends], axis=0)


def _random_perspective(cv: _Canvas, src: np.ndarray, amount: float) -> np.ndarray:
    """A homography moving the 4 corners ``src`` (x,y) by up to ``amount`` * size, then a random rotation."""
    dst = src + cv.rng.uniform(-amount, amount, size=(4, 2)) * cv.size
    center = src.mean(axis=0)
    a = cv.rng.uniform(-np.pi, np.pi)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    dst = (dst - center) @ rot.T + center
    return cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32)).astype(np.float64)


def _apply_h(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    ph = np.concatenate([pts, np.ones((len(pts), 1))], axis=1) @ h.T
    return ph[:, :2] / ph[:, 2:3]


def draw_checkerboard(cv: _Canvas) -> np.ndarray:
    rows, cols = int(cv.rng.integers(3, 8)), int(cv.rng.integers(3, 8))
    cell = cv.rng.uniform(0.08, 0.18) * cv.size
    x0 = cv.rng.uniform(-0.2, 0.5) * cv.w
    y0 = cv.rng.uniform(-0.2, 0.5) * cv.h
    gx, gy = np.meshgrid(x0 + cell * np.arange(cols + 1), y0 + cell * np.arange(rows + 1))
    grid = np.stack([gx, gy], axis=-1).reshape(-1, 2)
    corners = np.array([grid[0], grid[cols], grid[-1], grid[-cols - 1]])
    hmat = _random_perspective(cv, corners, 0.08)
    g = _apply_h(hmat, grid).reshape(rows + 1, cols + 1, 2)
    dark, light = sorted([cv.color(), cv.color()])
    if light - dark < cv.min_contrast:
        dark, light = max(0, dark - int(cv.min_contrast)), min(255, light + int(cv.min_contrast))
    for i in range(rows):
        for j in range(cols):
            quad = np.array([g[i, j], g[i, j + 1], g[i + 1, j + 1], g[i + 1, j]])
            base = dark if (i + j) % 2 == 0 else light
            col = int(np.clip(base + cv.rng.integers(-15, 16), 0, 255))
            cv2.fillConvexPoly(cv.img, _ipoly(quad), col, cv2.LINE_AA, _SHIFT)
    return g.reshape(-1, 2)


def draw_stripes(cv: _Canvas) -> np.ndarray:
    """Vertical bands of alternating grey under a random perspective; labels = the band corners."""
    n = int(cv.rng.integers(3, 10))
    widths = cv.rng.uniform(0.05, 0.15, n) * cv.size
    x0 = cv.rng.uniform(-0.1, 0.4) * cv.w
    xs = x0 + np.concatenate([[0.0], np.cumsum(widths)])
    y0 = cv.rng.uniform(-0.1, 0.3) * cv.h
    y1 = y0 + cv.rng.uniform(0.4, 0.9) * cv.h
    top = np.stack([xs, np.full_like(xs, y0)], axis=1)
    bot = np.stack([xs, np.full_like(xs, y1)], axis=1)
    hmat = _random_perspective(cv, np.array([top[0], top[-1], bot[-1], bot[0]]), 0.08)
    top, bot = _apply_h(hmat, top), _apply_h(hmat, bot)
    dark, light = sorted([cv.color(), cv.color()])
    if light - dark < cv.min_contrast:
        dark, light = max(0, dark - int(cv.min_contrast)), min(255, light + int(cv.min_contrast))
    for i in range(n):
        quad = np.array([top[i], top[i + 1], bot[i + 1], bot[i]])
        cv2.fillConvexPoly(cv.img, _ipoly(quad), dark if i % 2 == 0 else light, cv2.LINE_AA, _SHIFT)
    return np.concatenate([top, bot], axis=0)


_CUBE_FACES = ((0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3))


def draw_cube(cv: _Canvas) -> np.ndarray:
    """An orthographically projected cube with three visible faces; labels = the 7 visible vertices."""
    verts = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
    for _ in range(30):
        ax, ay, az = cv.rng.uniform(-np.pi, np.pi, 3)
        rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
        ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
        rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
        rot = rz @ ry @ rx
        v = verts @ rot.T
        vis = []
        for f in _CUBE_FACES:
            normal = v[list(f)].mean(axis=0) * 2.0  # outward unit normal of a unit cube face
            if normal[2] < -0.2:  # camera looks along +z
                vis.append(f)
        if len(vis) == 3:
            break
    else:
        return _stack([])
    scale = cv.rng.uniform(0.25, 0.5) * cv.size
    center = cv.point(margin=0.25)
    p2 = v[:, :2] * scale + center
    colors: list[float] = []
    for f in vis:
        c = cv.color(tuple(colors))
        colors.append(c)
        cv2.fillConvexPoly(cv.img, _ipoly(p2[list(f)]), c, cv2.LINE_AA, _SHIFT)
    idx = sorted({i for f in vis for i in f})
    return p2[idx]


def draw_gaussian_noise(cv: _Canvas) -> np.ndarray:
    s = cv.scale
    small = cv.rng.normal(128, cv.rng.uniform(20, 80), size=(cv.h // s, cv.w // s)).astype(np.float32)
    big = cv2.resize(np.clip(small, 0, 255).astype(np.uint8), (cv.w, cv.h), interpolation=cv2.INTER_NEAREST)
    cv.img[...] = big
    return _stack([])


_DRAW: dict[str, Callable[[_Canvas], np.ndarray]] = {
    "lines": draw_lines,
    "polygon": draw_polygon,
    "multiple_polygons": draw_multiple_polygons,
    "ellipses": draw_ellipses,
    "star": draw_star,
    "checkerboard": draw_checkerboard,
    "stripes": draw_stripes,
    "cube": draw_cube,
    "gaussian_noise": draw_gaussian_noise,
}


_SHIFT = 4  # cv2 drawing with 4 fractional bits: vertices at 1/16 px


def _ip(p: np.ndarray) -> tuple[int, int]:
    return round(float(p[0]) * (1 << _SHIFT)), round(float(p[1]) * (1 << _SHIFT))


def _ipoly(poly: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(poly) * (1 << _SHIFT)).astype(np.int32).reshape(-1, 1, 2)


def _stack(pts: list[np.ndarray]) -> np.ndarray:
    return np.asarray(pts, dtype=np.float64).reshape(-1, 2)


# ----------------------------------------------------------------------------------------------


def finalize(
    hires: np.ndarray, points: np.ndarray, config: ShapesConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Downsample a high-resolution drawing and its points to the output size; drop points outside.

    Returns ``(image (H,W) uint8, points (N,2) float32 x,y)``.
    """
    s = config.draw_scale
    img = hires if s == 1 else cv2.resize(hires, (config.width, config.height), interpolation=cv2.INTER_AREA)
    sigma = float(rng.uniform(*config.blur_sigma))
    if sigma > 0.05:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    pts = (np.asarray(points, dtype=np.float64).reshape(-1, 2) + 0.5) / s - 0.5
    keep = (pts[:, 0] >= 0) & (pts[:, 0] <= config.width - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= config.height - 1)
    return img, pts[keep].astype(np.float32)


def generate_shape(
    rng: np.random.Generator, config: ShapesConfig = ShapesConfig(), primitive: str | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """One Synthetic Shapes image.

    Returns ``(image (H,W) uint8, points (N,2) float32 x,y output pixels, primitive name)``.
    """
    if primitive is None:
        p = None
        if config.weights is not None:
            w = np.asarray(config.weights, dtype=np.float64)
            p = w / w.sum()
        primitive = str(config.primitives[int(rng.choice(len(config.primitives), p=p))])
    if primitive not in _DRAW:
        raise ValueError(f"unknown primitive {primitive!r}; choose from {PRIMITIVES}")
    s = config.draw_scale
    cv = _Canvas(rng, config.height * s, config.width * s, s, config.min_contrast)
    pts = _DRAW[primitive](cv)
    img, out = finalize(cv.img, pts, config, rng)
    return img, out, primitive
