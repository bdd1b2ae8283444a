"""The CUDA post-processing's per-thread functions, run over the GPU's grids by their CPU twins (``_C.*_grid_cpu``),
against the CPU ops and the NumPy references; the CUDA entry points themselves where a GPU exists."""

from __future__ import annotations

import numpy as np
import pytest

from superpoint_rt import ops
from superpoint_rt._ext import ext_available, load_ext
from superpoint_rt.ops import reference
from superpoint_rt.subpixel import refine_subpixel

if not ext_available() or not hasattr(load_ext(), "postprocess_grid_cpu"):
    pytest.skip(
        "superpoint_rt._C lacks the data-parallel bindings (csrc/ext_cuda.cpp not built in)", allow_module_level=True
    )

C = load_ext()
SCHEDULES = ("raster", "reverse", "jacobi")
KEPT = 2


def _inputs(rng, batch, height, width, channels=256, dtype=np.float32, spread=2.0):
    hc, wc = height // 8, width // 8
    logits = rng.normal(0.0, spread, (batch, 65, hc, wc)).astype(dtype)
    coarse = rng.normal(0.0, 1.0, (batch, channels, hc, wc)).astype(dtype)
    return logits, coarse


def _cpu_pipeline(logits, coarse, thr, r, border, max_k, valid, interpolation, convention, **kw):
    """Per image: heatmap -> crop to the valid region -> detect [-> refine_subpixel] -> sample, as SuperPoint does on
    the CPU. ``kw``: use_reference (False), subpixel (False), subpixel_method ("parabola"), image (None: the
    network input (B, 1, H, W), for "forstner")."""
    mod = reference if kw.get("use_reference", False) else ops
    out = []
    for b in range(logits.shape[0]):
        heat = mod.heatmap(logits[b])
        crop = np.ascontiguousarray(heat[: valid[0], : valid[1]])
        k, s = mod.detect(crop, thr, r, border, max_k)
        if kw.get("subpixel", False) and len(k):
            image = kw.get("image")
            img = None if image is None else image[b, 0, : valid[0], : valid[1]]
            k = refine_subpixel(crop, k, kw.get("subpixel_method", "parabola"), img)
        d = mod.sample_descriptors(coarse[b], k, interpolation, convention)
        out.append((heat, k, s, d))
    return out


def _check_against(d, expected, desc_atol):
    for b, (heat, k, s, desc) in enumerate(expected):
        n = int(d["counts"][b])
        np.testing.assert_array_equal(d["heat"][b], heat)
        assert n == len(k), (b, n, len(k))
        np.testing.assert_array_equal(d["keypoints"][b, :n], k)
        np.testing.assert_array_equal(d["scores"][b, :n], s)
        np.testing.assert_allclose(d["descriptors"][b, :n], desc, rtol=0, atol=desc_atol)


@pytest.mark.parametrize(
    ("height", "width", "batch", "valid"),
    [(240, 320, 2, (237, 315)), (480, 640, 1, (480, 640)), (720, 1280, 1, (715, 1280))],
)
def test_grid_pipeline_equals_cpu_ops(height, width, batch, valid):
    rng = np.random.default_rng(height)
    logits, coarse = _inputs(rng, batch, height, width)
    args = (0.015, 4, 4, -1, *valid, "bilinear", "center")
    d = C.postprocess_grid_cpu(logits, coarse, *args, schedule="jacobi" if height == 720 else "raster")
    assert d["keypoints"].shape[0] == batch and d["counts"].dtype == np.int32
    _check_against(d, _cpu_pipeline(logits, coarse, 0.015, 4, 4, None, valid, "bilinear", "center"), 1e-6)


@pytest.mark.parametrize("method", ["parabola", "centroid", "centroid5", "forstner"])
@pytest.mark.parametrize(("border", "valid", "max_k"), [(0, (61, 90), -1), (4, (64, 96), 40), (1, (57, 93), -1)])
def test_grid_pipeline_subpixel_equals_the_numpy_refinement(border, valid, max_k, method):
    """subpixel_grid.h over the twin's padded heatmap == refine_subpixel (float64 NumPy) on the CPU path's cropped
    one, bit for bit, for each method: the valid region, not the padded buffer, decides which neighbours exist
    (border 0 keeps points on its edge; the parabola must not move them across it; the Förstner step reads the
    image's valid region only, with garbage in the padding). Descriptors are sampled at the refined points."""
    rng = np.random.default_rng(7 + border)
    logits, coarse = _inputs(rng, 2, 64, 96)
    image = rng.random((2, 1, 64, 96)).astype(np.float32)
    image[:, :, valid[0] :, :] = 1e6  # padding the step must not read
    image[:, :, :, valid[1] :] = -1e6
    args = (0.015, 2, border, max_k, *valid, "bilinear", "center")
    d = C.postprocess_grid_cpu(logits, coarse, *args, subpixel=True, subpixel_method=method, image=image)
    top = None if max_k < 0 else max_k
    expected = _cpu_pipeline(
        logits, coarse, 0.015, 2, border, top, valid, "bilinear", "center", subpixel=True, subpixel_method=method,
        image=image,
    )  # fmt: skip
    _check_against(d, expected, 1e-6)
    kp = np.concatenate([d["keypoints"][b, : d["counts"][b]] for b in range(2)])
    assert np.any(kp != np.rint(kp))  # the refinement moved points
    plain = C.postprocess_grid_cpu(logits, coarse, 0.015, 2, border, max_k, *valid, "bilinear", "center")
    kp0 = np.concatenate([plain["keypoints"][b, : plain["counts"][b]] for b in range(2)])
    reach = {"centroid5": 1.0, "forstner": 2.5}.get(method, 0.5)
    assert np.all(np.abs(kp - kp0) <= reach)
    if border == 0:
        edge = (kp0[:, 0] == 0) | (kp0[:, 0] == valid[1] - 1)
        assert edge.any()
        if method == "parabola":
            assert np.all(kp[edge, 0] == kp0[edge, 0])
        else:  # the centroid may move inward only
            assert np.all(np.abs(kp[edge, 0] - kp0[edge, 0]) <= reach)
            assert np.all((kp[edge, 0] >= 0) & (kp[edge, 0] <= valid[1] - 1))


def test_grid_pipeline_rejects_unknown_subpixel_method():
    logits, coarse = _inputs(np.random.default_rng(0), 1, 16, 16, channels=8)
    with pytest.raises(ValueError, match="subpixel_method"):
        C.postprocess_grid_cpu(logits, coarse, 0.015, 2, 4, subpixel=True, subpixel_method="gauss")
    with pytest.raises(ValueError, match="needs the image"):
        C.postprocess_grid_cpu(logits, coarse, 0.015, 2, 4, subpixel=True, subpixel_method="forstner")
    small = np.zeros((1, 1, 8, 16), np.float32)
    with pytest.raises(ValueError, match=r"image must be \(B, 1, 8 Hc, 8 Wc\)"):
        C.postprocess_grid_cpu(logits, coarse, 0.015, 2, 4, subpixel=True, subpixel_method="forstner", image=small)
    with pytest.raises(TypeError, match="float32"):
        C.postprocess_grid_cpu(
            logits, coarse, 0.015, 2, 4, subpixel=True, subpixel_method="forstner", image=np.zeros((1, 1, 16, 16))
        )


def test_grid_pipeline_equals_numpy_reference():
    rng = np.random.default_rng(7)
    logits, coarse = _inputs(rng, 1, 240, 320, channels=64)
    d = C.postprocess_grid_cpu(logits, coarse, 0.02, 3, 5, -1, 240, 320, "bicubic", "superglue")
    expected = _cpu_pipeline(logits, coarse, 0.02, 3, 5, None, (240, 320), "bicubic", "superglue", use_reference=True)
    for b, (heat, k, s, desc) in enumerate(expected):
        n = int(d["counts"][b])
        np.testing.assert_allclose(d["heat"][b], heat, rtol=1e-6, atol=1e-7)
        assert n == len(k)
        np.testing.assert_array_equal(d["keypoints"][b, :n], k)
        np.testing.assert_allclose(d["scores"][b, :n], s, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(d["descriptors"][b, :n], desc, rtol=0, atol=1e-5)


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
@pytest.mark.parametrize("convention", ["center", "magicleap", "superglue"])
def test_grid_pipeline_fp16_inputs_interpolations_conventions(interpolation, convention):
    rng = np.random.default_rng(11)
    logits, coarse = _inputs(rng, 2, 64, 96, channels=32, dtype=np.float16)
    d = C.postprocess_grid_cpu(logits, coarse, 0.015, 2, 3, 50, 61, 90, interpolation, convention)
    expected = _cpu_pipeline(logits, coarse, 0.015, 2, 3, 50, (61, 90), interpolation, convention)
    _check_against(d, expected, 1e-6)
    assert (d["counts"] <= 50).all()


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_schedules_and_top_k(schedule):
    rng = np.random.default_rng(5)
    logits, coarse = _inputs(rng, 2, 120, 160, channels=16)
    for max_k in (0, 1, 37):
        d = C.postprocess_grid_cpu(logits, coarse, 0.015, 4, 4, max_k, schedule=schedule)
        expected = _cpu_pipeline(logits, coarse, 0.015, 4, 4, max_k, (120, 160), "bilinear", "center")
        _check_against(d, expected, 1e-6)


def _nms_kept(heat, thr, r, schedule):
    state, sweeps = C.nms_grid_cpu(heat[None], thr, r, schedule=schedule)
    assert not (state == 1).any()  # no candidate left undecided
    return np.flatnonzero(state[0].ravel() == KEPT), sweeps


def _hand_built_heatmaps():
    cases = []
    plateau = np.zeros((12, 14), np.float32)
    plateau[2:10, 3:12] = 0.5  # all ties: the lower linear index wins
    cases.append(("plateau", plateau))
    checker = np.where((np.add.outer(np.arange(16), np.arange(16)) % 2) == 0, 0.3, 0.2).astype(np.float32)
    cases.append(("checkerboard", checker))
    ramp = np.tile(np.arange(60, dtype=np.float32) / 60.0, (5, 1))  # a long chain of waiting candidates
    cases.append(("ramp", ramp))
    ties = np.full((9, 9), 0.1, np.float32)
    ties[4, 4] = ties[4, 6] = ties[6, 4] = 0.9  # equal maxima within each other's squares
    cases.append(("equal maxima", ties))
    stripes = np.repeat((np.arange(20) % 3 == 0).astype(np.float32)[None, :] * 0.7 + 0.1, 7, axis=0)
    cases.append(("stripes", stripes))
    rng = np.random.default_rng(0)
    quant = (rng.integers(0, 4, (30, 40)) / 4.0).astype(np.float32)  # many ties of few levels
    cases.append(("quantised", quant))
    return cases


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("radius", [0, 1, 2, 4])
def test_nms_fixed_point_equals_greedy_on_ties(schedule, radius):
    for name, heat in _hand_built_heatmaps():
        for thr in (0.0, 0.15, 0.5):
            kept, _ = _nms_kept(heat, thr, radius, schedule)
            greedy = np.sort(ops.nms(heat, thr, radius))
            np.testing.assert_array_equal(kept, greedy, err_msg=f"{name} thr={thr} r={radius} {schedule}")
            np.testing.assert_array_equal(np.sort(reference.nms(heat, thr, radius)), greedy)


def test_nms_ramp_needs_many_sweeps_and_still_matches():
    ramp = np.tile(np.arange(200, dtype=np.float32) / 200.0, (3, 1))
    kept, sweeps = _nms_kept(ramp, 0.0, 2, "jacobi")
    assert sweeps > 50  # each kept point waits for the one before it
    np.testing.assert_array_equal(kept, np.sort(ops.nms(ramp, 0.0, 2)))


@pytest.mark.parametrize(("height", "width"), [(240, 320), (480, 640)])
def test_nms_fixed_point_on_random_heatmaps(height, width):
    rng = np.random.default_rng(height + width)
    heat = rng.random((height, width), dtype=np.float32)
    heat[rng.random((height, width)) < 0.2] = 0.5  # plenty of exact ties
    for r in (1, 4):
        kept, _ = _nms_kept(heat, 0.3, r, "raster")
        np.testing.assert_array_equal(kept, np.sort(ops.nms(heat, 0.3, r)))


def test_kept_count_respects_capacity_bound():
    rng = np.random.default_rng(3)
    for r in (0, 1, 3, 6):
        heat = rng.random((37, 53), dtype=np.float32)
        kept, _ = _nms_kept(heat, 0.0, r, "raster")
        cap = C.postprocess_k_out(1, 5, 7, r, 0, -1, 37, 53)
        assert len(kept) <= cap == ((37 + r) // (r + 1)) * ((53 + r) // (r + 1))


def test_errors():
    rng = np.random.default_rng(0)
    logits, coarse = _inputs(rng, 1, 32, 32, channels=8)
    bad = logits.copy()
    bad[0, 3, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        C.postprocess_grid_cpu(bad, coarse, 0.015, 4, 4)
    with pytest.raises(ValueError):
        C.postprocess_grid_cpu(logits, coarse[:, :, :2], 0.015, 4, 4)
    with pytest.raises(ValueError):
        C.postprocess_grid_cpu(logits, coarse, 0.015, -1, 4)
    with pytest.raises(ValueError):
        C.postprocess_grid_cpu(logits, coarse, 0.015, 4, 4, valid_h=33)
    with pytest.raises(TypeError):
        C.postprocess_grid_cpu(logits.astype(np.float64), coarse, 0.015, 4, 4)
    with pytest.raises(ValueError, match="schedule"):
        C.nms_grid_cpu(np.zeros((1, 8, 8), np.float32), 0.1, 1, schedule="random")


# ---- on a GPU -------------------------------------------------------------------------------------------------------


def _cuda_or_skip():
    if not C.build_info()["cuda"] or not hasattr(C, "postprocess_cuda"):
        pytest.skip("extension built without CUDA")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    return torch


@pytest.mark.gpu
@pytest.mark.parametrize(("height", "width", "batch"), [(240, 320, 2), (480, 640, 1), (720, 1280, 2)])
@pytest.mark.parametrize("f16", [False, True])
def test_cuda_postprocess_equals_grid_cpu(height, width, batch, f16):
    torch = _cuda_or_skip()
    from superpoint_rt.gpu.pipeline import CudaPostprocess

    rng = np.random.default_rng(1)
    logits, coarse = _inputs(rng, batch, height, width, dtype=np.float16 if f16 else np.float32)
    valid = (height - 3, width)
    post = CudaPostprocess(conf_threshold=0.015, nms_radius=4, border=4, subpixel=False, device="cuda")
    out = post.run(torch.from_numpy(logits).cuda(), torch.from_numpy(coarse).cuda(), valid)
    d = C.postprocess_grid_cpu(logits, coarse, 0.015, 4, 4, -1, *valid)
    for b in range(batch):
        n = int(d["counts"][b])
        assert len(out[b]) == n
        np.testing.assert_array_equal(out[b].keypoints, d["keypoints"][b, :n])
        np.testing.assert_array_equal(out[b].scores, d["scores"][b, :n])
        np.testing.assert_allclose(out[b].descriptors, d["descriptors"][b, :n], rtol=0, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("method", ["parabola", "centroid", "centroid5", "forstner"])
def test_cuda_subpixel_equals_grid_cpu(method):
    """The CUDA refinement == its CPU twin: the same integer points; refined positions equal up to the GPU's fused
    multiply-adds (the CPU twin is built without contraction)."""
    torch = _cuda_or_skip()
    from superpoint_rt.gpu.pipeline import CudaPostprocess

    rng = np.random.default_rng(5)
    logits, coarse = _inputs(rng, 2, 240, 320)
    image = rng.random((2, 1, 240, 320)).astype(np.float32)
    valid = (237, 315)
    post = CudaPostprocess(conf_threshold=0.015, nms_radius=4, border=4, subpixel_method=method, device="cuda")
    cuda = lambda a: torch.from_numpy(a).cuda()  # noqa: E731
    out = post.run(cuda(logits), cuda(coarse), valid, image=cuda(image))
    d = C.postprocess_grid_cpu(
        logits, coarse, 0.015, 4, 4, -1, *valid, subpixel=True, subpixel_method=method, image=image
    )
    for b in range(2):
        n = int(d["counts"][b])
        assert len(out[b]) == n > 0
        np.testing.assert_allclose(out[b].keypoints, d["keypoints"][b, :n], rtol=0, atol=1e-4)
        np.testing.assert_array_equal(out[b].scores, d["scores"][b, :n])
