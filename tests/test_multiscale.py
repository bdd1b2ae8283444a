"""Multi-scale detection: the pyramid's coordinate mapping (hand-worked), the merge, input checks, and the whole
pipeline against an oracle built here from the NumPy reference post-processing run on each resized image."""

from __future__ import annotations

import argparse
import warnings

import cv2
import numpy as np
import pytest

from superpoint_rt import Features, SuperPoint
from superpoint_rt.multiscale import check_scales, level_size, level_to_input, merge_levels
from superpoint_rt.ops import reference


def test_level_to_input_hand_worked() -> None:
    # a half-size level: its pixel 0 covers input pixels 0 and 1 (centre 0.5), its pixel 1 covers 2 and 3 (2.5)
    kp = level_to_input(np.array([[0.0, 0.0], [1.0, 1.0]]), (2, 2), (4, 4))
    np.testing.assert_allclose(kp, [[0.5, 0.5], [2.5, 2.5]])
    # different factors per axis: W 15 -> 5 (x3), H 6 -> 3 (x2); x' = 0 -> 1.0 (input pixels 0..2), y' = 2 -> 4.5
    kp = level_to_input(np.array([[0.0, 2.0]]), (3, 5), (6, 15))
    np.testing.assert_allclose(kp, [[1.0, 4.5]])
    assert kp.dtype == np.float32
    # scale 1: unchanged
    pts = np.array([[3.25, 7.5]])
    np.testing.assert_allclose(level_to_input(pts, (10, 20), (10, 20)), pts)


def test_level_size_and_tiny_levels() -> None:
    assert level_size((480, 640), 0.5) == (240, 320)
    assert level_size((480, 640), 0.71) == (341, 454)
    with pytest.raises(ValueError, match="below SuperPoint's 16x16"):
        level_size((40, 60), 0.25)


@pytest.mark.parametrize(
    ("scales", "error", "match"),
    [
        ((), ValueError, "must not be empty"),
        ((1.0, 0.0), ValueError, r"in \(0, 2\]"),
        ((-0.5,), ValueError, r"in \(0, 2\]"),
        ((float("nan"),), ValueError, r"in \(0, 2\]"),
        ((3.0,), ValueError, r"in \(0, 2\]"),
        ((1.0, 1), ValueError, "distinct"),
        (("1",), TypeError, "numbers"),
        ((True,), TypeError, "numbers"),
        ("1", TypeError, "sequence"),
        (1.0, TypeError, "sequence"),
    ],
)
def test_bad_scales(scales, error, match) -> None:
    with pytest.raises(error, match=match):
        check_scales(scales)


def test_good_scales_kept_in_order() -> None:
    assert check_scales([1, 0.71, np.float32(0.5)]) == (1.0, 0.71, 0.5)


def _features(kp, scores, desc_ids, size, timings) -> Features:
    desc = np.eye(4, dtype=np.float32)[desc_ids]
    return Features(np.array(kp, np.float32).reshape(-1, 2), np.array(scores, np.float32), desc, size, timings)


def test_merge_levels_sorts_cuts_and_tracks_levels() -> None:
    full = _features([[10, 10], [20, 20]], [0.5, 0.9], [0, 1], (40, 40), {"network": 1.0})
    half = _features([[1, 1], [5, 5]], [0.7, 0.9], [2, 3], (20, 20), {"network": 0.5})
    merged, idx = merge_levels([full, half], (40, 40), max_keypoints=3)
    # scores 0.9 (full), 0.9 (half: a tie keeps level order), 0.7 (half); 0.5 is cut
    np.testing.assert_allclose(merged.scores, [0.9, 0.9, 0.7])
    np.testing.assert_array_equal(idx, [0, 1, 1])
    np.testing.assert_allclose(merged.keypoints, [[20, 20], [10.5, 10.5], [2.5, 2.5]])
    np.testing.assert_array_equal(merged.descriptors, np.eye(4, dtype=np.float32)[[1, 3, 2]])
    assert merged.image_size == (40, 40)
    assert merged.timings == {"network": 1.5}
    empty = Features.empty((20, 20), dim=4)
    merged, idx = merge_levels([empty, empty], (40, 40))
    assert len(merged) == 0 and merged.descriptors.shape == (0, 4) and idx.shape == (0,)
    with pytest.raises(ValueError, match="at least one level"):
        merge_levels([], (40, 40))


def test_merge_levels_weights_the_scores_it_ranks() -> None:
    full = _features([[10, 10], [20, 20]], [0.5, 0.9], [0, 1], (40, 40), {})
    half = _features([[1, 1], [5, 5]], [0.7, 0.95], [2, 3], (20, 20), {})
    # weighted: full 0.5, 0.9; half 0.7 * 0.5 = 0.35, 0.95 * 0.5 = 0.475 -> full 0.9, full 0.5, half 0.475 (0.35 cut)
    merged, idx = merge_levels([full, half], (40, 40), max_keypoints=3, level_weights=[1.0, 0.5])
    np.testing.assert_array_equal(idx, [0, 0, 1])
    np.testing.assert_allclose(merged.scores, [0.9, 0.5, 0.475])
    np.testing.assert_allclose(merged.keypoints, [[20, 20], [10, 10], [10.5, 10.5]])
    for bad in ([1.0], [1.0, 0.0], [1.0, float("nan")], [1.0, -2.0]):
        with pytest.raises(ValueError, match="level_weights"):
            merge_levels([full, half], (40, 40), level_weights=bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 8.5, -9, True, "1", None, [1.0]])
def test_bad_scale_weight(bad) -> None:
    from superpoint_rt.options import SuperPointOptions

    with pytest.raises(ValueError, match="scale_weight"):
        SuperPointOptions(scale_weight=bad)


def _oracle(rand_weights, gray: np.ndarray, scales, k: int, scale_weight: float = 0.0):
    """NumPy reference post-processing on each level, mapped to the input by pixel areas, merged by score (each
    level's scores times scale ** scale_weight / its largest value over the levels first)."""
    from superpoint_rt.backends import create_engine

    engine = create_engine("onnxruntime", rand_weights)
    h, w = gray.shape
    g = gray.astype(np.float32) / 255.0
    kps, scs, descs, lv = [], [], [], []
    for s in scales:
        hs, ws = round(h * s), round(w * s)
        im = g if s == 1.0 else cv2.resize(g, (ws, hs), interpolation=cv2.INTER_AREA)
        hp, wp = -(-hs // 8) * 8, -(-ws // 8) * 8
        x = np.pad(im, ((0, hp - hs), (0, wp - ws)), mode="edge")[None, None]
        logits, coarse = engine.run(x)
        heat = reference.heatmap(logits[0])[:hs, :ws]
        kp, sc = reference.detect(heat, conf_threshold=0.01, nms_radius=4, border=4, max_keypoints=k)
        descs.append(reference.sample_descriptors(coarse[0], kp, interpolation="bilinear", convention="center"))
        kp = kp.astype(np.float64)
        kps.append(np.stack([(kp[:, 0] + 0.5) * w / ws - 0.5, (kp[:, 1] + 0.5) * h / hs - 0.5], axis=1))
        scs.append(sc)
        lv.append(np.full(len(sc), s))
    top = max(s**scale_weight for s in scales)
    scs = [sc * s**scale_weight / top for sc, s in zip(scs, scales)]
    order = np.argsort(-np.concatenate(scs), kind="stable")[:k]
    return (
        np.concatenate(kps)[order],
        np.concatenate(scs)[order],
        np.concatenate(descs)[order],
        np.concatenate(lv)[order],
    )


@pytest.mark.parametrize("scale_weight", [0.0, -0.65])  # < 0: the coarse levels first, the weighting shows
def test_pipeline_matches_per_level_reference(rand_weights, astronaut, scale_weight) -> None:
    gray = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)[:203, :301]
    scales = (1.0, 0.71, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = SuperPoint(
            rand_weights,
            backend="onnxruntime",
            conf_threshold=0.01,
            max_keypoints=300,
            scales=scales,
            scale_weight=scale_weight,
            subpixel=False,
            interpolation="bilinear",
        )  # the oracle merges integer per-level points (sub-pixel refinement is tested in test_subpixel/test_api)
    f = sp(gray)
    kp, sc, desc, lv = _oracle(rand_weights, gray, scales, 300, scale_weight)
    # every level contributes unweighted; ranked coarse-first the two coarse levels fill the top-k
    assert len(f) == 300 and set(np.unique(lv)) == ({1.0, 0.71, 0.5} if scale_weight == 0 else {0.71, 0.5})
    np.testing.assert_allclose(f.keypoints, kp, atol=1e-4)
    np.testing.assert_allclose(f.scores, sc, atol=1e-6)
    np.testing.assert_allclose(f.descriptors, desc, atol=1e-5)
    assert f.scales is not None
    np.testing.assert_array_equal(f.scales, lv.astype(np.float32))
    assert f.image_size == (203, 301)
    assert (f.keypoints >= 0).all() and (f.keypoints[:, 0] <= 300).all() and (f.keypoints[:, 1] <= 202).all()
    assert set(f.timings) == {"preprocess", "network", "postprocess"}
    assert sp.info()["scales"] == list(scales)
    # a batch gives each image its own merge
    out = sp([gray, gray[:120, :160]])
    np.testing.assert_array_equal(out[0].keypoints, f.keypoints)
    assert out[1].image_size == (120, 160)


def test_single_scale_is_the_plain_pipeline(rand_weights, astronaut) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = SuperPoint(rand_weights, backend="onnxruntime", conf_threshold=0.01)
        one = SuperPoint(rand_weights, backend="onnxruntime", conf_threshold=0.01, scales=[1.0])
    a, b = plain(astronaut), one(astronaut)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    assert a.scales is None and b.scales is None


def test_errors_reach_the_user(rand_weights) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="distinct"):
            SuperPoint(rand_weights, backend="onnxruntime", scales=(1.0, 1.0))
        with pytest.raises(ValueError, match="CPU path only"):
            SuperPoint(rand_weights, device="cuda", scales=(1.0, 0.5))
        sp = SuperPoint(rand_weights, backend="onnxruntime", scales=(1.0, 0.25))
    with pytest.raises(ValueError, match=r"scale 0\.25"):
        sp(np.zeros((40, 64), np.uint8))


def test_eval_cli_passes_scales() -> None:
    from superpoint_rt.apps.eval_cli import _method

    args = argparse.Namespace(
        weights=None,
        backend="onnxruntime",
        precision=None,
        conf_threshold=None,
        nms_radius=None,
        int8_model=None,
        subpixel=False,
        scales=[1.0, 0.5],
        name=None,
    )
    assert _method("superpoint", args).kwargs["scales"] == (1.0, 0.5)
    args.scales = None
    assert "scales" not in _method("superpoint", args).kwargs
