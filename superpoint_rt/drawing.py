"""Drawing helpers: keypoints, matches, tracks and text overlays on BGR uint8 images.

Every function returns a new BGR uint8 image and leaves its input untouched. Inputs may be gray (H,W) or
BGR (H,W,3), uint8 or float in [0,1]. Points are (x, y) = (column, row) with pixel centres at integers;
they are drawn with sub-pixel precision.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .tracking import Tracks

__all__ = ["draw_keypoints", "draw_matches", "draw_text", "draw_tracks", "to_bgr"]

_SHIFT = 4  # cv2 fractional bits for sub-pixel drawing
_SCALE = 1 << _SHIFT


def to_bgr(image: np.ndarray) -> np.ndarray:
    """A BGR uint8 copy of a gray/BGR/BGRA image, uint8 or float in [0,1]."""
    img = np.asarray(image)
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (1, 3, 4)):
        raise ValueError(f"image must be (H,W), (H,W,1), (H,W,3) or (H,W,4), got shape {img.shape}")
    if img.dtype != np.uint8:
        if not np.issubdtype(img.dtype, np.floating):
            raise TypeError(f"image must be uint8 or float in [0,1], got {img.dtype}")
        img = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if img.ndim == 2 or img.shape[2] == 1:
        return cv2.cvtColor(img.reshape(img.shape[0], img.shape[1]), cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img.copy()


def _colormap(values: np.ndarray, cmap: int = cv2.COLORMAP_TURBO) -> np.ndarray:
    """(N,) values in [0,1] -> (N,3) BGR uint8 colours."""
    v = (np.clip(np.asarray(values, np.float64), 0.0, 1.0) * 255.0).astype(np.uint8).reshape(-1, 1)
    if v.size == 0:
        return np.zeros((0, 3), np.uint8)
    return cv2.applyColorMap(v, cmap).reshape(-1, 3)


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points, np.float64) * _SCALE).astype(np.int32)


def _check_points(points: np.ndarray, name: str) -> np.ndarray:
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"{name} must be (N,2) x,y, got shape {p.shape}")
    return p


def draw_keypoints(
    image: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray | None = None,
    color: tuple[int, int, int] = (0, 255, 0),
    radius: int = 2,
) -> np.ndarray:
    """Draw keypoints ``(N,2)`` x,y as filled circles.

    With ``scores`` ``(N,)`` the colour follows the score (turbo colormap, blue = lowest, red = highest
    score of this image); otherwise ``color`` (BGR).
    """
    out = to_bgr(image)
    kp = _check_points(keypoints, "keypoints")
    if scores is not None:
        s = np.asarray(scores, np.float64).reshape(-1)
        if s.shape[0] != kp.shape[0]:
            raise ValueError(f"scores {s.shape} do not match keypoints {kp.shape}")
        lo, hi = (float(s.min()), float(s.max())) if s.size else (0.0, 1.0)
        colors = _colormap((s - lo) / (hi - lo) if hi > lo else np.ones_like(s))
    else:
        colors = np.tile(np.asarray(color, np.uint8), (kp.shape[0], 1))
    for p, c in zip(_fixed(kp).tolist(), colors.tolist()):
        cv2.circle(out, p, radius * _SCALE, c, -1, cv2.LINE_AA, _SHIFT)
    return out


def draw_matches(
    img_a: np.ndarray,
    img_b: np.ndarray,
    kpts_a: np.ndarray,
    kpts_b: np.ndarray,
    matches: np.ndarray,
    inlier_mask: np.ndarray | None = None,
    draw_unmatched: bool = False,
    draw_outliers: bool = True,
    colors: np.ndarray | None = None,
) -> np.ndarray:
    """Both images side by side (``img_b`` to the right, top-aligned) with a line per match.

    Args:
        kpts_a, kpts_b: (N,2) and (M,2) x,y.
        matches: (K,2) int index pairs (i into kpts_a, j into kpts_b).
        inlier_mask: optional (K,) bool; inliers green, outliers red (drawn first, under the inliers). Without it
            each match gets its own colour (by the position of its point in ``img_a``).
        draw_unmatched: also draw every keypoint as a small grey dot.
        draw_outliers: with ``inlier_mask``, whether the outliers are drawn at all (False: inliers only; e.g. the
            matches :mod:`superpoint_rt.verification` rejected stay off the picture).
        colors: optional (K,3) BGR uint8, one colour per match, instead of the inlier/outlier or position colours
            (with ``inlier_mask`` the mask still decides what is drawn and in which order).
    """
    a, b = to_bgr(img_a), to_bgr(img_b)
    ka, kb = _check_points(kpts_a, "kpts_a"), _check_points(kpts_b, "kpts_b")
    m = np.asarray(matches)
    if m.size == 0:
        m = np.zeros((0, 2), np.int64)
    if m.ndim != 2 or m.shape[1] != 2 or not np.issubdtype(m.dtype, np.integer):
        raise ValueError(f"matches must be (K,2) integer index pairs, got {m.dtype} {m.shape}")
    if len(m) and (m.min() < 0 or m[:, 0].max() >= len(ka) or m[:, 1].max() >= len(kb)):
        raise ValueError(f"match indices out of range for {len(ka)} and {len(kb)} keypoints")
    if inlier_mask is not None:
        inl = np.asarray(inlier_mask, bool).reshape(-1)
        if inl.shape[0] != len(m):
            raise ValueError(f"inlier_mask {inl.shape} does not match {len(m)} matches")
    given = None if colors is None else np.asarray(colors)
    if given is not None and given.shape != (len(m), 3):
        raise ValueError(f"colors must be ({len(m)}, 3) BGR, one per match, got {given.shape}")
    h = max(a.shape[0], b.shape[0])
    out = np.zeros((h, a.shape[1] + b.shape[1], 3), np.uint8)
    out[: a.shape[0], : a.shape[1]] = a
    out[: b.shape[0], a.shape[1] :] = b
    offset = np.array([a.shape[1], 0.0])
    if draw_unmatched:
        for p in _fixed(np.concatenate([ka, kb + offset])):
            cv2.circle(out, (int(p[0]), int(p[1])), 1 * _SCALE, (160, 160, 160), -1, cv2.LINE_AA, _SHIFT)
    if given is not None:
        cols = given.astype(np.uint8)
    elif inlier_mask is not None:
        cols = np.where(inl[:, None], np.array([[0, 255, 0]]), np.array([[0, 0, 255]])).astype(np.uint8)
    else:
        pos = ka[m[:, 0], 0] / max(a.shape[1] - 1, 1) if len(m) else np.zeros(0)
        cols = _colormap(pos, cv2.COLORMAP_HSV)
    if inlier_mask is not None:
        order = np.concatenate([np.flatnonzero(~inl), np.flatnonzero(inl)]) if draw_outliers else np.flatnonzero(inl)
        m, cols = m[order], cols[order]
    pa, pb = _fixed(ka[m[:, 0]]), _fixed(kb[m[:, 1]] + offset)
    for p, q, c in zip(pa, pb, cols):
        col = tuple(int(v) for v in c)
        cv2.line(out, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), col, 1, cv2.LINE_AA, _SHIFT)
        cv2.circle(out, (int(p[0]), int(p[1])), 2 * _SCALE, col, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(out, (int(q[0]), int(q[1])), 2 * _SCALE, col, -1, cv2.LINE_AA, _SHIFT)
    return out


def draw_tracks(
    image: np.ndarray,
    tracks: Tracks,
    min_length: int = 2,
    full_color_length: int | None = None,
    radius: int = 2,
    draw_all_points: bool = False,
) -> np.ndarray:
    """Draw each track's recent positions as a polyline ending in a dot at its current keypoint.

    The colour follows the track's length (turbo colormap: blue = just started, red = seen for
    ``full_color_length`` frames or more, default ``tracks.max_length``). Tracks shorter than
    ``min_length`` frames are skipped unless ``draw_all_points`` (then drawn as grey dots).
    """
    out = to_bgr(image)
    if len(tracks) == 0:
        return out
    full = max(int(full_color_length or tracks.max_length), 2)
    long_enough = tracks.lengths >= min_length
    if draw_all_points:
        for p in _fixed(tracks.keypoints[~long_enough]).tolist():
            cv2.circle(out, p, 1 * _SCALE, (160, 160, 160), -1, cv2.LINE_AA, _SHIFT)
    idx = np.flatnonzero(long_enough)
    if idx.size == 0:
        return out
    colors = _colormap((np.minimum(tracks.lengths[idx], full) - 1) / (full - 1)).tolist()
    hist = tracks.history[idx]
    n_valid = (~np.isnan(hist[:, :, 0])).sum(axis=1)  # NaN padding is at the front
    fixed = _fixed(np.nan_to_num(hist))
    ends = fixed[:, -1].tolist()
    L = hist.shape[1]
    for k in range(idx.size):  # vectorised set-up, one cv2 call per primitive
        col = colors[k]
        if n_valid[k] >= 2:
            cv2.polylines(out, [fixed[k, L - n_valid[k] :]], False, col, 1, cv2.LINE_AA, _SHIFT)
        cv2.circle(out, ends[k], radius * _SCALE, col, -1, cv2.LINE_AA, _SHIFT)
    return out


def draw_text(
    image: np.ndarray,
    lines: Sequence[str],
    origin: tuple[int, int] = (4, 4),
    scale: float = 0.45,
    color: tuple[int, int, int] = (255, 255, 255),
    background: tuple[int, int, int] | None = (0, 0, 0),
) -> np.ndarray:
    """Write ``lines`` top-down from ``origin`` (x, y of the top-left corner) on a dark box."""
    out = to_bgr(image)
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, 1
    sizes = [cv2.getTextSize(t, font, scale, thick) for t in lines]
    if not sizes:
        return out
    line_h = max(s[0][1] + s[1] for s in sizes) + 4
    x0, y0 = origin
    if background is not None:
        w = max(s[0][0] for s in sizes) + 6
        x1, y1 = min(x0 + w, out.shape[1]), min(y0 + line_h * len(lines) + 2, out.shape[0])
        roi = out[y0:y1, x0:x1]
        roi[:] = (roi.astype(np.float32) * 0.4 + np.asarray(background, np.float32) * 0.6).astype(np.uint8)
    for i, t in enumerate(lines):
        y = y0 + (i + 1) * line_h - 3
        cv2.putText(out, t, (x0 + 3, y), font, scale, color, thick, cv2.LINE_AA)
    return out
