"""Multi-scale detection: run the network on an image pyramid and merge the keypoints in input pixels.

SuperPoint sees one scale: its 8x8 cells and receptive field do not grow with the scene, so a zoom of more than
~1.4x between two views defeats single-scale matching (see the invariance probe in docs/EVALUATION.md). Running the same
network on downscaled copies of each image (``scales=(1.0, 0.71, 0.5)``: a pyramid an octave deep) gives each
view keypoints whose descriptors were computed at a matching scale; the nearest-neighbour matcher then pairs the
levels that agree. It costs the sum of the levels' areas (1 + 0.5 + 0.25 = 1.75x for that pyramid).

Conventions: pixel centres at integer coordinates, x = column, y = row. A level of scale ``s`` is the image
resized to ``(round(H * s), round(W * s))``; a point ``x'`` of that level is ``(x' + 0.5) * W / W' - 0.5`` in the
input (pixel-area mapping: level pixel 0 of a half-size level covers input pixels 0 and 1, centre 0.5).
Keypoints of all levels are merged, ranked by score and cut to the top-k. With the ``scale_weight`` option a level-s
point's score is first multiplied by ``s ** scale_weight`` over its largest value among the levels (so scores stay
in [0, 1]): a level-s point's position error is ~1/s input px, and a positive weight keeps more of the finer
levels' points in the top-k. A corner found at two scales appears twice (no non-maximum suppression across
levels), with the descriptor of each level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from .preprocess import MIN_SIZE
from .types import Features

#: the largest pyramid scale accepted (upsampling beyond 2x only invents pixels)
MAX_SCALE = 2.0
#: the largest |scale_weight| accepted (at 8 a half-octave step already weighs 16x: any more is a hard level order)
MAX_SCALE_WEIGHT = 8.0


def check_scales(scales: Sequence[float]) -> tuple[float, ...]:
    """Validate pyramid scales: a non-empty sequence of distinct finite numbers in (0, 2]; returned as given.

    Raises:
        TypeError: not a sequence of numbers.
        ValueError: empty, a value outside (0, 2], NaN/inf, or a repeated value.
    """
    if isinstance(scales, (str, bytes)) or not isinstance(scales, Sequence):
        raise TypeError(f"scales must be a sequence of numbers, e.g. (1.0, 0.71, 0.5), got {scales!r}")
    if len(scales) == 0:
        raise ValueError("scales must not be empty (use (1.0,) for single-scale detection)")
    out: list[float] = []
    for s in scales:
        if isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating)):
            raise TypeError(f"scales must be numbers, got {s!r}")
        v = float(s)
        if not math.isfinite(v) or not 0.0 < v <= MAX_SCALE:
            raise ValueError(f"every scale must be in (0, {MAX_SCALE:g}], got {s!r}")
        if v in out:
            raise ValueError(f"scales must be distinct, got {v:g} twice")
        out.append(v)
    return tuple(out)


def level_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """(H, W) of the pyramid level of ``scale`` for an input of ``size = (H, W)``.

    Raises:
        ValueError: the level would be smaller than 16x16 (SuperPoint's minimum input).
    """
    h, w = size
    hs, ws = round(h * scale), round(w * scale)
    if hs < MIN_SIZE or ws < MIN_SIZE:
        raise ValueError(
            f"scale {scale:g} turns the {h}x{w} image into {hs}x{ws}, below SuperPoint's {MIN_SIZE}x{MIN_SIZE} "
            "minimum: drop that scale or pass a larger image"
        )
    return hs, ws


def resize_level(gray: np.ndarray, scale: float) -> np.ndarray:
    """The pyramid level of ``scale`` of a gray float32 (H, W) image: area averaging down, bilinear up."""
    h, w = gray.shape
    hs, ws = level_size((h, w), scale)
    if (hs, ws) == (h, w):
        return gray
    interp = cv2.INTER_AREA if hs * ws < h * w else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(gray, (ws, hs), interpolation=interp), dtype=np.float32)


def level_to_input(keypoints: np.ndarray, level: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Map (N, 2) x,y keypoints of a level of shape ``level = (H', W')`` into an input of ``size = (H, W)``."""
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
    (hl, wl), (h, w) = level, size
    out = np.empty_like(kp)
    out[:, 0] = (kp[:, 0] + 0.5) * (w / wl) - 0.5
    out[:, 1] = (kp[:, 1] + 0.5) * (h / hl) - 0.5
    return out.astype(np.float32)


def level_weights(scales: Sequence[float], scale_weight: float) -> list[float] | None:
    """The score factor of each pyramid level for ``scale_weight`` g: ``s**g`` over its largest value among the
    levels (so the heaviest level keeps its scores and all stay in [0, 1]); None when g is 0 (raw scores)."""
    if scale_weight == 0:
        return None
    raw = [float(s) ** scale_weight for s in scales]
    return [w / max(raw) for w in raw]


def merge_levels(
    levels: Sequence[Features],
    size: tuple[int, int],
    max_keypoints: int | None = None,
    level_weights: Sequence[float] | None = None,
) -> tuple[Features, np.ndarray]:
    """Merge per-level Features (keypoints in their level's pixels) into one Features of the input ``size``.

    Returns ``(features, level_index)``: keypoints in input pixels sorted by descending score (stable: ties keep
    level order), cut to ``max_keypoints``; with ``level_weights`` (positive numbers, one per level) a point of
    ``levels[i]`` has its score multiplied by ``level_weights[i]`` first, so the order, the cut and the returned
    scores agree (anything that later ranks by score sees the same ranking). ``level_index`` (N,) int32 says which
    entry of ``levels`` each came from. Timings are summed over the levels.
    """
    if len(levels) == 0:
        raise ValueError("merge_levels needs at least one level")
    if level_weights is not None:
        lw = np.asarray(level_weights, np.float64).reshape(-1)
        if len(lw) != len(levels) or not (np.isfinite(lw).all() and (lw > 0).all()):
            raise ValueError(f"level_weights must be {len(levels)} positive finite numbers, got {level_weights!r}")
    kps = [level_to_input(f.keypoints, f.image_size, size) for f in levels]
    scores = np.concatenate([np.asarray(f.scores, np.float32).reshape(-1) for f in levels])
    dim = levels[0].descriptors.shape[1]
    desc = np.concatenate([np.asarray(f.descriptors, np.float32).reshape(-1, dim) for f in levels])
    idx = np.concatenate([np.full(len(f), i, np.int32) for i, f in enumerate(levels)])
    if level_weights is not None:
        scores = (scores * lw[idx]).astype(np.float32)
    order = np.argsort(-scores, kind="stable")
    if max_keypoints is not None:
        order = order[:max_keypoints]
    timings: dict[str, float] = {}
    for f in levels:
        for k, v in f.timings.items():
            timings[k] = timings.get(k, 0.0) + v
    merged = Features(
        np.ascontiguousarray(np.concatenate(kps)[order], dtype=np.float32).reshape(-1, 2),
        np.ascontiguousarray(scores[order]),
        np.ascontiguousarray(desc[order]),
        size,
        timings,
    )
    return merged, idx[order]
