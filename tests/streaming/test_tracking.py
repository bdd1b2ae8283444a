"""PointTracker on synthetic features with known correspondences (hand-worked expected tracks)."""

from __future__ import annotations

import numpy as np
import pytest

from superpoint_rt.tracking import PointTracker, Tracks
from superpoint_rt.types import Features

RNG = np.random.default_rng(7)
DESC = RNG.normal(size=(20, 256)).astype(np.float32)
DESC /= np.linalg.norm(DESC, axis=1, keepdims=True)  # 20 well-separated unit descriptors (distance ~1.41)


def feats(points: dict[int, tuple[float, float]]) -> Features:
    """Features whose keypoint k has descriptor DESC[k]; ``points`` maps descriptor id -> (x, y)."""
    ids = list(points)
    kp = np.array([points[i] for i in ids], np.float32).reshape(-1, 2)
    return Features(kp, np.ones(len(ids), np.float32), DESC[ids].reshape(-1, 256), (100, 100))


def by_id(t: Tracks) -> dict[int, tuple[int, int, tuple[float, float]]]:
    """track id -> (length, start frame, current (x, y))."""
    return {
        int(i): (int(n), int(s), (float(p[0]), float(p[1])))
        for i, n, s, p in zip(t.ids, t.lengths, t.start_frames, t.keypoints)
    }


def test_tracks_ids_and_lengths() -> None:
    tr = PointTracker(max_length=3)
    # frame 0: points A(0), B(1), C(2)
    t0 = tr.update(feats({0: (10, 10), 1: (20, 20), 2: (30, 30)}))
    assert t0.ids.tolist() == [0, 1, 2] and t0.lengths.tolist() == [1, 1, 1]
    # frame 1: C and A move (listed in another order), B disappears, D(3) appears
    t1 = tr.update(feats({2: (31, 30), 3: (50, 50), 0: (11, 10)}))
    assert by_id(t1) == {2: (2, 0, (31, 30)), 3: (1, 1, (50, 50)), 0: (2, 0, (11, 10))}
    np.testing.assert_array_equal(tr.last_matches, [[0, 2], [2, 0]])  # (prev index, current index)
    # frame 2: A, C, D continue; B comes back but its track has ended: it gets a new id
    t2 = tr.update(feats({0: (12, 10), 1: (20, 21), 2: (32, 30), 3: (51, 50)}))
    assert by_id(t2) == {
        0: (3, 0, (12, 10)),
        4: (1, 2, (20, 21)),
        2: (3, 0, (32, 30)),
        3: (2, 1, (51, 50)),
    }
    # frame 3: only A; max_length=3 keeps A's last three positions, oldest first
    t3 = tr.update(feats({0: (13, 10)}))
    assert by_id(t3) == {0: (4, 0, (13, 10))}
    np.testing.assert_array_equal(t3.history[0], [[11, 10], [12, 10], [13, 10]])
    np.testing.assert_array_equal(t3.start_points[0], [10, 10])
    # lengths: A 4 (alive), B 1, C 3, D 2, B' 1 -> 5 tracks, mean 11/5; >= 2 frames: A, C, D -> 9/3
    st = tr.length_stats()
    assert st == {"tracks": 5, "mean_length": 11 / 5, "tracks_multi": 3, "mean_length_multi": 3.0, "max_length": 4}


def test_history_is_nan_padded_for_young_tracks() -> None:
    tr = PointTracker(max_length=4)
    tr.update(feats({0: (1, 2)}))
    t = tr.update(feats({0: (3, 4), 1: (5, 6)}))
    h = t.history
    assert h.shape == (2, 4, 2)
    assert np.isnan(h[0, :2]).all() and np.isnan(h[1, :3]).all()
    np.testing.assert_array_equal(h[0, 2:], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(t.keypoints, [[3, 4], [5, 6]])


def test_threshold_breaks_tracks_with_changed_descriptors() -> None:
    tr = PointTracker(nn_threshold=0.7)
    tr.update(feats({0: (10, 10), 1: (20, 20)}))

    # point 0's descriptor rotates by 30 degrees (distance 2 sin 15 = 0.52 < 0.7): tracked;
    # point 1's by 60 degrees (distance 1.0 > 0.7): a new track
    def rotated(k: int, deg: float) -> np.ndarray:
        other = DESC[10 + k] - DESC[k] * float(DESC[10 + k] @ DESC[k])
        other /= np.linalg.norm(other)
        a = np.deg2rad(deg)
        return np.cos(a) * DESC[k] + np.sin(a) * other

    f = Features(
        np.array([[11, 10], [21, 20]], np.float32),
        np.ones(2, np.float32),
        np.stack([rotated(0, 30), rotated(1, 60)]).astype(np.float32),
        (100, 100),
    )
    t = tr.update(f)
    assert t.ids.tolist() == [0, 2] and t.lengths.tolist() == [2, 1]


def test_mutual_nn_only() -> None:
    tr = PointTracker()
    tr.update(feats({0: (10, 10)}))
    # two candidates for the one old point: only its nearest neighbour (the exact copy) continues the track
    near = DESC[0] + 0.05 * DESC[5]
    near /= np.linalg.norm(near)
    f = Features(
        np.array([[40, 40], [11, 10]], np.float32),
        np.ones(2, np.float32),
        np.stack([near, DESC[0]]).astype(np.float32),
        (100, 100),
    )
    t = tr.update(f)
    assert t.ids.tolist() == [1, 0] and t.lengths.tolist() == [1, 2]


def test_empty_frames_end_all_tracks() -> None:
    tr = PointTracker()
    tr.update(feats({0: (10, 10), 1: (20, 20)}))
    tr.update(feats({0: (10, 10), 1: (20, 20)}))
    t = tr.update(Features.empty((100, 100)))
    assert len(t) == 0
    t = tr.update(feats({0: (10, 10)}))
    assert t.ids.tolist() == [2] and t.lengths.tolist() == [1]
    assert tr.length_stats()["tracks"] == 3


def test_frame_index_and_validation() -> None:
    tr = PointTracker()
    assert tr.update(feats({0: (1, 1)}), frame_index=10).frame_index == 10
    t = tr.update(feats({0: (2, 1)}), frame_index=13)  # live streams skip frames
    assert t.start_frames.tolist() == [10] and t.lengths.tolist() == [2]
    with pytest.raises(ValueError, match="increase"):
        tr.update(feats({0: (2, 1)}), frame_index=13)
    bad = Features(np.zeros((2, 2), np.float32), np.ones(2, np.float32), np.zeros((3, 256), np.float32), (9, 9))
    with pytest.raises(ValueError, match="descriptors"):
        tr.update(bad)
    with pytest.raises(ValueError):
        PointTracker(max_length=1)
    with pytest.raises(ValueError):
        PointTracker(nn_threshold=0.0)


def test_many_points_with_permutation_and_noise() -> None:
    """200 points moving with a known flow, shuffled each frame, descriptors slightly perturbed: every track
    continues and its history equals the true trajectory."""
    rng = np.random.default_rng(0)
    n, frames = 200, 6
    base = rng.normal(size=(n, 256)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    start = rng.uniform(0, 100, (n, 2))
    tr = PointTracker(max_length=4)
    for k in range(frames):
        perm = rng.permutation(n) if k else np.arange(n)  # frame 0 in order: track id = point index
        pos = start + k * np.array([1.5, -0.5])
        d = base + 0.02 * rng.normal(size=base.shape).astype(np.float32)
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        t = tr.update(Features(pos[perm].astype(np.float32), np.ones(n, np.float32), d[perm], (100, 100)))
        np.testing.assert_array_equal(t.ids, perm)
        assert (t.lengths == k + 1).all()
    np.testing.assert_allclose(t.start_points, start[perm], atol=1e-4)
    expect = np.stack([start + j * np.array([1.5, -0.5]) for j in range(frames - 4, frames)], axis=1)[perm]
    np.testing.assert_allclose(t.history, expect, atol=1e-4)


def test_mutual_nn_equals_the_distance_matrix_definition() -> None:
    """The tracker's matcher (superpoint_rt.matching.mutual_nn_match) agrees with a float64 distance-matrix oracle."""
    from superpoint_rt.matching import mutual_nn_match as mutual_nn

    rng = np.random.default_rng(3)
    a = rng.normal(size=(300, 256))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b = a[rng.permutation(300)[:250]] + 0.04 * rng.normal(size=(250, 256))  # 250 noisy copies ...
    b = np.concatenate([b, rng.normal(size=(50, 256))])  # ... and 50 unrelated
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    for thr in (0.3, 0.7, 2.0):
        d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
        nn_ab, nn_ba = d.argmin(1), d.argmin(0)
        i = np.arange(len(a))
        keep = (nn_ba[nn_ab] == i) & (d[i, nn_ab] <= thr)
        expect = np.stack([i[keep], nn_ab[keep]], axis=1)
        got = mutual_nn(a.astype(np.float32), b.astype(np.float32), thr)
        np.testing.assert_array_equal(got, expect)
    assert mutual_nn(np.zeros((0, 8), np.float32), np.ones((3, 8), np.float32)).shape == (0, 2)
    with pytest.raises(ValueError):
        mutual_nn(np.zeros((2, 8), np.float32), np.zeros((2, 9), np.float32))


def test_similarity_runs_on_one_blas_thread() -> None:
    """Spinning BLAS threads would steal the engine's cores in a stream loop (superpoint_rt._blas)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from superpoint_rt._blas import single_threaded_blas

    with single_threaded_blas():
        inside = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert all(n == 1 for n in inside)
