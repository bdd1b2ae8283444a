"""Invariance probe: one geometric change at a time (rotation, zoom in, zoom out, tilt), at growing strength.

The random viewpoint sequences of :mod:`superpoint_rt.eval.generate` mix rotation, scale and perspective; to see
which of them a detector/descriptor does not withstand, this module writes HPatches-format sequences in which only
one parameter grows from image 2 to image 6. Every view is cut from a canvas twice the size of the 480x640
reference, so rotated, zoomed-out or tilted views show real image content, not black corners.

Sequence names: ``v_<transform>-<photo stem>`` (all are viewpoint sequences for the runner). Homographies map
image-1 pixels to image-k pixels (pixel centres at integer coordinates), as everywhere in ``superpoint_rt.eval``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from superpoint_rt.eval.generate import (
    add_noise,
    load_photo,
    prepare_reference,
    sequence_name,
    sequence_rng,
    unique_name,
)
from superpoint_rt.eval.hpatches import write_sequence

#: transform -> the five levels of images 2..6 (degrees for rotation and tilt, scale factors for zoom)
LEVELS: dict[str, tuple[float, ...]] = {
    "rot": (10.0, 20.0, 30.0, 45.0, 60.0),
    "zin": (1.2, 1.4, 1.6, 1.8, 2.0),
    "zout": (1 / 1.2, 1 / 1.4, 1 / 1.6, 1 / 1.8, 1 / 2.0),
    "tilt": (10.0, 20.0, 30.0, 40.0, 50.0),
}
TITLES = {"rot": "in-plane rotation (deg)", "zin": "zoom in (x)", "zout": "zoom out (1/x)", "tilt": "tilt (deg)"}
CANVAS_FACTOR = 2


def strength_axis(kind: str) -> list[float]:
    """The levels as plotted: growing change left to right (zoom out as 1 / scale)."""
    return [round(1.0 / v if kind == "zout" else v, 2) for v in LEVELS[kind]]


def transform_homography(kind: str, level: float, size: tuple[int, int] = (480, 640)) -> np.ndarray:
    """3x3 homography (image-1 pixels -> image-k pixels) of one change about the image centre.

    ``rot``: rotation by ``level`` degrees (counter-clockwise on screen, y down); ``zin``/``zout``: scaling by
    ``level``; ``tilt``: the view of a plane turned by ``level`` degrees about the horizontal line through the
    image centre, i.e. the camera pitched (``K R_x K^-1``, focal length = image width, a 53 degree field of view)
    and then shifted so that the image centre stays put: pure foreshortening, no pan.
    """
    h, w = size
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    to_c = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], np.float64)
    from_c = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]], np.float64)
    if kind == "rot":
        a = np.deg2rad(level)
        g = np.array([[np.cos(a), np.sin(a), 0], [-np.sin(a), np.cos(a), 0], [0, 0, 1]], np.float64)
    elif kind in ("zin", "zout"):
        if level <= 0:
            raise ValueError(f"zoom factor must be > 0, got {level}")
        g = np.diag([level, level, 1.0])
    elif kind == "tilt":
        a, f = np.deg2rad(level), float(w)
        k = np.diag([f, f, 1.0])
        r = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]], np.float64)
        g = k @ r @ np.linalg.inv(k)
    else:
        raise ValueError(f"transform must be one of {sorted(LEVELS)}, got {kind!r}")
    hom = from_c @ g @ to_c
    if kind == "tilt":  # keep the centre fixed
        c = hom @ np.array([cx, cy, 1.0])
        hom = np.array([[1, 0, cx - c[0] / c[2]], [0, 1, cy - c[1] / c[2]], [0, 0, 1]], np.float64) @ hom
    return hom / hom[2, 2]


def make_invariance_sequence(
    canvas: np.ndarray, kind: str, rng: np.random.Generator, noise_sigma: float = 1.5
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(images[6], homographies[5])`` from a canvas of CANVAS_FACTOR x the reference size.

    Image 1 is the centre crop of ``canvas`` (size canvas / CANVAS_FACTOR); image k is the view of the canvas
    under ``transform_homography(kind, LEVELS[kind][k - 2])``.
    """
    ch, cw = canvas.shape[:2]
    if ch % CANVAS_FACTOR or cw % CANVAS_FACTOR:
        raise ValueError(f"canvas size must be a multiple of {CANVAS_FACTOR}, got {cw}x{ch}")
    h, w = ch // CANVAS_FACTOR, cw // CANVAS_FACTOR
    ox, oy = (cw - w) // 2, (ch - h) // 2
    ref = canvas[oy : oy + h, ox : ox + w]
    shift = np.array([[1, 0, -ox], [0, 1, -oy], [0, 0, 1]], np.float64)  # canvas -> image-1 pixels
    images = [add_noise(ref, noise_sigma, rng)]
    homs = []
    for level in LEVELS[kind]:
        hom = transform_homography(kind, level, (h, w))
        view = cv2.warpPerspective(canvas, hom @ shift, (w, h), flags=cv2.INTER_LINEAR)
        images.append(add_noise(view, noise_sigma, rng))
        homs.append(hom)
    return images, homs


def make_invariance_benchmark(
    photos: Iterable[str | Path],
    out_dir: str | Path,
    size: tuple[int, int] = (480, 640),
    kinds: Iterable[str] = tuple(LEVELS),
    seed: int = 0,
) -> list[Path]:
    """One sequence per photo and transform in ``out_dir``; returns the folders."""
    out, written = Path(out_dir), []
    used: set[str] = set()
    h, w = size
    for photo in photos:
        canvas = prepare_reference(load_photo(photo), (h * CANVAS_FACTOR, w * CANVAS_FACTOR))
        stem = unique_name(sequence_name("v", photo)[2:], used)
        for kind in kinds:
            name = f"v_{kind}-{stem}"
            images, homs = make_invariance_sequence(canvas, kind, sequence_rng(seed, name))
            written.append(write_sequence(out / name, images, homs))
    if not written:
        raise ValueError("no photos given")
    return written


def invariance_curves(pairs: Iterable[dict[str, Any]], eps: float = 3.0) -> dict[str, dict[str, list[float]]]:
    """Per transform: mean homography accuracy at ``eps``, repeatability and NN mAP at each of the 5 levels.

    ``pairs`` are the ``pairs`` of an evaluation result as JSON (``EvalResult.to_dict()``); a null corner error
    counts as a failed estimate, a null metric is left out of its mean. When the evaluation ran several RANSAC
    orders per pair (``homography_trials`` > 1, pairs carry ``corner_errors``), ``homography_trials`` is added: the
    mean over pairs of each pair's share of orders within ``eps`` (a pair without estimates counts as 0).
    """

    def within(error: float | None) -> bool:  # a failed estimate (null) counts as wrong
        return error is not None and error <= eps

    pairs = list(pairs)
    trials = any(p.get("corner_errors") for p in pairs)
    metrics = ("homography", "repeatability", "nn_map") + (("homography_trials",) if trials else ())
    acc: dict[str, dict[str, list[list[float]]]] = {}
    for p in pairs:
        kind = str(p["sequence"]).split("_", 1)[1].split("-", 1)[0]
        if kind not in LEVELS:
            continue
        n = len(LEVELS[kind])
        slot = acc.setdefault(kind, {m: [[] for _ in range(n)] for m in metrics})
        i = int(p["k"]) - 2
        slot["homography"][i].append(float(within(p.get("corner_error"))))
        if trials:
            errs = p.get("corner_errors") or []
            slot["homography_trials"][i].append(float(np.mean([within(e) for e in errs])) if errs else 0.0)
        for m in ("repeatability", "nn_map"):
            if p.get(m) is not None:
                slot[m][i].append(float(p[m]))
    return {
        kind: {m: [float(np.mean(v)) if v else float("nan") for v in vals] for m, vals in slot.items()}
        for kind, slot in acc.items()
    }
