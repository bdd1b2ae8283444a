"""ops.detect (C++) against the NumPy reference and hand-worked cases; the demo-style pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from superpoint_rt import ops
from superpoint_rt.ops import reference

SIZES = [(240, 320), (480, 640), (720, 1280)]


def synthetic_logits(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((65, h // 8, w // 8)).astype(np.float32)
    logits[64] += 6.0
    ii, jj = np.nonzero(rng.random((h // 8, w // 8)) < 0.2)
    logits[rng.integers(0, 64, len(ii)), ii, jj] += rng.uniform(3, 12, len(ii)).astype(np.float32)
    return logits


def assert_same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> None:
    assert a[0].dtype == np.float32 and a[1].dtype == np.float32
    assert a[0].shape == (len(a[1]), 2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("radius", "border", "max_keypoints"), [(4, 4, None), (0, 0, None), (2, 8, 300), (4, 4, 1000)])
def test_matches_reference(size: tuple[int, int], radius: int, border: int, max_keypoints: int | None) -> None:
    heat = reference.heatmap(synthetic_logits(*size, seed=size[1]))
    out = ops.detect(heat, 0.015, radius, border, max_keypoints)
    assert_same(out, reference.detect(heat, 0.015, radius, border, max_keypoints))
    if max_keypoints is not None:
        assert len(out[1]) <= max_keypoints
    assert np.all(np.diff(out[1]) <= 0), "descending scores"


def test_valid_size_matches_reference() -> None:
    heat = reference.heatmap(synthetic_logits(480, 640, seed=11))
    for valid in [(470, 633), (480, 640), (9, 9), (1, 1)]:
        assert_same(ops.detect(heat, valid_size=valid), reference.detect(heat, valid_size=valid))
    kps, _ = ops.detect(heat, border=4, valid_size=(470, 633))
    assert kps[:, 0].max() < 633 - 4 and kps[:, 1].max() < 470 - 4


def test_batch_returns_list_of_single_results() -> None:
    heat = reference.heatmap(np.stack([synthetic_logits(96, 128, seed=s) for s in range(3)]))
    out = ops.detect(heat, 0.015, 4, 4, 50)
    assert isinstance(out, list) and len(out) == 3
    for i in range(3):
        assert_same(out[i], ops.detect(heat[i], 0.015, 4, 4, 50))
        assert_same(out[i], reference.detect(heat[i], 0.015, 4, 4, 50))
    assert ops.detect(np.zeros((0, 16, 16), np.float32)) == []


def test_border_removal_after_nms() -> None:
    """A border point still suppresses its inner neighbour (then is itself removed)."""
    heat = np.zeros((20, 20), np.float32)
    heat[2, 10] = 0.9  # y = 2 < border 4
    heat[5, 10] = 0.5  # inside, 3 rows away: suppressed with r = 4, kept with r = 2
    kps, scores = ops.detect(heat, 0.1, 4, 4)
    assert len(kps) == 0
    kps, scores = ops.detect(heat, 0.1, 2, 4)
    np.testing.assert_array_equal(kps, [[10, 5]])
    np.testing.assert_array_equal(scores, [0.5])


def test_points_at_the_border_edges() -> None:
    h, w, b = 24, 30, 4
    heat = np.zeros((h, w), np.float32)
    pts = {(b, 12): 0.9, (b - 1, 20): 0.8, (h - b - 1, 12): 0.7, (h - b, 20): 0.6}  # (y, x)
    pts.update({(12, b): 0.5, (12, b - 1): 0.45, (18, w - b - 1): 0.4, (6, w - b): 0.35})
    for (y, x), s in pts.items():
        heat[y, x] = s
    kps, scores = ops.detect(heat, 0.1, 0, b)
    np.testing.assert_array_equal(kps, [[12, b], [12, h - b - 1], [b, 12], [w - b - 1, 18]])
    np.testing.assert_allclose(scores, [0.9, 0.7, 0.5, 0.4])


def test_max_keypoints_and_ties() -> None:
    heat = np.full((12, 12), 0.5, np.float32)  # all equal: the lower linear index first
    kps, _ = ops.detect(heat, 0.1, 0, 0)
    expected = np.stack(np.meshgrid(np.arange(12), np.arange(12)), -1).reshape(-1, 2)  # (x, y) rows
    np.testing.assert_array_equal(kps, expected)
    kps3, _ = ops.detect(heat, 0.1, 0, 0, max_keypoints=3)
    np.testing.assert_array_equal(kps3, [[0, 0], [1, 0], [2, 0]])
    kps0, scores0 = ops.detect(heat, 0.1, 0, 0, max_keypoints=0)
    assert kps0.shape == (0, 2) and scores0.shape == (0,)
    assert len(ops.detect(heat, 0.1, 0, 0, max_keypoints=10**6)[0]) == 144
    # radius 1 on the plateau, border 1: NMS picks the even (y, x) grid, then the border removes
    # row/column 0 and row/column 11
    kps, _ = ops.detect(heat, 0.1, 1, 1)
    np.testing.assert_array_equal(kps[:3], [[2, 2], [4, 2], [6, 2]])


def test_empty_results() -> None:
    heat = np.random.default_rng(12).random((16, 16), dtype=np.float32)
    kps, scores = ops.detect(heat, 2.0)
    assert kps.shape == (0, 2) and scores.shape == (0,)
    kps, scores = ops.detect(heat, 0.0, 1, border=8)  # border eats the whole 16x16 image
    assert kps.shape == (0, 2)


def test_demo_style_pipeline_agrees() -> None:
    """The original demo's post-processing (re-written, NumPy) vs the C++ ops at the same settings."""
    logits = synthetic_logits(240, 320, seed=13)
    coarse = np.random.default_rng(14).standard_normal((256, 30, 40)).astype(np.float32)
    kps_ref, scores_ref, desc_ref = reference.postprocess_demo_style(logits, coarse, 0.015, 4, 4)
    heat = ops.heatmap(logits)
    kps, scores = ops.detect(heat, 0.015, 4, 4)
    desc = ops.sample_descriptors(coarse, kps, "bilinear", "magicleap")
    assert len(kps) > 100
    np.testing.assert_array_equal(kps, kps_ref)
    np.testing.assert_allclose(scores, scores_ref, rtol=1e-4)  # the demo divides by sum + 1e-5
    np.testing.assert_allclose(desc, desc_ref, atol=1e-5)
    # batch-of-one inputs are accepted too
    kps_b, _, _ = reference.postprocess_demo_style(logits[None], coarse[None], 0.015, 4, 4)
    np.testing.assert_array_equal(kps_b, kps_ref)
