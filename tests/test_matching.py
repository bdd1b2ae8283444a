"""superpoint_rt.matching: the one mutual-nearest-neighbour matcher, against hand-worked cases and a brute-force loop
in float64; RANSAC homography on exact correspondences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from superpoint_rt.matching import (
    block_rows_for,
    estimate_homography,
    match,
    match_batch,
    mutual_nearest,
    mutual_nn_match,
)


def _brute_force(a: np.ndarray, b: np.ndarray, max_distance: float | None) -> set[tuple[int, int]]:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    out = set()
    for i, j in itertools.product(range(len(a)), range(len(b))):
        di = [np.linalg.norm(a64[i] - b64[q]) for q in range(len(b))]
        dj = [np.linalg.norm(a64[p] - b64[j]) for p in range(len(a))]
        if int(np.argmin(di)) == j and int(np.argmin(dj)) == i:
            if max_distance is None or di[j] <= max_distance:
                out.add((i, j))
    return out


def test_hand_worked_case() -> None:
    # a0 <-> b1 at 0.25; a2 <-> b0 at 0.125; a1's nearest is b0 (0.375), but b0's is a2 -> a1 unmatched.
    # Every coordinate and distance is exact in binary, so the threshold comparisons are exact too.
    a = np.array([[0.0, 0.0], [1.0, 0.0], [1.5, 0.0]], np.float32)
    b = np.array([[1.375, 0.0], [0.0, 0.25]], np.float32)
    np.testing.assert_array_equal(mutual_nn_match(a, b, max_distance=None), [[0, 1], [2, 0]])
    np.testing.assert_array_equal(mutual_nn_match(a, b, max_distance=0.2), [[2, 0]])  # 0.25 > 0.2
    np.testing.assert_array_equal(mutual_nn_match(a, b, max_distance=0.25), [[0, 1], [2, 0]])  # <= is kept


def test_equals_a_brute_force_loop() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(size=(30, 16)).astype(np.float32)
    b = np.concatenate([a[rng.permutation(30)[:20]] + 0.1 * rng.normal(size=(20, 16)), rng.normal(size=(15, 16))])
    b = b.astype(np.float32)
    for thr in (None, 0.5, 2.0, 5.0):
        got = {tuple(m) for m in mutual_nn_match(a, b, max_distance=thr).tolist()}
        assert got == _brute_force(a, b, thr)


def test_rows_sorted_and_each_index_used_once() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(200, 32)).astype(np.float32)
    b = rng.normal(size=(150, 32)).astype(np.float32)
    m = mutual_nn_match(a, b, max_distance=None)
    assert m.dtype == np.int64 and m.shape[1] == 2
    assert np.all(np.diff(m[:, 0]) > 0) and len(set(m[:, 1].tolist())) == len(m)


def test_mutual_nearest_ties_take_the_first_index() -> None:
    d = np.array([[1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(mutual_nearest(d), [[0, 0]])  # row 0 -> col 0 (first), col 0 -> row 0 (first)
    assert mutual_nearest(np.zeros((0, 3))).shape == (0, 2)
    with pytest.raises(ValueError, match="must be"):
        mutual_nearest(np.zeros(3))


def test_errors_and_empty() -> None:
    assert mutual_nn_match(np.zeros((0, 8), np.float32), np.ones((3, 8), np.float32)).shape == (0, 2)
    with pytest.raises(ValueError, match="dimensions differ"):
        mutual_nn_match(np.zeros((2, 8), np.float32), np.zeros((2, 9), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        mutual_nn_match(np.full((2, 8), np.nan, np.float32), np.zeros((2, 8), np.float32))
    with pytest.raises(TypeError, match="float"):
        mutual_nn_match(np.zeros((2, 8), np.int32), np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        mutual_nn_match(np.zeros(8, np.float32), np.zeros((2, 8), np.float32))


def test_homography_from_exact_matches() -> None:
    h = np.array([[1.1, 0.05, 3.0], [-0.02, 0.95, -2.0], [1e-4, 2e-4, 1.0]])
    rng = np.random.default_rng(0)
    pa = rng.uniform(0, 300, size=(40, 2))
    q = np.c_[pa, np.ones(40)] @ h.T
    pb = q[:, :2] / q[:, 2:]
    matches = np.stack([np.arange(40), np.arange(40)], axis=1)
    est, inliers = estimate_homography(pa, pb, matches, 1.0)
    assert est is not None and inliers.all()
    np.testing.assert_allclose(est / est[2, 2], h, rtol=1e-5, atol=1e-5)  # OpenCV refines in float64 to ~1e-6
    none, mask = estimate_homography(pa, pb, matches[:3])
    assert none is None and mask.shape == (3,) and not mask.any()


# ---------------------------------------------------------------------------------------------------------------------
# match / match_batch: mutual NN + ratio test + threshold, blocked, against a brute-force float64 oracle
# ---------------------------------------------------------------------------------------------------------------------


def _oracle(
    a: np.ndarray, b: np.ndarray, max_distance: float | None, ratio: float | None, mutual: bool
) -> tuple[list[tuple[int, int]], list[float]]:
    """The definition, row by row in float64: nearest (first index on ties), mutual, Lowe's strict ratio against the
    second-smallest distance (equal to the smallest on a tie), inclusive threshold."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    if len(a) == 0 or len(b) == 0:
        return [], []
    d = np.sqrt(((a64[:, None, :] - b64[None, :, :]) ** 2).sum(-1))
    pairs, dist = [], []
    for i in range(len(a)):
        j = int(np.argmin(d[i]))
        if mutual and int(np.argmin(d[:, j])) != i:
            continue
        if max_distance is not None and not d[i, j] <= max_distance:
            continue
        if ratio is not None and len(b) >= 2 and not d[i, j] < ratio * np.sort(d[i])[1]:
            continue
        pairs.append((i, j))
        dist.append(float(d[i, j]))
    return pairs, dist


def _unit(rng: np.random.Generator, n: int, dim: int = 32) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _related(rng: np.random.Generator, n: int, m: int, dim: int = 32, noise: float = 0.3) -> tuple:
    a = _unit(rng, n, dim)
    k = min(n, m) * 2 // 3
    copies = a[rng.permutation(n)[:k]] + noise / np.sqrt(dim) * rng.normal(size=(k, dim))
    b = np.concatenate([copies, _unit(rng, m - k, dim)])
    return a, (b / np.linalg.norm(b, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("mutual", [True, False])
@pytest.mark.parametrize("ratio", [None, 0.8, 1.0])
@pytest.mark.parametrize("max_distance", [None, 0.7, 1.2])
def test_match_equals_the_float64_oracle(mutual, ratio, max_distance) -> None:
    rng = np.random.default_rng(11)
    for n, m, block_rows in ((60, 45, None), (60, 45, 7), (1, 9, None), (9, 1, 2), (33, 33, 1)):
        a, b = _related(rng, n, m)
        pairs, dist = match(
            a, b, max_distance=max_distance, ratio=ratio, mutual=mutual, block_rows=block_rows, return_distances=True
        )
        want, want_d = _oracle(a, b, max_distance, ratio, mutual)
        assert [tuple(p) for p in pairs.tolist()] == want, (n, m, block_rows)
        assert pairs.dtype == np.int64 and dist.dtype == np.float32
        np.testing.assert_allclose(dist, want_d, rtol=1e-6)


def test_ties_go_to_the_lower_index_across_blocks() -> None:
    # b0 == b2: every row's nearest is the first copy; a0 == a3: column 0's nearest is the first copy, even when the
    # copies fall in different blocks (block_rows=1), and a tie between two nearest neighbours fails the ratio test
    a = np.array([[1, 0], [0, 1], [-1, 0], [1, 0]], np.float32)
    b = np.array([[1, 0], [0, 1], [1, 0]], np.float32)
    for rows in (None, 1, 2):
        np.testing.assert_array_equal(match(a, b, max_distance=None, block_rows=rows), [[0, 0], [1, 1]])
        one_way = match(a, b, max_distance=None, mutual=False, block_rows=rows)
        np.testing.assert_array_equal(one_way, [[0, 0], [1, 1], [2, 1], [3, 0]])
        np.testing.assert_array_equal(match(a, b, max_distance=None, ratio=1.0, block_rows=rows), [[1, 1]])
        got = [tuple(p) for p in match(a, b, max_distance=None, block_rows=rows).tolist()]
        assert got == _oracle(a, b, None, None, True)[0]


def test_empty_inputs() -> None:
    e = np.zeros((0, 8), np.float32)
    x = np.ones((3, 8), np.float32)
    for a, b in ((e, x), (x, e), (e, e)):
        pairs, dist = match(a, b, ratio=0.8, return_distances=True)
        assert pairs.shape == (0, 2) and pairs.dtype == np.int64 and dist.shape == (0,) and dist.dtype == np.float32
    assert [p.shape for p in match_batch([])] == []
    assert [p.shape for p in match_batch([(e, x), (x, x)])] == [(0, 2), (1, 2)]


def test_ratio_edges() -> None:
    # a0 is 0.25 from b0 and 0.5 from b1 (exact in binary): the ratio 0.5 is strict, anything above passes
    a = np.array([[0.0, 0.0]], np.float32)
    b = np.array([[0.25, 0.0], [0.0, 0.5]], np.float32)
    assert match(a, b, max_distance=None, ratio=0.5).shape == (0, 2)
    np.testing.assert_array_equal(match(a, b, max_distance=None, ratio=np.nextafter(0.5, 1.0)), [[0, 0]])
    np.testing.assert_array_equal(match(a, b, max_distance=None, ratio=1.0), [[0, 0]])
    # one candidate: no second neighbour, the test passes
    np.testing.assert_array_equal(match(a, b[:1], max_distance=None, ratio=0.01), [[0, 0]])
    # a zero distance passes any ratio unless the second neighbour is at zero too
    np.testing.assert_array_equal(match(a, np.array([[0, 0], [1, 0]], np.float32), ratio=0.01), [[0, 0]])
    assert match(a, np.array([[0, 0], [0, 0]], np.float32), ratio=1.0).shape == (0, 2)
    for bad in (0.0, -0.5, 1.5, float("nan"), "x"):
        with pytest.raises(ValueError, match="ratio"):
            match(a, b, ratio=bad)


def test_threshold_exactly_at_the_boundary() -> None:
    """The threshold reads the exact float64 distance, not the expansion |a|^2 + |b|^2 - 2ab (whose float32 rounding
    is ~1e-6 here, millions of float64 ulps): a pair exactly at max_distance is kept, one ulp below it is not."""
    rng = np.random.default_rng(2)
    a = _unit(rng, 50, 256)
    b = a + np.float32(2.0**-7) * np.sign(rng.normal(size=a.shape)).astype(np.float32)
    exact = np.linalg.norm(a.astype(np.float64) - b.astype(np.float64), axis=1)
    for i in range(0, 50, 7):
        m = match(a[i : i + 1], b[i : i + 1], max_distance=float(exact[i]))
        np.testing.assert_array_equal(m, [[0, 0]])
        assert match(a[i : i + 1], b[i : i + 1], max_distance=float(np.nextafter(exact[i], 0))).shape == (0, 2)
    pairs, dist = match(a, b, max_distance=None, return_distances=True)
    np.testing.assert_array_equal(pairs, np.stack([np.arange(50)] * 2, axis=1))
    np.testing.assert_allclose(dist, exact, rtol=1e-7)
    for bad in (-0.1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="max_distance"):
            match(a, b, max_distance=bad)
    with pytest.raises(ValueError, match="block_rows"):
        match(a, b, block_rows=0)
    with pytest.raises(ValueError, match="device"):
        match(a, b, device="tpu")


def test_equals_cv2_bfmatcher_knn_with_mutual_check_and_ratio() -> None:
    """cv2.BFMatcher(NORM_L2).knnMatch(a, b, k=2) + ratio on the two + mutual check via knnMatch(b, a, k=1) + threshold
    == match(...), on random unit descriptors (256-d: near-ties are far above float32 rounding)."""
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(4)
    a, b = _related(rng, 400, 350, dim=256, noise=1.0)
    bf = cv2.BFMatcher(cv2.NORM_L2)
    fwd = bf.knnMatch(a, b, k=2)
    back = {m[0].queryIdx: m[0].trainIdx for m in bf.knnMatch(b, a, k=1)}
    for ratio, thr in ((None, None), (0.9, None), (0.8, 1.0), (None, 0.8)):
        want, want_d = [], []
        for i, (m1, m2) in enumerate(fwd):
            if back[m1.trainIdx] != i or (ratio is not None and not m1.distance < ratio * m2.distance):
                continue
            if thr is not None and not m1.distance <= thr:
                continue
            want.append((i, m1.trainIdx))
            want_d.append(m1.distance)
        pairs, dist = match(a, b, max_distance=thr, ratio=ratio, return_distances=True)
        assert [tuple(p) for p in pairs.tolist()] == want and len(want) > 30
        np.testing.assert_allclose(dist, want_d, atol=1e-5)


def test_match_batch_is_match_per_pair() -> None:
    rng = np.random.default_rng(8)
    pairs = [_related(rng, n, m) for n, m in ((40, 30), (5, 50), (30, 1), (0, 4), (25, 25))]
    got = match_batch(pairs, ratio=0.9, max_distance=1.2, return_distances=True)
    for (a, b), (p, d) in zip(pairs, got):
        p1, d1 = match(a, b, ratio=0.9, max_distance=1.2, return_distances=True)
        np.testing.assert_array_equal(p, p1)
        np.testing.assert_array_equal(d, d1)
    with pytest.raises(TypeError, match="pairs"):
        match_batch([pairs[0][0]])


def test_mutual_nn_match_is_match_without_ratio() -> None:
    rng = np.random.default_rng(9)
    a, b = _related(rng, 80, 70)
    for thr in (None, 0.7):
        np.testing.assert_array_equal(mutual_nn_match(a, b, thr), match(a, b, max_distance=thr))


def test_memory_stays_bounded_at_4k(monkeypatch) -> None:
    """4096 x 4096 x 256: the full distance matrix would take 64 MiB; blocks of max(16, 2**20 // M) rows keep the
    peak near 4 MiB per block (plus the argmin copies), measured with tracemalloc (NumPy reports its buffers to it).
    The BLAS product runs inside single_threaded_blas (the tracker's thread policy)."""
    import contextlib
    import tracemalloc

    import superpoint_rt.matching as M

    entered = []
    real = M.single_threaded_blas

    @contextlib.contextmanager
    def spy():
        entered.append(True)
        with real():
            yield

    monkeypatch.setattr(M, "single_threaded_blas", spy)
    rng = np.random.default_rng(0)
    a, b = _unit(rng, 4096, 256), _unit(rng, 4096, 256)
    assert block_rows_for(4096) == 256 and block_rows_for(10**7) == 16
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        match(a, b, ratio=0.9)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert entered and peak < 24 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_torch_path_on_cpu_tensors_equals_numpy() -> None:
    """The torch code path (what runs on CUDA), on CPU tensors: batched with padding (pairs of different sizes, an
    empty pair, a single candidate), small blocks, every option, against the NumPy path and the oracle."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    pairs = [_related(rng, n, m) for n, m in ((40, 30), (5, 50), (30, 1), (0, 4), (25, 25), (33, 2))]
    tpairs = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in pairs]
    for kw in ({}, {"ratio": 0.9}, {"ratio": 1.0, "max_distance": None}, {"mutual": False, "ratio": 0.8}):
        for rows in (None, 3):
            got = match_batch(tpairs, block_rows=rows, return_distances=True, **kw)
            want = match_batch(pairs, return_distances=True, **kw)
            for (p, d), (p1, d1), (a, b) in zip(got, want, pairs):
                np.testing.assert_array_equal(p, p1)
                np.testing.assert_allclose(d, d1, rtol=1e-6)
                o = _oracle(a, b, kw.get("max_distance", 0.7), kw.get("ratio"), kw.get("mutual", True))[0]
                assert [tuple(x) for x in p.tolist()] == o
    a, b = pairs[0]
    np.testing.assert_array_equal(match(torch.from_numpy(a), b, device="cpu"), match(a, b))
    with pytest.raises(ValueError, match="NaN"):
        match(torch.full((2, 4), float("nan")), torch.zeros((2, 4)))
    with pytest.raises(TypeError, match="float"):
        match(torch.zeros((2, 4), dtype=torch.int32), torch.zeros((2, 4)))


@pytest.mark.gpu
def test_cuda_path_equals_numpy() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: the torch path is tested on CPU tensors above")
    rng = np.random.default_rng(13)
    pairs = [_related(rng, n, m, dim=256) for n, m in ((2000, 1800), (300, 10), (0, 5), (40, 1))]
    for kw in ({}, {"ratio": 0.9, "max_distance": None}):
        got = match_batch(pairs, device="cuda", return_distances=True, **kw)
        want = match_batch(pairs, return_distances=True, **kw)
        for (p, d), (p1, d1) in zip(got, want):
            np.testing.assert_array_equal(p, p1)
            np.testing.assert_allclose(d, d1, rtol=1e-6)


def test_bench_matching_script_runs(tmp_path, monkeypatch) -> None:
    """bench/bench_matching.py end to end at a toy size (random descriptors): JSON rows, equal pairs with cv2."""
    import importlib.util
    import json
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "bench_matching.py"
    if not path.is_file():
        pytest.skip("bench/ is not next to the tests (installed package)")
    spec = importlib.util.spec_from_file_location("bench_matching", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "m.json"
    argv = ["bench_matching.py", "--points", "60", "120", "--descriptors", "random", "--rounds", "1", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    cv2 = pytest.importorskip("cv2")
    threads = cv2.getNumThreads()
    try:
        assert mod.main() == 0
    finally:
        cv2.setNumThreads(threads)  # the script pins OpenCV to one thread
    rows = json.loads(out.read_text())["rows"]
    assert [r["points"] for r in rows] == [60, 120]
    assert all(r["same_pairs_mutual_ratio"] and r["same_pairs_mutual"] for r in rows)
