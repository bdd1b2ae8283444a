"""Geometric verification (superpoint_rt.verification) and the tracker's use of it, on synthetic two-view geometry
with known right and wrong matches."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from superpoint_rt.drawing import draw_matches
from superpoint_rt.eval.scene3d import intrinsics, look_camera
from superpoint_rt.matching import match
from superpoint_rt.tracking import PointTracker
from superpoint_rt.types import Features
from superpoint_rt.verification import (
    DEFAULT_RANSAC_THRESHOLD,
    REJECT_DESCRIPTOR,
    REJECT_DISPLACEMENT,
    REJECT_RANSAC,
    VerificationConfig,
    match_verified,
    verify_matches,
)

K = intrinsics(320, 240, 280.0)


def two_views(n: int = 120, seed: int = 0, planar: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """n 3-D points 4-12 m ahead (or on the plane Z = 6) seen by a camera that moves 0.3 m forward and 0.2 m right
    and turns 2 degrees: (N, 2) pixels in view a and in view b, all inside both images."""
    rng = np.random.default_rng(seed)
    cam_a = look_camera(K, (0.0, 0.0, 0.0))
    cam_b = look_camera(K, (0.2, 0.0, 0.3), yaw=np.radians(2.0))
    pa, pb = [], []
    while len(pa) < n:
        z = 6.0 if planar else rng.uniform(4.0, 12.0)
        x = np.array([rng.uniform(-0.45, 0.45) * z, rng.uniform(-0.35, 0.35) * z, z])
        (ua,), _ = cam_a.project(x[None])
        (ub,), _ = cam_b.project(x[None])
        if all(0 <= u[0] <= 319 and 0 <= u[1] <= 239 for u in (ua, ub)):
            pa.append(ua)
            pb.append(ub)
    return np.array(pa), np.array(pb)


def true_fundamental() -> np.ndarray:
    """F of the two views (x_b^T F x_a = 0)."""
    a, b = look_camera(K, (0.0, 0.0, 0.0)), look_camera(K, (0.2, 0.0, 0.3), yaw=np.radians(2.0))
    R = b.R @ a.R.T
    t = b.t - R @ a.t
    tx = np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]])
    k_inv = np.linalg.inv(K)
    return k_inv.T @ tx @ R @ k_inv


def epipolar_distance(f: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    line = np.c_[pa, np.ones(len(pa))] @ f.T  # lines in image b
    return np.abs(np.sum(line * np.c_[pb, np.ones(len(pb))], axis=1)) / np.linalg.norm(line[:, :2], axis=1)


def identity_matches(n: int) -> np.ndarray:
    return np.stack([np.arange(n), np.arange(n)], axis=1)


# ---------------------------------------------------------------------------------------------------------------------
# The config
# ---------------------------------------------------------------------------------------------------------------------


def test_config_defaults_and_validation() -> None:
    c = VerificationConfig()
    assert c.model == "fundamental" and c.ransac_threshold is None and c.threshold == 1.0
    assert c.max_displacement is None and c.max_descriptor_distance == 0.7 and c.enabled
    assert VerificationConfig(model="homography").threshold == DEFAULT_RANSAC_THRESHOLD["homography"] == 1.5
    assert VerificationConfig(model="homography", ransac_threshold=3).threshold == 3.0
    assert VerificationConfig(model=None).threshold is None
    off = VerificationConfig.off()
    assert not off.enabled and off.model is None and off.max_descriptor_distance is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.model = None  # type: ignore[misc]
    bad = [
        ({"model": "affine"}, ValueError, "model"),
        ({"ransac_threshold": 0}, ValueError, "ransac_threshold"),
        ({"ransac_threshold": float("nan")}, ValueError, "ransac_threshold"),
        ({"ransac_threshold": "1"}, TypeError, "ransac_threshold"),
        ({"ransac_threshold": [1]}, TypeError, "ransac_threshold"),
        ({"confidence": 1.0}, ValueError, "confidence"),
        ({"confidence": 0.0}, ValueError, "confidence"),
        ({"max_iters": 0}, ValueError, "max_iters"),
        ({"max_iters": True}, ValueError, "max_iters"),
        ({"max_iters": 10.0}, ValueError, "max_iters"),
        ({"max_displacement": -1.0}, ValueError, "max_displacement"),
        ({"max_displacement": 0.0}, ValueError, "max_displacement"),
        ({"max_descriptor_distance": 2.5}, ValueError, "max_descriptor_distance"),
        ({"max_descriptor_distance": -0.1}, ValueError, "max_descriptor_distance"),
    ]
    for kwargs, exc, name in bad:
        with pytest.raises(exc, match=name):
            VerificationConfig(**kwargs)  # type: ignore[arg-type]
    assert VerificationConfig(max_descriptor_distance=0).max_descriptor_distance == 0.0  # inclusive: exact copies


# ---------------------------------------------------------------------------------------------------------------------
# verify_matches
# ---------------------------------------------------------------------------------------------------------------------


def test_fundamental_rejects_matches_off_their_epipolar_lines() -> None:
    pa, pb = two_views()
    rng = np.random.default_rng(1)
    pb = pb + rng.normal(0, 0.25, pb.shape)  # keypoint noise
    wrong = rng.choice(len(pa), 20, replace=False)
    pb_bad = pb.copy()
    pb_bad[wrong] = rng.uniform([0, 0], [319, 239], (20, 2))  # 20 of 120 matches go anywhere
    f_true = true_fundamental()
    off_line = epipolar_distance(f_true, pa, pb_bad) > 3.0
    v = verify_matches(pa, pb_bad, identity_matches(len(pa)))
    assert v.ransac == "fitted" and v.model is not None and v.model.shape == (3, 3)
    right = np.setdiff1d(np.arange(len(pa)), wrong)
    assert v.inliers[right].mean() >= 0.9  # right matches survive
    assert not v.inliers[off_line].any()  # every wrong match off its epipolar line is rejected
    assert (v.rejected_by[~v.inliers] == REJECT_RANSAC).all()
    np.testing.assert_array_equal(v.matches, identity_matches(len(pa))[v.inliers])
    assert v.counts() == {
        "candidates": 120,
        "kept": int(v.inliers.sum()),
        "descriptor": 0,
        "displacement": 0,
        "ransac": int((~v.inliers).sum()),
    }
    again = verify_matches(pa, pb_bad, identity_matches(len(pa)))  # deterministic
    np.testing.assert_array_equal(again.inliers, v.inliers)


def test_a_slide_along_the_epipolar_line_passes_f_and_the_displacement_gate_stops_it() -> None:
    """F checks one direction per match: a wrong match moved along its epipolar line passes it (documented); the
    displacement gate is the remedy for long slides."""
    pa, pb = two_views(seed=2)
    f_true = true_fundamental()
    line = f_true @ np.r_[pa[0], 1.0]
    direction = np.array([line[1], -line[0]]) / np.hypot(line[0], line[1])
    pb_bad = pb.copy()
    if direction @ (pb[0] - pa[0]) < 0:
        direction = -direction  # slide away from where the point was in view a
    pb_bad[0] = pb[0] + 80.0 * direction
    assert epipolar_distance(f_true, pa[:1], pb_bad[:1])[0] < 1e-6
    assert np.linalg.norm(pb_bad[0] - pb[0]) == pytest.approx(80.0)
    m = identity_matches(len(pa))
    assert verify_matches(pa, pb_bad, m).inliers[0]
    moved = np.linalg.norm(pb - pa, axis=1)
    gate = float(moved.max()) + 1.0  # every right match moves less than this
    assert np.linalg.norm(pb_bad[0] - pa[0]) > gate
    v = verify_matches(pa, pb_bad, m, config=VerificationConfig(max_displacement=gate))
    assert not v.inliers[0] and v.rejected_by[0] == REJECT_DISPLACEMENT and v.inliers[1:].mean() > 0.9


def test_homography_for_a_planar_scene() -> None:
    pa, pb = two_views(planar=True, seed=3)
    pb_bad = pb.copy()
    pb_bad[:10] += np.array([6.0, -4.0])  # 7.2 px off: small slips
    v = verify_matches(pa, pb_bad, identity_matches(len(pa)), config=VerificationConfig(model="homography"))
    assert v.ransac == "fitted" and v.model_name == "homography"
    assert not v.inliers[:10].any() and v.inliers[10:].all()
    h = v.model
    assert h is not None
    proj = np.c_[pa, np.ones(len(pa))] @ h.T
    np.testing.assert_allclose(proj[10:, :2] / proj[10:, 2:], pb[10:], atol=1e-3)


def test_too_few_matches_keep_the_gates_and_skip_ransac() -> None:
    pa, pb = two_views(n=7, seed=4)
    pb = pb.copy()
    pb[1] = np.clip(pa[1] + np.array([80.0, 0.0]), 0, 319)  # a long jump
    dist = np.full(7, 0.2)
    dist[2] = 0.9  # descriptors too far apart
    m = identity_matches(7)
    v = verify_matches(pa, pb, m, dist, VerificationConfig(max_displacement=40.0))
    assert v.ransac == "too_few" and v.model is None
    assert v.rejected_by.tolist() == [0, REJECT_DISPLACEMENT, REJECT_DESCRIPTOR, 0, 0, 0, 0]
    assert v.inliers.sum() == 5  # the rest is kept, unverified
    # the minimum counts after the gates: 8 candidates, one gated -> 7 reach RANSAC -> too few
    pa8, pb8 = two_views(n=8, seed=5)
    d8 = np.full(8, 0.2)
    assert verify_matches(pa8, pb8, identity_matches(8), d8).ransac == "fitted"
    d8[0] = 1.5
    assert verify_matches(pa8, pb8, identity_matches(8), d8).ransac == "too_few"
    h = VerificationConfig(model="homography")
    assert verify_matches(pa8[:3], pb8[:3], identity_matches(3), config=h).ransac == "too_few"
    assert verify_matches(pa8[:4], pb8[:4], identity_matches(4), config=h).ransac in ("fitted", "no_model")
    empty = verify_matches(pa8, pb8, np.zeros((0, 2), np.int64), np.zeros(0))
    assert empty.ransac == "too_few" and empty.matches.shape == (0, 2)


def test_no_model_rejects_every_match_that_reached_ransac() -> None:
    line = np.stack([np.arange(12.0) * 10 + 5, np.full(12, 50.0)], axis=1)  # all on one line: no F, no H
    m = identity_matches(12)
    for model in ("fundamental", "homography"):
        v = verify_matches(line, line + 3.0, m, np.zeros(12), VerificationConfig(model=model))
        assert v.ransac == "no_model" and v.model is None
        assert not v.inliers.any() and (v.rejected_by == REJECT_RANSAC).all()


def test_gates_only_and_off() -> None:
    pa, pb = two_views(n=20, seed=6)
    dist = np.linspace(0.0, 1.0, 20)
    m = identity_matches(20)
    v = verify_matches(pa, pb, m, dist, VerificationConfig(model=None))
    assert v.ransac == "off" and v.inliers.tolist() == (dist <= 0.7).tolist()
    assert (v.rejected_by[dist > 0.7] == REJECT_DESCRIPTOR).all()
    v = verify_matches(pa, pb, m, None, VerificationConfig.off())
    assert v.inliers.all() and v.ransac == "off"
    v = verify_matches(pa, pb, m, None, VerificationConfig(model=None))  # no distances: the descriptor gate is skipped
    assert v.inliers.all()
    with pytest.raises(ValueError, match="distances"):
        verify_matches(pa, pb, m, np.zeros(3))
    with pytest.raises(ValueError, match="out of range"):
        verify_matches(pa, pb, np.array([[0, 20]]), np.zeros(1))
    with pytest.raises(ValueError, match="integer"):
        verify_matches(pa, pb, np.array([[0.0, 1.0]]), np.zeros(1))
    with pytest.raises(ValueError, match="kpts_a"):
        verify_matches(pa[:, :1], pb, m, dist)
    with pytest.raises(TypeError, match="VerificationConfig"):
        verify_matches(pa, pb, m, dist, "fundamental")  # type: ignore[arg-type]


def test_match_verified_is_match_then_verify() -> None:
    pa, pb = two_views(n=60, seed=7)
    rng = np.random.default_rng(7)
    desc = rng.normal(size=(60, 64)).astype(np.float32)
    desc /= np.linalg.norm(desc, axis=1, keepdims=True)
    perm = rng.permutation(60)  # image b lists its points in another order
    kb, db = pb[perm], desc[perm]
    kb[:6] = rng.uniform([0, 0], [319, 239], (6, 2))  # 6 of b's points are somewhere else: wrong matches
    v = match_verified(pa, desc, kb, db)
    cand, dist = match(desc, db, return_distances=True)
    np.testing.assert_array_equal(v.candidates, cand)
    np.testing.assert_array_equal(v.inliers, verify_matches(pa, kb, cand, dist).inliers)
    moved = {int(i) for i in perm[:6]}  # indices into a of the points that moved
    kept = {int(i) for i in v.matches[:, 0]}
    assert not kept & moved and len(kept) >= 50


# ---------------------------------------------------------------------------------------------------------------------
# The tracker
# ---------------------------------------------------------------------------------------------------------------------


def _feats(points: np.ndarray, desc: np.ndarray) -> Features:
    return Features(points.astype(np.float32), np.ones(len(points), np.float32), desc, (240, 320))


def test_tracker_ends_a_track_whose_match_is_rejected() -> None:
    """A wrong match (a point's descriptor re-appears across the frame) bends the track without verification and
    ends it with verification (the default); the other tracks continue either way."""
    pa, pb = two_views(n=40, seed=8)
    rng = np.random.default_rng(8)
    desc = rng.normal(size=(40, 256)).astype(np.float32)
    desc /= np.linalg.norm(desc, axis=1, keepdims=True)
    jump = pb.copy()
    jump[0] = [300.0, 220.0] if pa[0][0] < 160 else [15.0, 15.0]  # far across the frame
    assert epipolar_distance(true_fundamental(), pa[:1], jump[:1])[0] > 20
    for verification, bent in ((None, True), (VerificationConfig(), False)):
        tr = PointTracker(verification=verification) if verification is None else PointTracker()
        tr.update(_feats(pa, desc))
        t = tr.update(_feats(jump, desc))
        assert bool(t.ids[0] == 0) is bent  # continued (bent) or a new track
        assert t.lengths[0] == (2 if bent else 1)
        assert (t.ids[1:] == np.arange(1, 40)).all() and (t.lengths[1:] == 2).all()
        v = tr.last_verification
        assert v is not None and len(v.candidates) == 40
        if not bent:
            assert v.rejected_by[0] == REJECT_RANSAC and tr.last_matches.shape == (39, 2)
            np.testing.assert_array_equal(t.start_points[0], jump[0].astype(np.float32))
            stats = tr.verification_stats()
            assert stats["frame_pairs"] == 1 and stats["candidates"] == 40 and stats["ransac"] == 1
            assert stats["kept"] == 39 and stats["fitted"] == 1
            assert tr.length_stats()["tracks"] == 41  # the rejected track ended; its point started another


def test_tracker_default_is_fundamental_and_off_is_explicit() -> None:
    assert PointTracker().verification == VerificationConfig()
    assert PointTracker().verification.model == "fundamental"
    assert PointTracker(verification=None).verification == VerificationConfig.off()
    with pytest.raises(TypeError, match="verification"):
        PointTracker(verification="fundamental")  # type: ignore[arg-type]


def test_tracker_displacement_gate_grows_with_skipped_frames() -> None:
    """The gate is per frame: a live stream that drops a frame allows twice the motion."""
    pts = np.array([[50.0, 50.0], [100.0, 80.0], [200.0, 150.0]])
    desc = np.eye(3, 8, dtype=np.float32)
    cfg = VerificationConfig(max_displacement=20.0)
    for gap, continued in ((1, False), (2, True)):
        tr = PointTracker(verification=cfg)
        tr.update(_feats(pts, desc), 0)
        t = tr.update(_feats(pts + np.array([25.0, 0.0]), desc), gap)  # 25 px: > 20, < 40
        assert bool((t.lengths == 2).all()) is continued
        assert tr.last_verification is not None and tr.last_verification.ransac == "too_few"  # 3 matches


def test_tracker_too_few_matches_are_kept_unverified() -> None:
    """Below 8 matches no F can be fitted: the tracker keeps what passes the gates (the existing tracker tests rely
    on this with 1-4 points)."""
    pa, pb = two_views(n=5, seed=9)
    desc = np.eye(5, 16, dtype=np.float32)
    tr = PointTracker()
    tr.update(_feats(pa, desc))
    t = tr.update(_feats(pb, desc))
    assert (t.lengths == 2).all() and tr.verification_stats()["too_few"] == 1


def test_draw_matches_can_leave_the_outliers_out() -> None:
    a = np.full((30, 40), 50, np.uint8)
    b = np.full((30, 40), 100, np.uint8)
    ka = np.array([[5.0, 5.0], [30.0, 20.0]])
    kb = np.array([[10.0, 10.0], [20.0, 25.0]])
    m = np.array([[0, 0], [1, 1]])
    inl = np.array([True, False])
    both = draw_matches(a, b, ka, kb, m, inl)
    only = draw_matches(a, b, ka, kb, m, inl, draw_outliers=False)
    assert tuple(both[20, 30]) == (0, 0, 255) and tuple(only[20, 30]) == (50, 50, 50)  # the outlier's endpoint
    assert tuple(only[5, 5]) == (0, 255, 0) and tuple(only[10, 40 + 10]) == (0, 255, 0)  # the inlier is drawn
    red = (only[:, :, 2] > 200) & (only[:, :, 1] < 80)
    assert not red.any()
