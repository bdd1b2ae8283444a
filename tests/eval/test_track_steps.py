"""The track-step metric (superpoint_rt.eval.track_steps) against known answers, and what verification does to it
on the rendered 3-D scene."""

from __future__ import annotations

import numpy as np
import pytest

from superpoint_rt.eval.scene3d import VISIBLE, make_scene
from superpoint_rt.eval.track_steps import StepErrors, homography_truth, scene_truth
from superpoint_rt.tracking import PointTracker
from superpoint_rt.types import Features
from superpoint_rt.verification import VerificationConfig


def test_step_errors_against_known_offsets() -> None:
    """Identity homographies: a track step's error is how far its point moved."""
    truth = homography_truth(np.stack([np.eye(3)] * 2))
    desc = np.eye(4, 8, dtype=np.float32)
    p0 = np.array([[20.0, 20], [60, 20], [100, 20], [140, 20]], np.float32)
    tr = PointTracker(verification=None)  # unverified: every match extends its track
    se = StepErrors(truth)
    se.update(tr.update(Features(p0, np.ones(4, np.float32), desc, (240, 320))))
    se.update(tr.update(Features(p0 + np.array([[0, 0], [1.5, 0], [3, 0], [0, 10]], np.float32), np.ones(4), desc,
                                 (240, 320))))  # fmt: skip
    s = se.summary()
    assert s["steps"] == 4 and s["evaluated"] == 4 and s["off"] == 2 and s["off_fraction"] == 0.5
    assert s["correct"] == 2 and s["median_error_px"] == pytest.approx(2.25)
    assert s["excluded_boundary"] == 0 and s["hidden"] == 0


def test_verification_cleans_tracks_on_the_rendered_scene() -> None:
    """An oracle detector on the rendered scene (true positions + 0.3 px noise) with 8% of each frame's descriptors
    swapped between far-apart points (wrong matches that jump): verification (the default, F) removes most of the
    off-geometry steps and keeps most of the right ones."""
    scene = make_scene(seed=2, frames=6, noise=0.0)
    frames = scene.render_all()
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[6:234:9, 6:314:9]
    p0 = np.stack([xs.ravel(), ys.ravel()], axis=1) + rng.uniform(-2, 2, (xs.size, 2))
    desc = rng.normal(size=(len(p0), 64)).astype(np.float32)
    desc /= np.linalg.norm(desc, axis=1, keepdims=True)
    feats = []
    for k in range(len(scene)):
        pos, st = scene.transfer(p0, 0, k, frames)
        vis = np.flatnonzero(st == VISIBLE)
        kp = pos[vis] + rng.normal(0, 0.3, (len(vis), 2))
        d = desc[vis].copy()
        if k:
            swap = rng.choice(len(vis), int(0.08 * len(vis)), replace=False)
            d[swap] = d[np.roll(swap, 1)]  # each swapped point takes another's descriptor (usually far away)
        feats.append(Features(kp.astype(np.float32), np.ones(len(vis), np.float32), d, (240, 320)))
    truth = scene_truth(scene, frames)
    summaries = {}
    for name, cfg in (("off", None), ("fundamental", VerificationConfig())):
        tr = PointTracker(verification=cfg)
        se = StepErrors(truth)
        for k, f in enumerate(feats):
            se.update(tr.update(f, k))
        summaries[name] = se.summary()
    before, after = summaries["off"], summaries["fundamental"]
    assert before["off_fraction"] > 0.04
    assert after["off_fraction"] < 0.25 * before["off_fraction"]
    assert after["correct"] >= 0.85 * before["correct"]  # measured: 0.91
