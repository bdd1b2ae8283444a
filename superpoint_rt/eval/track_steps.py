"""How often tracks step off the true geometry: per-step errors of point tracks against a known ground truth.

A **track step** is one track's point in frame j and its point in the next frame k it was seen in. Its error is
the distance between the point in frame k and the true position, in frame k, of the point in frame j. A ground
truth is a function ``truth(points, j, k) -> (positions, status)`` with the status codes of
:mod:`superpoint_rt.eval.scene3d`:

* :func:`homography_truth` for a planar scene with homographies frame 0 -> frame k (the bundled sample);
* :func:`scene_truth` for the rendered 3-D scene (:class:`superpoint_rt.eval.scene3d.Scene`).

Steps whose frame-j point has no single true position (on an occlusion boundary, or on no surface) are
**excluded** and counted apart; a step whose point is hidden or out of view in frame k is **off** whatever its
error (the tracker matched it to something else). :class:`StepErrors` accumulates a tracker's steps frame by frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..geometry import warp_points
from ..tracking import Tracks
from .scene3d import BOUNDARY, HIDDEN, NO_SURFACE, VISIBLE, RenderedFrame, Scene

__all__ = ["StepErrors", "Truth", "homography_truth", "pair_errors", "scene_truth"]

#: truth(points (N, 2) in frame j, j, k) -> ((N, 2) true positions in frame k, (N,) int8 status)
Truth = Callable[[np.ndarray, int, int], tuple[np.ndarray, np.ndarray]]


def homography_truth(homographies: np.ndarray) -> Truth:
    """Ground truth of a planar scene from ``(N, 3, 3)`` homographies frame 0 -> frame k: ``H_0k H_0j^-1 p``; every
    point is :data:`VISIBLE` (a point warped out of the image gives a large error instead)."""
    h = np.asarray(homographies, np.float64)
    h_inv = np.linalg.inv(h)

    def truth(points: np.ndarray, j: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        p = np.asarray(points, np.float64).reshape(-1, 2)
        return warp_points(p, h[k] @ h_inv[j]), np.full(len(p), VISIBLE, np.int8)

    return truth


def scene_truth(scene: Scene, frames: Sequence[RenderedFrame]) -> Truth:
    """Ground truth of a rendered scene: :meth:`Scene.transfer`."""

    def truth(points: np.ndarray, j: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        return scene.transfer(points, j, k, frames)

    return truth


def pair_errors(
    truth: Truth, points_j: np.ndarray, points_k: np.ndarray, j: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Errors (px) of point pairs (frame j -> frame k) against ``truth``, and the truth's status per pair; the error
    is inf where the status is :data:`HIDDEN` and NaN where it is excluded (:data:`BOUNDARY`, :data:`NO_SURFACE`)."""
    pj = np.asarray(points_j, np.float64).reshape(-1, 2)
    pk = np.asarray(points_k, np.float64).reshape(-1, 2)
    pos, status = truth(pj, j, k)
    err = np.linalg.norm(pos - pk, axis=1)
    err[status == HIDDEN] = np.inf
    err[(status == BOUNDARY) | (status == NO_SURFACE)] = np.nan
    return err, status


class StepErrors:
    """Accumulates a tracker's track steps against ``truth``; a step is off when its error exceeds ``threshold`` px
    (or its point is hidden in the later frame)."""

    def __init__(self, truth: Truth, threshold: float = 2.0) -> None:
        self.truth = truth
        self.threshold = float(threshold)
        self.errors: list[np.ndarray] = []
        self.statuses: list[np.ndarray] = []

    def update(self, tracks: Tracks, previous_frame: int | None = None) -> None:
        """Add the steps into this frame: every track of ``tracks`` seen in the previous frame too
        (``previous_frame``: that frame's index, default ``tracks.frame_index - 1``)."""
        k = tracks.frame_index
        j = k - 1 if previous_frame is None else int(previous_frame)
        sel = np.flatnonzero(tracks.lengths >= 2)
        if sel.size == 0:
            return
        err, status = pair_errors(self.truth, tracks.history[sel, -2], tracks.history[sel, -1], j, k)
        self.errors.append(err)
        self.statuses.append(status)

    def summary(self) -> dict[str, Any]:
        """{"steps", "evaluated", "excluded_boundary", "excluded_no_surface", "hidden", "off", "off_fraction",
        "correct", "median_error_px", "threshold_px"}; ``off_fraction`` = off / evaluated (None when none)."""
        err = np.concatenate(self.errors) if self.errors else np.zeros(0)
        st = np.concatenate(self.statuses) if self.statuses else np.zeros(0, np.int8)
        evaluated = (st == VISIBLE) | (st == HIDDEN)
        off = evaluated & ~(err <= self.threshold)
        finite = err[evaluated & np.isfinite(err)]
        n_eval = int(evaluated.sum())
        return {
            "steps": int(err.size),
            "evaluated": n_eval,
            "excluded_boundary": int((st == BOUNDARY).sum()),
            "excluded_no_surface": int((st == NO_SURFACE).sum()),
            "hidden": int((st == HIDDEN).sum()),
            "off": int(off.sum()),
            "off_fraction": float(off.sum() / n_eval) if n_eval else None,
            "correct": n_eval - int(off.sum()),
            "median_error_px": float(np.median(finite)) if finite.size else None,
            "threshold_px": self.threshold,
        }
