"""Metrics of superpoint_rt.eval.metrics on hand-built cases with answers worked out by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from superpoint_rt.eval import metrics as M

SHAPE = (120, 160)  # (height, width)


def grid_points(step: int = 20, offset: float = 10.0, shape: tuple[int, int] = SHAPE) -> np.ndarray:
    ys, xs = np.mgrid[offset : shape[0] - 1 : step, offset : shape[1] - 1 : step]
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)


def translation(tx: float, ty: float) -> np.ndarray:
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


# ---------------------------------------------------------------- repeatability / localisation error


def test_identity_repeatability_is_one() -> None:
    kp = grid_points()
    r = M.repeatability(kp, kp.copy(), np.eye(3), SHAPE, SHAPE)
    assert r.repeatability == 1.0
    assert r.localization_error == 0.0
    assert r.n1 == r.n2 == len(kp)


def test_translation_counts_only_shared_points() -> None:
    tx, ty = 30.5, -12.25
    kp1 = grid_points()  # x in 10..150, y in 10..110
    kp2 = kp1 + np.array([tx, ty])  # the same scene points seen in image 2 ...
    kp2 = kp2[(kp2[:, 0] <= 159) & (kp2[:, 1] >= 0)]  # ... where they fall inside image 2
    kp2 = np.concatenate([kp2, [[150.0, 5.0]]])  # + one image-2 point whose scene point is outside image 1
    r = M.repeatability(kp1, kp2, translation(tx, ty), SHAPE, SHAPE, eps=3.0)
    # by hand: x in {10, 30, ..., 150} needs x + 30.5 <= 159 -> 6 columns; y in {10, ..., 110} needs
    # y - 12.25 >= 0 -> 5 rows; the extra point maps to (119.5, 17.25) in image 1: shared but unmatched
    xs = np.arange(10, 151, 20)
    ys = np.arange(10, 111, 20)
    vis_cols = int(((xs + tx >= 0) & (xs + tx <= 159)).sum())
    vis_rows = int(((ys + ty >= 0) & (ys + ty <= 119)).sum())
    assert (vis_cols, vis_rows) == (6, 5)
    assert r.n1 == vis_cols * vis_rows == 30
    assert r.n2 == 31
    assert (r.repeated1, r.repeated2) == (30, 30)
    assert r.repeatability == pytest.approx(60 / 61)
    assert r.localization_error == pytest.approx(0.0, abs=1e-6)


def test_partial_repeatability_by_hand() -> None:
    kp1 = grid_points(step=30)  # well separated: nearest other point is 30 px away
    n = len(kp1)
    offsets = np.zeros_like(kp1)
    offsets[: n // 2] = [0.6, 0.8]  # 1.0 px away: repeated
    offsets[n // 2 :] = [4.0, 0.0]  # 4.0 px away: not repeated at eps 3
    kp2 = kp1 + offsets
    r = M.repeatability(kp1, kp2, np.eye(3), SHAPE, SHAPE, eps=3.0)
    assert r.repeated1 == r.repeated2 == n // 2
    assert r.repeatability == pytest.approx((n // 2) * 2 / (2 * n))
    assert r.localization_error == pytest.approx(1.0)
    # at eps 4 every point is repeated; the error is the mean of 1.0 and 4.0 distances
    r4 = M.repeatability(kp1, kp2, np.eye(3), SHAPE, SHAPE, eps=4.0)
    assert r4.repeatability == 1.0
    half = n // 2
    assert r4.localization_error == pytest.approx((half * 1.0 + (n - half) * 4.0) / n)


def test_top_k_is_taken_after_the_shared_region_filter() -> None:
    kp1 = np.array([[150.0, 50.0], [20.0, 50.0], [40.0, 50.0]])  # first point leaves image 2
    scores1 = np.array([0.9, 0.5, 0.1])
    h = translation(20.0, 0.0)
    kp2 = np.array([[40.0, 50.0], [90.0, 90.0]])
    scores2 = np.array([0.8, 0.7])
    r = M.repeatability(kp1, kp2, h, SHAPE, SHAPE, 3.0, scores1, scores2, top_k=1)
    # kept: image 1 -> (20, 50) (best shared point), image 2 -> (40, 50); both repeated
    assert (r.n1, r.n2, r.repeated1, r.repeated2) == (1, 1, 1, 1)
    assert r.repeatability == 1.0


def test_points_behind_the_camera_are_not_shared() -> None:
    h = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-0.02, 0.0, 1.0]])  # w < 0 for x > 50
    pts = np.array([[10.0, 10.0], [100.0, 10.0]])
    mask = M.shared_mask(pts, h, (10_000, 10_000))
    assert mask.tolist() == [True, False]


# ---------------------------------------------------------------- NN mAP and matching score

KP = np.array([[10.0, 10.0], [50.0, 10.0], [10.0, 60.0], [50.0, 60.0]])
D1 = np.array([[0.0], [10.0], [20.0], [30.0]])


def test_perfect_descriptors() -> None:
    d2 = np.array([[0.1], [10.2], [20.3], [30.4]])
    assert M.nn_map(KP, D1, KP, d2, np.eye(3), SHAPE, SHAPE) == pytest.approx(1.0)
    assert M.matching_score(KP, D1, KP, d2, np.eye(3), SHAPE, SHAPE) == pytest.approx(1.0)


def test_a_wrong_match_lowers_map_and_matching_score_by_the_computed_amount() -> None:
    d2 = np.array([[0.1], [0.05], [20.3], [30.4]])  # point 1 of image 2 now looks like point 0
    # 1 -> 2: NN of 0 is 1 (d .05, wrong), of 1 is 0 (d 9.9, wrong), of 2 is 2 (.3), of 3 is 3 (.4)
    #   ranked: wrong, right, right, wrong -> AP = (1/2 + 2/3) / 4
    # 2 -> 1: NN of 0 is 0 (.1, right), of 1 is 0 (.05, wrong), 2 -> 2 (.3), 3 -> 3 (.4)
    #   ranked: wrong, right, right, right -> AP = (1/2 + 2/3 + 3/4) / 4
    ap12 = (1 / 2 + 2 / 3) / 4
    ap21 = (1 / 2 + 2 / 3 + 3 / 4) / 4
    assert M.nn_map(KP, D1, KP, d2, np.eye(3), SHAPE, SHAPE) == pytest.approx((ap12 + ap21) / 2)
    r = M.ranked_nn_matches(KP, D1, KP, d2, np.eye(3), SHAPE, SHAPE)
    assert r.correct.tolist() == [False, True, True, False]
    assert r.num_positives == 4
    # with recall_base="retrieved" the denominator is the 2 correct matches
    rr = M.ranked_nn_matches(KP, D1, KP, d2, np.eye(3), SHAPE, SHAPE, recall_base="retrieved")
    assert M.average_precision(rr) == pytest.approx((1 / 2 + 2 / 3) / 2)
    # mutual NN: (0,1) wrong, (2,2) and (3,3) right; (1,0) is not mutual -> 2 correct of 4 and 4
    assert M.matching_score(KP, D1, KP, d2, np.eye(3), SHAPE, SHAPE) == pytest.approx(0.5)


def test_descriptor_metrics_equal_the_separate_functions() -> None:
    rng = np.random.default_rng(3)
    kp1 = rng.uniform(0, 150, (60, 2))
    h = translation(7.0, -3.0)
    kp2 = M.warp(kp1, h)[0] + rng.normal(0, 1.0, kp1.shape)
    d1 = rng.normal(size=(60, 16))
    d2 = d1 + rng.normal(0, 0.7, d1.shape)
    dm = M.descriptor_metrics(kp1, d1, kp2, d2, h, SHAPE, SHAPE)
    assert dm.nn_map == pytest.approx(M.nn_map(kp1, d1, kp2, d2, h, SHAPE, SHAPE))
    assert dm.matching_score == pytest.approx(M.matching_score(kp1, d1, kp2, d2, h, SHAPE, SHAPE))
    full = M.descriptor_distances(d1, d2)
    dm2 = M.descriptor_metrics(kp1, d1, kp2, d2, h, SHAPE, SHAPE, distances=full)
    assert dm2.nn_map == pytest.approx(dm.nn_map)


def test_mutual_nn_matches_equal_a_brute_force_loop() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 8))
    b = rng.normal(size=(35, 8))
    got = {tuple(m) for m in M.mutual_nn_matches(a, b).tolist()}
    expected = set()
    for i, j in itertools.product(range(40), range(35)):
        di = [np.linalg.norm(a[i] - b[q]) for q in range(35)]
        dj = [np.linalg.norm(a[p] - b[j]) for p in range(40)]
        if int(np.argmin(di)) == j and int(np.argmin(dj)) == i:
            expected.add((i, j))
    assert got == expected


def test_descriptor_distances_match_float64_oracle() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(7, 5)).astype(np.float32)
    b = rng.normal(size=(6, 5)).astype(np.float32)
    oracle = np.array([[np.linalg.norm(x.astype(np.float64) - y) for y in b] for x in a])
    np.testing.assert_allclose(M.descriptor_distances(a, b), oracle, atol=1e-6)
    with pytest.raises(ValueError, match="same D"):
        M.descriptor_distances(a, b[:, :3])


# ---------------------------------------------------------------- homography correctness


def test_corner_error_at_the_epsilon_boundary() -> None:
    truth = np.eye(3)
    est = translation(3.0, 4.0)  # every corner moves by exactly 5 px
    err = M.corner_error(est, truth, SHAPE)
    assert err == pytest.approx(5.0)
    assert M.homography_correct(err, 5.0)
    assert not M.homography_correct(err, 4.999)
    est = translation(3.0, 0.0)
    assert M.homography_correct(M.corner_error(est, truth, SHAPE), 3.0)
    assert not M.homography_correct(M.corner_error(est, truth, SHAPE), 1.0)


def test_corner_error_mixed_corners() -> None:
    # an estimate that scales x by 1.01 about the origin: corners move by 0, 0, 1.59, 1.59 (W-1 = 159)
    est = np.diag([1.01, 1.0, 1.0])
    assert M.corner_error(est, np.eye(3), SHAPE) == pytest.approx((0 + 0 + 1.59 + 1.59) / 4)


def test_failed_estimate_counts_as_wrong() -> None:
    assert M.corner_error(None, np.eye(3), SHAPE) == float("inf")
    assert not M.homography_correct(float("inf"), 1e9)
    kp = np.zeros((3, 2))
    est = M.estimate_homography(kp, np.eye(3), kp, np.eye(3), np.eye(3), SHAPE)
    assert est.homography is None and est.error == float("inf")


def test_homography_auc_equals_the_integral_of_the_accuracy_curve() -> None:
    rng = np.random.default_rng(3)
    errors = [*rng.uniform(0, 8, 40), float("inf"), None, 0.0, 5.0]
    # oracle: accuracy(t) = fraction of pairs with error <= t, integrated on a fine grid over [0, 5] by trapezoids
    finite = np.array([e if e is not None else np.inf for e in errors])
    t = np.linspace(0, 5, 200001)
    acc = (finite[None, :] <= t[:, None]).mean(axis=1)
    oracle = float(np.sum((acc[1:] + acc[:-1]) / 2 * np.diff(t)) / 5)
    assert M.homography_auc(errors, 5.0) == pytest.approx(oracle, abs=1e-4)
    assert M.homography_auc([0.0, 0.0]) == 1.0 and M.homography_auc([None, 7.0]) == 0.0
    assert M.auc_score(1.0, 4.0) == 0.75
    with pytest.raises(ValueError, match="at least one"):
        M.homography_auc([])
    with pytest.raises(ValueError, match="max_eps"):
        M.auc_score(1.0, 0.0)
    with pytest.raises(ValueError, match=">= 0"):
        M.auc_score(-1.0, 5.0)


def test_estimate_homography_recovers_the_truth() -> None:
    rng = np.random.default_rng(2)
    truth = np.array([[0.95, 0.05, 4.0], [-0.03, 1.02, -6.0], [1e-4, -2e-4, 1.0]])
    kp1 = rng.uniform(5, 150, (80, 2))
    kp2 = M.warp(kp1, truth)[0]
    desc = rng.normal(size=(80, 32))
    perm = rng.permutation(80)  # image 2 lists its points in another order
    kp2, desc2 = kp2[perm], desc[perm]
    # 15 outliers in image 2: wrong positions, descriptors that match nothing well
    kp2 = np.concatenate([kp2, rng.uniform(0, 150, (15, 2))])
    desc2 = np.concatenate([desc2, rng.normal(size=(15, 32)) * 10])
    est = M.estimate_homography(kp1, desc, kp2, desc2, truth, SHAPE)
    assert len(est.matches) >= 80
    assert est.error < 1e-2


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        M.repeatability(np.zeros((3, 3)), np.zeros((3, 2)), np.eye(3), SHAPE, SHAPE)
    with pytest.raises(ValueError, match="3x3"):
        M.repeatability(np.zeros((3, 2)), np.zeros((3, 2)), np.eye(2), SHAPE, SHAPE)
    with pytest.raises(ValueError, match="recall_base"):
        M.ranked_nn_matches(KP, D1, KP, D1, np.eye(3), SHAPE, SHAPE, recall_base="x")


def test_homography_trials_reorder_the_matches_and_keep_trial_0() -> None:
    rng = np.random.default_rng(5)
    truth = np.array([[1.02, 0.03, -3.0], [0.01, 0.98, 5.0], [5e-5, 1e-4, 1.0]])
    kp1 = rng.uniform(5, 150, (60, 2))
    kp2 = M.warp(kp1, truth)[0] + rng.normal(0, 0.8, (60, 2))  # noisy positions: trials may differ a little
    kp2[:12] = rng.uniform(0, 150, (12, 2))  # 12 outliers
    matches = np.stack([np.arange(60), np.arange(60)], axis=1)
    errs = M.homography_trial_errors(kp1, kp2, matches, truth, SHAPE, 6)
    assert len(errs) == 6 and all(e < 2.0 for e in errs)  # every order finds the homography
    desc = np.eye(60)
    est = M.estimate_homography(kp1, desc, kp2, desc, truth, SHAPE)  # identical descriptors: matches i <-> i
    assert np.array_equal(est.matches, matches)
    assert errs[0] == est.error  # trial 0 is the plain estimate
    assert M.homography_trial_errors(kp1, kp2, matches, truth, SHAPE, 6) == errs  # deterministic
    assert M.homography_trial_errors(kp1, kp2, matches[:3], truth, SHAPE, 2) == [float("inf")] * 2
    with pytest.raises(ValueError, match="trials"):
        M.homography_trial_errors(kp1, kp2, matches, truth, SHAPE, 0)


def test_point_nms_by_hand() -> None:
    pts = np.array([[10.0, 10.0], [13.5, 12.0], [14.5, 10.0], [30.0, 30.0], [10.0, 10.0]])
    sc = np.array([0.9, 0.5, 0.8, 0.1, 0.9])
    # (10,10) first (index 0 beats its duplicate 4 on the tie); (13.5,12) is 3.5 px away: suppressed;
    # (14.5,10) is 4.5 px away: kept; (30,30) alone: kept.
    assert M.point_nms(pts, sc, 4).tolist() == [0, 2, 3]
    assert M.point_nms(pts, sc, 0).tolist() == [0, 1, 2, 3]  # only the exact duplicate goes
    # a suppressed point suppresses nothing: 1 is removed by 0, so 2 (4 px from 1, 5 from 0) stays at r = 4.5
    chain = np.array([[0.0, 0.0], [4.0, 0.0], [8.0, 0.0]])
    assert M.point_nms(chain, np.array([3.0, 2.0, 1.0]), 4.5).tolist() == [0, 2]
    assert M.point_nms(np.zeros((0, 2)), np.zeros(0), 4).tolist() == []


def test_point_nms_on_pixel_points_equals_heatmap_nms() -> None:
    from superpoint_rt.ops.reference import nms

    rng = np.random.default_rng(3)
    h, w = 40, 50
    heat = np.zeros((h, w), np.float32)
    idx = rng.choice(h * w, 300, replace=False)
    heat.ravel()[idx] = rng.permutation(300).astype(np.float32) / 300 + 0.01  # distinct scores
    pts = np.stack([idx % w, idx // w], axis=1).astype(np.float64)
    for r in (1, 2, 4):
        want = sorted(nms(heat, conf_threshold=0.005, nms_radius=r).tolist())
        got = sorted((idx[M.point_nms(pts, heat.ravel()[idx], r)]).tolist())
        assert got == want, r


def test_point_nms_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="scores"):
        M.point_nms(np.zeros((3, 2)), np.zeros(2), 4)
    with pytest.raises(ValueError, match="radius"):
        M.point_nms(np.zeros((3, 2)), np.zeros(3), -1)
    with pytest.raises(ValueError, match="finite"):
        M.point_nms(np.array([[np.nan, 0.0]]), np.zeros(1), 4)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        M.point_nms(np.zeros((3, 3)), np.zeros(3), 4)


# ---------------------------------------------------------------- NN error anatomy


def test_nn_error_anatomy_by_hand() -> None:
    """Translation by (+2, 0). Image-1 points and where their descriptor NN (one-hot codes) lands in image 2:
    (20, 20) -> (22, 21): 1 px off, correct; (40, 60) has a partner at (42, 60) but its NN is (50, 60), 8 px off:
    near; (100, 80) has a partner at (102, 80) but its NN is (30, 100), 72.1 px off: far; (70, 20) has no point
    within 3 px of (72, 20) (the closest, (77, 20), is 5 px away): not a positive, whatever its NN."""
    kp1 = np.array([[20, 20], [40, 60], [100, 80], [70, 20]], np.float64)
    kp2 = np.array([[22, 21], [42, 60], [50, 60], [102, 80], [30, 100], [77, 20]], np.float64)
    e = np.eye(6)
    d2 = e.copy()
    d1 = np.stack([e[0], e[2], e[4], e[5]])
    a = M.nn_error_anatomy(kp1, d1, kp2, d2, translation(2, 0), SHAPE, SHAPE, eps=3.0, near_px=12.0)
    assert (a.with_partner, a.correct, a.near, a.far) == (3, 1, 1, 1)
    # a wider near band takes the far miss in; a 6 px band drops the 8 px miss to far
    b = M.nn_error_anatomy(kp1, d1, kp2, d2, translation(2, 0), SHAPE, SHAPE, eps=3.0, near_px=80.0)
    assert (b.correct, b.near, b.far) == (1, 2, 0)
    c = M.nn_error_anatomy(kp1, d1, kp2, d2, translation(2, 0), SHAPE, SHAPE, eps=3.0, near_px=6.0)
    assert (c.correct, c.near, c.far) == (1, 0, 2)


def test_nn_error_anatomy_empty_and_bad_band() -> None:
    kp = grid_points()
    d = np.eye(len(kp))
    a = M.nn_error_anatomy(kp[:0], d[:0], kp, d, np.eye(3), SHAPE, SHAPE)
    assert (a.with_partner, a.correct, a.near, a.far) == (0, 0, 0, 0)
    with pytest.raises(ValueError, match="near_px"):
        M.nn_error_anatomy(kp, d, kp, d, np.eye(3), SHAPE, SHAPE, eps=3.0, near_px=2.0)
