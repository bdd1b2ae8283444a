"""The CPU ops' fast paths (csrc/simd.h vector kernels, csrc/parallel.h threads) compute exactly
the documented float32 arithmetic of the shared per-element functions, bit for bit:

- oracles: NumPy float32 emulations of heatmap_cell / exp_f32 (heatmap.h, common.h) and of
  sample_plane / l2_normalize (sample_descriptors.h), one IEEE operation at a time in the same
  order, compared with ``assert_array_equal``;
- every kernel variant (SUPERPOINT_RT_CPU_ISA = scalar / generic / avx2 / avx512) and every
  thread count (SUPERPOINT_RT_NUM_THREADS) gives the same bits (subprocesses: both are read once);
- both descriptor paths (channel-major for few keypoints, channel-last for many) agree;
- errors (NaN/inf) name the first bad element whatever the split between threads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import superpoint_rt
from superpoint_rt import ops

F32 = np.float32


def assert_same_bits(got: np.ndarray, want: np.ndarray) -> None:
    """Equal bit patterns (so also the signs of zeros, which assert_array_equal ignores)."""
    assert got.dtype == want.dtype == F32 and got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


# ---------------------------------------------------------------------------------------------
# float32 emulations (the oracles)
# ---------------------------------------------------------------------------------------------
def _i32(u: int) -> np.int32:
    return np.int32(u - (1 << 32) if u >= 1 << 31 else u)


def exp_f32(x: np.ndarray) -> np.ndarray:
    """common.h exp_f32, operation by operation in float32 / int32."""
    m = np.ascontiguousarray(x, dtype=F32).view(np.int32).copy()
    m ^= (m >> 31) & np.int32(0x7FFFFFFF)
    m = np.clip(m, _i32(0xC2AEAC50 ^ 0x7FFFFFFF), np.int32(0x42B00000))
    m ^= (m >> 31) & np.int32(0x7FFFFFFF)
    x = m.view(F32)
    k_round = F32(12582912.0)
    n = (x * F32(1.44269504088896341) + k_round) - k_round
    r = x - n * F32(0.693359375)
    r = r - n * F32(-2.12194440e-4)
    p = np.full_like(x, F32(1.9875691500e-4))
    for c in (1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1):
        p = p * r + F32(c)
    p = p * r * r + r + F32(1.0)
    e = n.astype(np.int32) + np.int32(127)
    return p * (e.astype(np.uint32) << np.uint32(23)).view(F32)


def heatmap_f32(logits: np.ndarray) -> np.ndarray:
    """heatmap.h heatmap_cell for every cell of (65, Hc, Wc): float32 max-subtracted softmax with
    the documented summation order, then depth-to-space."""
    x = logits.astype(F32)
    m = x.max(axis=0)
    with np.errstate(over="ignore"):  # -3e38 - 3e38 = -inf, as in C++ (then clamped)
        e = exp_f32(x - m)
    s = [np.zeros_like(m) for _ in range(4)]
    for k in range(64):
        s[k % 4] = s[k % 4] + e[k]
    inv = F32(1.0) / (((s[0] + s[1]) + (s[2] + s[3])) + e[64])
    prob = e[:64] * inv
    _, hc, wc = x.shape
    return prob.reshape(8, 8, hc, wc).transpose(2, 0, 3, 1).reshape(8 * hc, 8 * wc)


def _axis_taps(p: np.ndarray, size: int, convention: str, cubic: bool) -> tuple[np.ndarray, np.ndarray]:
    """sample_axis_taps: coordinates and weights in float64, weights rounded to float32."""
    x = p.astype(np.float64)
    if convention == "center":
        u = (x - 3.5) / 8.0
    elif convention == "magicleap":
        u = x / 8.0 - 0.5
    else:
        u = (x - 3.5) * float(size - 1) / (8.0 * size - 4.5)
    u = np.clip(u, -2.0, size + 1.0)
    f = np.floor(u)
    t = u - f
    if cubic:
        a = -0.75
        d0, d1, d2, d3 = t + 1.0, t, 1.0 - t, 2.0 - t
        w = [
            ((a * d0 - 5.0 * a) * d0 + 8.0 * a) * d0 - 4.0 * a,
            ((a + 2.0) * d1 - (a + 3.0)) * d1 * d1 + 1.0,
            ((a + 2.0) * d2 - (a + 3.0)) * d2 * d2 + 1.0,
            ((a * d3 - 5.0 * a) * d3 + 8.0 * a) * d3 - 4.0 * a,
        ]
        first = f.astype(np.int64) - 1
    else:
        w = [1.0 - t, t]
        first = f.astype(np.int64)
    idx = first[:, None] + np.arange(len(w))[None, :]
    weights = np.stack(w, axis=1).astype(F32)
    if convention == "magicleap":
        weights = np.where((idx >= 0) & (idx < size), weights, F32(0.0))
    return np.clip(idx, 0, size - 1), weights


def sample_descriptors_f32(coarse: np.ndarray, kps: np.ndarray, interpolation: str, convention: str) -> np.ndarray:
    """sample_plane (float32, rows in order) then l2_normalize (four float64 partial sums)."""
    data = coarse.astype(F32)
    c, hc, wc = data.shape
    cubic = interpolation == "bicubic"
    iy, wy = _axis_taps(kps[:, 1], hc, convention, cubic)
    ix, wx = _axis_taps(kps[:, 0], wc, convention, cubic)
    acc: np.ndarray = np.zeros((len(kps), c), F32)
    for a in range(iy.shape[1]):
        row: np.ndarray = np.zeros((len(kps), c), F32)
        for b in range(ix.shape[1]):
            row = row + wx[:, b, None] * data[:, iy[:, a], ix[:, b]].T
        acc = acc + wy[:, a, None] * row
    sq = acc.astype(np.float64) ** 2  # exact in float64
    s = [np.zeros(len(kps)) for _ in range(4)]
    c4 = c - c % 4
    for k in range(c4):
        s[k % 4] = s[k % 4] + sq[:, k]
    for k in range(c4, c):
        s[0] = s[0] + sq[:, k]
    ss = (s[0] + s[1]) + (s[2] + s[3])
    with np.errstate(divide="ignore"):
        inv = np.where(ss > 0, 1.0 / np.sqrt(ss), 0.0)
    out = (acc.astype(np.float64) * inv[:, None]).astype(F32)
    return np.where(ss[:, None] > 0, out, acc)


# ---------------------------------------------------------------------------------------------
# bit-exact against the emulations
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("wc", [1, 5, 15, 16, 17, 33, 47, 80])
def test_heatmap_bit_exact_every_width(wc: int) -> None:
    """Widths below, at and above the vector widths (full, shifted-last and partial blocks)."""
    rng = np.random.default_rng(wc)
    logits = (4.0 * rng.standard_normal((65, 3, wc))).astype(F32)
    logits[64, 0] += 9.0  # a confident dustbin row
    assert_same_bits(ops.heatmap(logits), heatmap_f32(logits))


def test_heatmap_bit_exact_extremes() -> None:
    """Logit gaps beyond exp_f32's clamp (-87.3), tiny and huge values, signed zeros, float16."""
    rng = np.random.default_rng(1)
    logits = (rng.choice([1e-30, 1.0, 30.0, 100.0, 3e4], size=(65, 4, 37)) * rng.standard_normal((65, 4, 37))).astype(
        F32
    )
    logits[:, 0, 0] = -0.0
    logits[:, 0, 1] = 0.0
    logits[3, 0, 1] = -0.0
    logits[:, 1, 2] = 3e38
    logits[7, 1, 2] = -3e38  # x - m overflows to -inf: clamped like any large negative gap
    assert_same_bits(ops.heatmap(logits), heatmap_f32(logits))
    half = np.clip(logits, -6e4, 6e4).astype(np.float16)
    assert_same_bits(ops.heatmap(half), heatmap_f32(half))


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
@pytest.mark.parametrize("convention", ["center", "magicleap", "superglue"])
def test_descriptors_bit_exact(interpolation: str, convention: str) -> None:
    """Few keypoints (channel-major path) and many (channel-last path), odd channel counts and a
    map whose size is not a multiple of the vector width."""
    rng = np.random.default_rng(len(interpolation) + len(convention))
    for c, hc, wc, n in [(256, 30, 40, 7), (256, 30, 40, 900), (20, 9, 13, 300), (37, 5, 7, 64)]:
        coarse = rng.standard_normal((c, hc, wc)).astype(F32)
        kps = np.stack([rng.uniform(-20, 8 * wc + 20, n), rng.uniform(-20, 8 * hc + 20, n)], 1).astype(F32)
        kps[: n // 2] = np.round(kps[: n // 2])  # integer pixels, as detect returns
        got = ops.sample_descriptors(coarse, kps, interpolation, convention)
        assert_same_bits(got, sample_descriptors_f32(coarse, kps, interpolation, convention))
    half = rng.standard_normal((64, 12, 16)).astype(np.float16)
    kps = np.stack([rng.uniform(0, 127, 500), rng.uniform(0, 95, 500)], 1).astype(F32)
    got = ops.sample_descriptors(half, kps, interpolation, convention)
    assert_same_bits(got, sample_descriptors_f32(half, kps, interpolation, convention))
    # Zeros of both signs: all-zero descriptors keep the sign rules of the float32 sums
    # (0 + -0 = +0), with zero-padded taps (magicleap) multiplying negative values.
    zeros = np.where(rng.random((32, 6, 8)) < 0.5, F32(-0.0), F32(0.0))
    zeros[:, 3:, 4:] = -rng.random((32, 3, 4)).astype(F32)
    kps = np.stack([rng.uniform(-30, 90, 400), rng.uniform(-30, 70, 400)], 1).astype(F32)
    got = ops.sample_descriptors(zeros, kps, interpolation, convention)
    assert_same_bits(got, sample_descriptors_f32(zeros, kps, interpolation, convention))


def test_descriptor_paths_agree() -> None:
    """A keypoint's row is the same whether it is sampled alone or among thousands."""
    rng = np.random.default_rng(5)
    coarse = rng.standard_normal((256, 60, 80)).astype(F32)
    kps = np.stack([rng.integers(0, 640, 3000), rng.integers(0, 480, 3000)], 1).astype(F32)
    for interpolation in ("bilinear", "bicubic"):
        many = ops.sample_descriptors(coarse, kps, interpolation)
        for i in (0, 1234, 2999):
            one = ops.sample_descriptors(coarse, kps[i : i + 1], interpolation)
            np.testing.assert_array_equal(one[0], many[i])


# ---------------------------------------------------------------------------------------------
# errors name the first bad element
# ---------------------------------------------------------------------------------------------
def test_first_nonfinite_is_reported() -> None:
    logits = np.zeros((2, 65, 40, 50), F32)  # 4000 cells: split between threads
    logits[1, 9, 37, 44] = np.inf
    logits[1, 3, 30, 2] = np.nan  # the first bad cell in scan order
    with pytest.raises(ValueError, match=r"at batch 1, cell row 30, cell column 2\)"):
        ops.heatmap(logits)
    heat = np.zeros((600, 800), F32)  # 480,000 pixels: split between threads
    heat[590, 700] = np.nan
    heat[450, 17] = -np.inf
    with pytest.raises(ValueError, match=r"at y=450, x=17\)"):
        ops.nms(heat, 0.1, 2)
    with pytest.raises(ValueError, match=r"at y=450, x=17\)"):
        ops.detect(heat)
    coarse = np.ones((256, 60, 80), F32)
    coarse[200, 10, 10] = np.inf
    kps = np.stack([np.arange(2000) % 640, np.arange(2000) // 640 * 8], 1).astype(F32)
    kps[1500] = (84.0, 84.0)  # reads cell (10, 10)
    kps[1700] = (83.0, 80.0)
    with pytest.raises(ValueError, match="descriptor 1500 is not finite"):
        ops.sample_descriptors(coarse, kps)


def test_concurrent_callers_get_the_same_results() -> None:
    """Python threads calling the ops at once (the GIL is released; one of them gets the thread
    pool, the others run on their own thread) all get the single-caller results."""
    rng = np.random.default_rng(9)
    logits = (3.0 * rng.standard_normal((65, 60, 80))).astype(F32)
    coarse = rng.standard_normal((256, 60, 80)).astype(F32)
    kps = np.stack([rng.integers(0, 640, 2000), rng.integers(0, 480, 2000)], 1).astype(F32)
    want = (ops.heatmap(logits), ops.sample_descriptors(coarse, kps, "bicubic"))
    errors: list[str] = []

    def worker() -> None:
        for _ in range(5):
            got = (ops.heatmap(logits), ops.sample_descriptors(coarse, kps, "bicubic"))
            if not all(np.array_equal(g, w) for g, w in zip(got, want)):
                errors.append("mismatch")

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# ---------------------------------------------------------------------------------------------
# every kernel variant and thread count: the same bits
# ---------------------------------------------------------------------------------------------
_SCRIPT = r"""
import sys
import numpy as np
from superpoint_rt import ops

rng = np.random.default_rng(11)
out = {}
logits = (3.0 * rng.standard_normal((2, 65, 31, 45))).astype(np.float32)
logits[:, 64] += 4.0
out["heat"] = ops.heatmap(logits)
out["heat16"] = ops.heatmap(logits.astype(np.float16))
big = (3.0 * rng.standard_normal((65, 60, 80))).astype(np.float32)
big[64] += 4.0
heat = ops.heatmap(big)
out["heat_big"] = heat
out["nms"] = ops.nms(heat, 0.015, 4)
out["kps"], out["scores"] = ops.detect(heat, 0.015, 4, 4, 1000)
coarse = rng.standard_normal((256, 60, 80)).astype(np.float32)
for interpolation in ("bilinear", "bicubic"):
    for convention in ("center", "magicleap", "superglue"):
        for n in (30, 2500):
            kps = np.stack([rng.uniform(-9, 649, n), rng.uniform(-9, 489, n)], 1).astype(np.float32)
            key = f"{interpolation}_{convention}_{n}"
            out[key] = ops.sample_descriptors(coarse, kps, interpolation, convention)
out["desc16"] = ops.sample_descriptors(coarse.astype(np.float16), out["kps"], "bicubic")
np.savez(sys.argv[1], **out)
"""


def _run_variant(tmp_path: Path, name: str, env: dict[str, str]) -> dict[str, np.ndarray]:
    root = Path(superpoint_rt.__file__).resolve().parent.parent  # import the same package copy
    full_env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    path = tmp_path / f"{name}.npz"
    subprocess.run([sys.executable, "-c", _SCRIPT, str(path)], env=full_env, cwd=root, check=True, timeout=120)
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    return _run_variant(
        tmp_path_factory.mktemp("fastpaths"),
        "baseline",
        {"SUPERPOINT_RT_CPU_ISA": "scalar", "SUPERPOINT_RT_NUM_THREADS": "1"},
    )


@pytest.mark.parametrize(
    "env",
    [
        {"SUPERPOINT_RT_CPU_ISA": "generic", "SUPERPOINT_RT_NUM_THREADS": "1"},
        {"SUPERPOINT_RT_CPU_ISA": "avx2", "SUPERPOINT_RT_NUM_THREADS": "2"},
        {"SUPERPOINT_RT_CPU_ISA": "avx512", "SUPERPOINT_RT_NUM_THREADS": "1"},
        {"SUPERPOINT_RT_NUM_THREADS": "2"},
        {"SUPERPOINT_RT_NUM_THREADS": "3"},
        {"SUPERPOINT_RT_NUM_THREADS": "8"},
    ],
    ids=lambda e: "-".join(f"{k.split('_')[-1].lower()}={v}" for k, v in e.items()),
)
def test_variants_and_thread_counts_agree(env: dict[str, str], baseline: dict[str, np.ndarray], tmp_path: Path) -> None:
    """Against the scalar per-element loops on one thread (the CPU twin of the GPU kernels)."""
    got = _run_variant(tmp_path, "variant", env)
    assert got.keys() == baseline.keys()
    for key, value in baseline.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)
