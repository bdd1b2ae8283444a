"""Property-based fuzzing (hypothesis): C++ ops == NumPy reference on random shapes and values, no crash.

Shapes and parameters come from hypothesis (so failures shrink); array contents from a seeded NumPy
generator (fast). Also run under ASan/UBSan by scripts/sanitize.sh.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from superpoint_rt import ops
from superpoint_rt.ops import reference

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)


def quantised_heat(rng: np.random.Generator, shape: tuple[int, ...], levels: int, signed: bool) -> np.ndarray:
    """Few distinct values -> many ties (levels = 1: all equal)."""
    heat = rng.integers(0, levels, size=shape).astype(np.float32) / max(levels - 1, 1)
    if signed:
        heat = heat * 2 - 1
    return heat.astype(np.float32)


@FUZZ
@given(
    b=st.integers(0, 2),
    hc=st.integers(1, 6),
    wc=st.integers(1, 6),
    scale=st.sampled_from([0.0, 0.1, 1.0, 30.0, 1e4]),
    half=st.booleans(),
    batched=st.booleans(),
    seed=seeds,
)
def test_heatmap(b: int, hc: int, wc: int, scale: float, half: bool, batched: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    logits = (scale * rng.standard_normal((max(b, 1), 65, hc, wc))).astype(np.float16 if half else np.float32)
    if half:
        logits = np.clip(logits, -6e4, 6e4)  # finite float16
    x = logits[:b] if batched else logits[0]
    out = ops.heatmap(x)
    assert out.dtype == np.float32 and out.shape == (*x.shape[:-3], 8 * hc, 8 * wc)
    np.testing.assert_allclose(out, reference.heatmap(x), rtol=0, atol=1e-5)


@FUZZ
@given(
    h=st.integers(1, 24),
    w=st.integers(1, 24),
    levels=st.sampled_from([1, 2, 3, 10, 1000]),
    signed=st.booleans(),
    thr=st.sampled_from([-2.0, -0.5, 0.0, 0.015, 0.3, 0.5, 1.0, 2.0]),
    radius=st.integers(0, 6) | st.just(1000),
    seed=seeds,
)
def test_nms(h: int, w: int, levels: int, signed: bool, thr: float, radius: int, seed: int) -> None:
    heat = quantised_heat(np.random.default_rng(seed), (h, w), levels, signed)
    np.testing.assert_array_equal(ops.nms(heat, thr, radius), reference.nms(heat, thr, radius))


@FUZZ
@given(
    b=st.integers(1, 3),
    h=st.integers(1, 24),
    w=st.integers(1, 24),
    levels=st.sampled_from([1, 2, 5, 1000]),
    thr=st.sampled_from([0.0, 0.015, 0.5]),
    radius=st.integers(0, 5),
    border=st.integers(0, 6),
    max_keypoints=st.none() | st.integers(0, 30),
    valid_frac=st.none() | st.tuples(st.floats(0, 1), st.floats(0, 1)),
    batched=st.booleans(),
    seed=seeds,
)
def test_detect(
    b: int,
    h: int,
    w: int,
    levels: int,
    thr: float,
    radius: int,
    border: int,
    max_keypoints: int | None,
    valid_frac: tuple[float, float] | None,
    batched: bool,
    seed: int,
) -> None:
    heat = quantised_heat(np.random.default_rng(seed), (b, h, w), levels, signed=False)
    valid = None if valid_frac is None else (max(1, round(valid_frac[0] * h)), max(1, round(valid_frac[1] * w)))
    args = (thr, radius, border, max_keypoints, valid)
    got = ops.detect(heat if batched else heat[0], *args)
    want = reference.detect(heat if batched else heat[0], *args)
    pairs = list(zip(got, want)) if batched else [(got, want)]
    for (k1, s1), (k2, s2) in pairs:
        np.testing.assert_array_equal(k1, k2)
        np.testing.assert_array_equal(s1, s2)
        assert k1.dtype == np.float32 and k1.shape == (len(s1), 2)


def fuzz_keypoints(rng: np.random.Generator, n: int, hc: int, wc: int) -> np.ndarray:
    """Inside, around, far outside, and on integer / half-integer pixels."""
    h, w = 8 * hc, 8 * wc
    kind = rng.integers(0, 4, n)
    x = rng.uniform(-2, w + 1, n)
    y = rng.uniform(-2, h + 1, n)
    near = kind == 1
    x[near] = rng.uniform(-40, w + 40, near.sum())
    y[near] = rng.uniform(-40, h + 40, near.sum())
    far = kind == 2
    x[far] = rng.choice([-1, 1], far.sum()) * 10.0 ** rng.uniform(2, 30, far.sum())
    y[far] = rng.choice([-1, 1], far.sum()) * 10.0 ** rng.uniform(2, 30, far.sum())
    grid = kind == 3
    x[grid] = np.round(rng.uniform(-4, w + 4, grid.sum()) * 2) / 2
    y[grid] = np.round(rng.uniform(-4, h + 4, grid.sum()) * 2) / 2
    return np.stack([x, y], 1).astype(np.float32)


@FUZZ
@given(
    c=st.integers(1, 8),
    hc=st.integers(1, 6),
    wc=st.integers(1, 6),
    n=st.integers(0, 40),
    interpolation=st.sampled_from(ops.INTERPOLATIONS),
    convention=st.sampled_from(ops.CONVENTIONS),
    content=st.sampled_from(["normal", "zeros", "constant", "half"]),
    seed=seeds,
)
def test_sample_descriptors(
    c: int, hc: int, wc: int, n: int, interpolation: str, convention: str, content: str, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    coarse: np.ndarray = rng.standard_normal((c, hc, wc)).astype(np.float32)
    if content == "zeros":
        coarse[:] = 0
    elif content == "constant":
        coarse[:] = coarse[:, :1, :1]
    elif content == "half":
        coarse = coarse.astype(np.float16)
    kps = fuzz_keypoints(rng, n, hc, wc)
    out = ops.sample_descriptors(coarse, kps, interpolation, convention)
    assert out.dtype == np.float32 and out.shape == (n, c)
    assert np.isfinite(out).all()
    norms = np.linalg.norm(out, axis=1)
    assert np.all((norms == 0) | (np.abs(norms - 1) < 1e-5))
    # Compare rows that are well conditioned: where the interpolated vector nearly cancels (bicubic's
    # negative weights), normalising amplifies float32 rounding, and any unit vector is "right".
    raw = reference.sample_descriptors_raw(coarse, kps, interpolation, convention)
    scale = float(np.abs(coarse.astype(np.float64)).max()) * np.sqrt(c)
    ok = np.linalg.norm(raw, axis=1) > 1e-3 * scale
    want = reference.sample_descriptors(coarse, kps, interpolation, convention)
    np.testing.assert_allclose(out[ok], want[ok], atol=1e-5)
    zero_ref = np.linalg.norm(raw, axis=1) == 0
    np.testing.assert_array_equal(out[zero_ref], 0.0)
