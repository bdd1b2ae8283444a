"""SuperPoint API: smoke, input forms, exceptions, and feature correctness against an independent oracle
(the NumPy reference post-processing on the ONNX Runtime network output)."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from superpoint_rt import Features, SuperPoint
from superpoint_rt.ops import reference


def test_smoke_bgr_gray_float(random_sp, astronaut):
    f = random_sp(astronaut)
    assert isinstance(f, Features)
    assert f.keypoints.dtype == np.float32 and f.keypoints.shape[1] == 2
    assert f.descriptors.shape == (len(f), 256) and f.scores.shape == (len(f),)
    np.testing.assert_allclose(np.linalg.norm(f.descriptors, axis=1), 1.0, atol=1e-5)
    assert f.image_size == astronaut.shape[:2]
    gray = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)
    g = random_sp(gray)
    np.testing.assert_array_equal(f.keypoints, g.keypoints)
    fl = random_sp(gray.astype(np.float32) / 255.0)
    np.testing.assert_array_equal(fl.keypoints, g.keypoints)
    assert set(f.timings) == {"preprocess", "network", "postprocess"}


def test_batch_forms(random_sp, astronaut):
    gray = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)
    small = gray[:100, :120]
    out = random_sp([gray, small, gray])
    assert isinstance(out, list) and len(out) == 3
    np.testing.assert_array_equal(out[0].keypoints, out[2].keypoints)
    assert out[1].image_size == (100, 120)
    stacked = random_sp(np.stack([gray, gray]))
    assert len(stacked) == 2


@pytest.mark.parametrize(
    ("subpixel", "method", "interpolation"),
    [(False, "centroid", "bilinear"), (True, "parabola", "bilinear"), (True, "centroid", "bicubic")],
)
def test_matches_numpy_reference_pipeline(rand_weights, astronaut, subpixel, method, interpolation):
    """Our pipeline == NumPy reference post-processing on the same network output, incl. a non-multiple-of-8 size;
    with ``subpixel`` the reference's integer points move by refine_subpixel (tested on its own against hand-worked
    cases) before the descriptors are sampled. The last case is the default options
    (tests/test_options.py), the first the demo's."""
    from superpoint_rt.backends import create_engine
    from superpoint_rt.subpixel import refine_subpixel

    gray = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)[:203, :301]  # padded to 208x304 internally
    kw = dict(subpixel=subpixel, subpixel_method=method, interpolation=interpolation)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = SuperPoint(rand_weights, backend="onnxruntime", conf_threshold=0.0155, max_keypoints=500, **kw)
    f = sp(gray)
    x = np.pad(gray.astype(np.float32) / 255.0, ((0, 5), (0, 3)), mode="edge")[None, None]
    logits, coarse = create_engine("onnxruntime", rand_weights).run(x)
    heat = reference.heatmap(logits[0])[:203, :301]
    kp, sc = reference.detect(heat, conf_threshold=0.0155, nms_radius=4, border=4, max_keypoints=500)
    if subpixel:
        kp = refine_subpixel(heat, kp, method)
        assert np.any(kp != np.rint(kp))
    # heatmaps equal to float rounding; a float32 coordinate near 300 px has a 3e-5 ulp, so allow a few ulps (an AVX2
    # Zen 3 put one refined point 1 ulp off the reference)
    np.testing.assert_allclose(f.keypoints, kp, rtol=0, atol=1e-4)
    np.testing.assert_allclose(f.scores, sc, atol=1e-6)
    desc = reference.sample_descriptors(coarse[0], kp, interpolation=interpolation, convention="center")
    np.testing.assert_allclose(f.descriptors, desc, atol=1e-5)
    assert (f.keypoints[:, 0] < 301 - 4).all() and (f.keypoints[:, 1] < 203 - 4).all()


@pytest.mark.parametrize(
    "bad, exc, msg",
    [
        (np.zeros((8, 8), np.uint8), ValueError, "at least 16x16"),
        (np.zeros((0, 0), np.uint8), ValueError, "at least"),
        (np.zeros((32, 32), np.float64), TypeError, "float64"),
        (np.zeros((32, 32), np.int32), TypeError, "dtype"),
        (np.zeros((32, 32, 2), np.uint8), ValueError, "color"),
        (np.zeros((2, 32, 32, 3, 1), np.uint8), ValueError, "shape"),
        (np.full((32, 32), np.nan, np.float32), ValueError, "NaN"),
        (np.full((32, 32), 255.0, np.float32), ValueError, r"\[0, 1\]"),
        ([], ValueError, "empty"),
        ("image.png", TypeError, "numpy"),
    ],
)
def test_bad_input(random_sp, bad, exc, msg):
    with pytest.raises(exc, match=msg):
        random_sp(bad)


def test_bad_options(rand_weights):
    with pytest.raises(ValueError, match="interpolation"):
        SuperPoint(rand_weights, interpolation="nearest")
    with pytest.raises(ValueError, match="convention"):
        SuperPoint(rand_weights, convention="opencv")
    with pytest.raises(ValueError, match="nms_radius"):
        SuperPoint(rand_weights, nms_radius=-1)
    with pytest.raises(ValueError, match="conf_threshold"):
        SuperPoint(rand_weights, conf_threshold=float("nan"))


def test_max_keypoints_and_order(rand_weights, astronaut):
    sp = SuperPoint(rand_weights, backend="onnxruntime", conf_threshold=0.0, max_keypoints=50)
    f = sp(astronaut)
    assert len(f) == 50
    assert (np.diff(f.scores) <= 0).all()


def test_convention_defaults_to_what_weights_record(rand_weights):
    from superpoint_rt.weights import Weights

    w = Weights(rand_weights.state_dict, meta={"convention": "magicleap"}, source="x")
    assert SuperPoint(w, backend="onnxruntime").convention == "magicleap"
    assert SuperPoint(w, backend="onnxruntime", convention="superglue").convention == "superglue"


def test_default_backend_follows_the_rule_here(rand_weights):
    """backend="auto" runs what superpoint_rt.backends.auto decides for this CPU (random weights carry no INT8 IR:
    BF16 where native, else the faster FP32 engine)."""
    from superpoint_rt.backends import auto_choice

    expected = auto_choice(rand_weights)
    sp = SuperPoint(rand_weights)
    assert (sp.backend, sp.precision) == (expected.backend, expected.precision)
    info = sp.info()
    assert info["backend"] == expected.backend and "precision" in info


def test_heatmap_method(random_sp, astronaut):
    h = random_sp.heatmap(astronaut)
    assert h.shape == astronaut.shape[:2] and h.dtype == np.float32
    assert 0.0 <= h.min() and h.max() <= 1.0
