"""superpoint_rt.opencv / SuperPoint's cv2.Feature2D methods, against hand-built oracles: detectAndCompute is sp(img)
converted field by field; compute at sp's own keypoints reproduces sp's descriptors, and at FAST keypoints the NumPy
reference sampler on the engine's own output; a mask drops exactly the points OpenCV's rule drops (SIFT's own masking
is the rule's oracle) and the top-k refills from inside the mask; OpenCV's matchers and drawing take the outputs."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from superpoint_rt import SuperPoint
from superpoint_rt.opencv import check_mask, keypoint_arrays, mask_keep, to_dmatches, to_keypoints
from superpoint_rt.ops import reference
from superpoint_rt.preprocess import pad_to_multiple, to_gray_float


def _sp(weights, **kw) -> SuperPoint:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SuperPoint(weights, backend="onnxruntime", conf_threshold=0.001, **kw)


@pytest.fixture(scope="module")
def sp_all(rand_weights) -> SuperPoint:
    return _sp(rand_weights)


@pytest.fixture(scope="module")
def gray(astronaut) -> np.ndarray:
    return np.ascontiguousarray(cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)[:203, :301])  # padded inside


def _pts(kps) -> np.ndarray:
    return np.float32([k.pt for k in kps]).reshape(-1, 2)


def test_detect_and_compute_is_sp_converted(sp_all, gray) -> None:
    f = sp_all(gray)
    kps, des = sp_all.detectAndCompute(gray, None)
    assert isinstance(kps, tuple) and len(kps) == len(f) > 100
    assert all(isinstance(k, cv2.KeyPoint) for k in kps)
    np.testing.assert_array_equal(_pts(kps), f.keypoints)  # same pixel-centre convention: no shift
    np.testing.assert_array_equal(np.float32([k.response for k in kps]), f.scores)
    assert {k.size for k in kps} == {8.0} and {k.octave for k in kps} == {0}
    assert {k.class_id for k in kps} == {-1} and {k.angle for k in kps} == {-1.0}
    assert des.dtype == np.float32 and des.flags.c_contiguous
    np.testing.assert_array_equal(des, f.descriptors)
    np.testing.assert_array_equal(_pts(sp_all.detect(gray)), f.keypoints)
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    np.testing.assert_array_equal(_pts(sp_all.detect(bgr, None)), f.keypoints)


def test_feature2d_constants(sp_all) -> None:
    assert sp_all.descriptorSize() == 256
    assert sp_all.descriptorType() == cv2.CV_32F
    assert sp_all.defaultNorm() == cv2.NORM_L2
    assert sp_all.getDefaultName() == "Feature2D.SuperPoint" and sp_all.empty() is False


def test_compute_at_own_keypoints_reproduces_descriptors(sp_all, gray) -> None:
    kps, des = sp_all.detectAndCompute(gray, None)
    kept, des2 = sp_all.compute(gray, kps)
    assert len(kept) == len(kps) and all(a is b for a, b in zip(kept, kps))
    np.testing.assert_array_equal(des2, des)


def test_compute_at_fast_keypoints_equals_the_numpy_reference(rand_weights, sp_all, gray) -> None:
    """Any keypoints: FAST's, plus hand-made ones on and off the image edge (the valid area is the image's pixels:
    -0.5 <= x < W - 0.5, -0.5 <= y < H - 0.5)."""
    from superpoint_rt.backends import create_engine

    h, w = gray.shape
    fast = list(cv2.FastFeatureDetector_create(threshold=30).detect(gray))
    assert len(fast) > 50
    edge = [(-0.5, 0.0), (w - 0.51, h - 0.51), (0.0, -0.6), (w - 0.5, 10.0), (10.0, h - 0.5), (float("nan"), 3.0)]
    given = fast + [cv2.KeyPoint(x, y, 7.0) for x, y in edge]
    kept, des = sp_all.compute(gray, given)
    assert len(kept) == len(fast) + 2 and kept[-2].pt == (-0.5, 0.0)
    assert kept[-1].pt == pytest.approx((w - 0.51, h - 0.51))
    _, coarse = create_engine("onnxruntime", rand_weights).run(pad_to_multiple(to_gray_float(gray))[None, None])
    interp = sp_all.options.interpolation  # the default (bicubic)
    expect = reference.sample_descriptors(coarse[0], _pts(kept), interpolation=interp, convention="center")
    np.testing.assert_allclose(des, expect, atol=1e-5)
    assert sp_all.compute(gray, []) == ((), None)
    assert sp_all.compute(gray, [cv2.KeyPoint(-5.0, 3.0, 8.0)]) == ((), None)
    with pytest.raises(TypeError, match=r"cv2\.KeyPoint"):
        sp_all.compute(gray, [(3.0, 4.0)])


def test_mask_rule_is_opencvs(gray) -> None:
    """mask[int(y + 0.5), int(x + 0.5)] == 0 drops a point: checked against SIFT's own masking (sub-pixel points) on
    a random 1-pixel mask, and on hand-placed points either side of the rounding boundary."""
    rng = np.random.default_rng(0)
    mask = np.where(rng.random(gray.shape) < 0.5, 255, 0).astype(np.uint8)
    sift = cv2.SIFT_create()
    every, masked = sift.detect(gray, None), sift.detect(gray, mask)
    keep = mask_keep(_pts(every), mask)
    assert 0 < keep.sum() < len(every)
    assert [k.pt for k, ok in zip(every, keep) if ok] == [k.pt for k in masked]
    m = np.zeros((4, 4), np.uint8)
    m[1, 1] = 1
    pts = np.float32([[0.49, 0.5], [0.5, 0.5], [1.49, 1.49], [0.5, 1.499], [-0.4, 0.0], [9.0, 1.0], [np.nan, 1.0]])
    np.testing.assert_array_equal(mask_keep(pts, m), [False, True, True, True, False, False, False])


def test_mask_drops_exactly_the_masked_points_and_top_k_refills(rand_weights, sp_all, gray) -> None:
    every = sp_all(gray)  # no top-k: the oracle's pool
    mask = np.zeros(gray.shape, np.uint8)
    mask[:, : gray.shape[1] // 2] = 255
    mask[40:80, 20:60] = 0
    inside = np.flatnonzero([mask[int(y + 0.5), int(x + 0.5)] != 0 for x, y in every.keypoints])
    k = 150
    assert len(inside) > k and len(every) > 2 * k
    sp_k = _sp(rand_weights, max_keypoints=k)
    naive = sp_k(gray)  # top-k first, then the mask: fewer than k survive
    assert mask_keep(naive.keypoints, mask).sum() < k
    kps, des = sp_k.detectAndCompute(gray, mask)
    assert len(kps) == k
    np.testing.assert_array_equal(_pts(kps), every.keypoints[inside[:k]])
    np.testing.assert_array_equal(des, every.descriptors[inside[:k]])
    np.testing.assert_array_equal(_pts(sp_k.detect(gray, mask)), _pts(kps))
    assert sp_k.max_keypoints == k and len(sp_k(gray)) == k  # the option is restored after the masked call
    full = np.full(gray.shape, 7, np.uint8)  # any nonzero value allows
    np.testing.assert_array_equal(_pts(sp_k.detect(gray, full)), naive.keypoints)
    assert sp_k.detectAndCompute(gray, np.zeros_like(mask)) == ((), None)


@pytest.mark.parametrize(
    ("mask", "match"),
    [
        (np.ones((203, 301), bool), "uint8"),
        (np.ones((203, 301), np.float32), "uint8"),
        (np.ones((203, 300), np.uint8), "shape"),
        (np.ones((203, 301, 1), np.uint8), "shape"),
        ([[1]], "numpy array"),
    ],
)
def test_bad_masks_raise(sp_all, gray, mask, match) -> None:
    with pytest.raises(ValueError, match=match):
        sp_all.detectAndCompute(gray, mask)
    with pytest.raises(ValueError, match=match):
        check_mask(mask, gray.shape)


def test_one_image_only(sp_all, gray) -> None:
    with pytest.raises(ValueError, match="BGR"):  # a stack of 5 gray images is not one image
        sp_all.detectAndCompute(np.stack([gray, gray, gray, gray, gray]), None)
    with pytest.raises(TypeError, match="numpy array"):
        sp_all.detect([gray])


def test_blank_image_gives_no_keypoints_and_none(rand_weights) -> None:
    sp = _sp(rand_weights, max_keypoints=10)
    sp.configure(conf_threshold=1.0)
    kps, des = sp.detectAndCompute(np.zeros((64, 64), np.uint8), None)
    assert kps == () and des is None  # what ORB/SIFT's bindings return


def test_multiscale_octave_size_and_compute(rand_weights, gray) -> None:
    scales = (1.0, 0.71, 0.5)
    sp = _sp(rand_weights, scales=scales, max_keypoints=400)
    f = sp(gray)
    kps, des = sp.detectAndCompute(gray, None)
    octave = np.array([k.octave for k in kps])
    assert set(octave.tolist()) == {0, 1, 2}
    np.testing.assert_allclose(np.float32(scales)[octave], f.scales)
    np.testing.assert_allclose([k.size for k in kps], 8.0 / np.float64(scales)[octave])
    kept, des2 = sp.compute(gray, kps)  # each keypoint described at its octave's level
    assert len(kept) == len(kps)
    np.testing.assert_allclose(des2, des, atol=1e-4)  # level <-> input pixel mapping round-trips in float32
    bad = cv2.KeyPoint(50.0, 50.0, 8.0, -1, 0.5, 3)
    with pytest.raises(ValueError, match="octave 3"):
        sp.compute(gray, [bad])
    one_scale = _sp(rand_weights)
    assert len(one_scale.compute(gray, [bad])[0]) == 1  # single-scale options ignore the octave


def test_opencv_matchers_and_drawing_take_the_outputs(sp_all, astronaut, data_dir) -> None:
    warped = cv2.imread(str(data_dir / "astronaut_warped.jpg"))
    k1, d1 = sp_all.detectAndCompute(astronaut, None)
    k2, d2 = sp_all.detectAndCompute(warped, None)
    bf = cv2.BFMatcher(sp_all.defaultNorm(), crossCheck=True)
    matches = bf.match(d1, d2)
    assert len(matches) > 20
    knn = cv2.BFMatcher(sp_all.defaultNorm()).knnMatch(d1, d2, k=2)
    assert len(knn) == len(k1)
    out = cv2.drawMatches(astronaut, k1, warped, k2, sorted(matches, key=lambda m: m.distance)[:50], None)
    assert out.shape[:2] == (max(astronaut.shape[0], warped.shape[0]), astronaut.shape[1] + warped.shape[1])
    rich = cv2.drawKeypoints(astronaut, k1, None, flags=cv2.DRAW_MATCHES_FLAGS_DRAW_RICH_KEYPOINTS)
    assert rich.shape == astronaut.shape and not np.array_equal(rich, astronaut)
    pts, octaves = keypoint_arrays(k1)
    np.testing.assert_array_equal(pts, _pts(k1))
    np.testing.assert_array_equal(octaves, 0)


def test_to_dmatches_and_to_keypoints() -> None:
    from superpoint_rt.types import Features

    dm = to_dmatches(np.array([[0, 2], [3, 1]]), np.array([0.5, 0.25]))
    assert [(m.queryIdx, m.trainIdx, m.distance) for m in dm] == [(0, 2, 0.5), (3, 1, 0.25)]
    assert [m.distance for m in to_dmatches(np.array([[1, 1]]))] == [0.0]
    with pytest.raises(ValueError, match="distances"):
        to_dmatches(np.array([[0, 1]]), np.array([0.1, 0.2]))
    f = Features(np.float32([[1.5, 2.0]]), np.float32([0.25]), np.zeros((1, 256), np.float32), (10, 10))
    f.scales = np.float32([0.5])
    (k,) = to_keypoints(f, (1.0, 0.5))
    assert (k.pt, k.size, k.response, k.octave, k.class_id) == ((1.5, 2.0), 16.0, 0.25, 1, -1)
