"""The GPU pipeline's code path on the CPU (PyTorch CPU forward + the CUDA kernels' CPU twin) against SuperPoint on
the CPU, its GPU preprocessing against OpenCV; the real GPU run where one exists."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from superpoint_rt._ext import ext_available, load_ext  # noqa: E402
from superpoint_rt.gpu.pipeline import (  # noqa: E402
    CudaPostprocess,
    GpuPipeline,
    gray_uint8_torch,
    to_network_input_torch,
)
from superpoint_rt.preprocess import pad_to_multiple, to_gray_float  # noqa: E402

needs_twin = pytest.mark.skipif(
    not ext_available() or not hasattr(load_ext(), "postprocess_grid_cpu"),
    reason="superpoint_rt._C lacks the data-parallel bindings (csrc/ext_cuda.cpp not built in)",
)


def test_gray_conversion_is_opencv_bit_exact():
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (1, 512, 512, 3), dtype=np.uint8)
    bgr[0, 0, :8] = [
        [0, 0, 0],
        [255, 255, 255],
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
        [1, 2, 3],
        [254, 1, 128],
        [7, 7, 7],
    ]
    ours = gray_uint8_torch(torch.from_numpy(bgr)).numpy()[0]
    np.testing.assert_array_equal(ours, cv2.cvtColor(bgr[0], cv2.COLOR_BGR2GRAY))
    bgra = np.concatenate([bgr, rng.integers(0, 256, (1, 512, 512, 1), dtype=np.uint8)], axis=-1)
    np.testing.assert_array_equal(gray_uint8_torch(torch.from_numpy(bgra)).numpy()[0], ours)


@pytest.mark.parametrize("shape", [(37, 53), (40, 64), (37, 53, 3), (37, 53, 4), (37, 53, 1)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_network_input_equals_cpu_preprocessing(shape, dtype):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    if dtype == np.float32:
        img = (img / 255.0).astype(np.float32)
    expected = pad_to_multiple(to_gray_float(img))
    ours = to_network_input_torch(torch.from_numpy(img[None])).numpy()
    assert ours.shape == (1, 1, *expected.shape)
    if dtype == np.uint8:
        np.testing.assert_array_equal(ours[0, 0], expected)
    else:
        np.testing.assert_allclose(ours[0, 0], expected, rtol=0, atol=3e-7)


@needs_twin
@pytest.mark.parametrize(
    ("subpixel", "method"),
    [(False, "parabola"), (True, "parabola"), (True, "centroid"), (True, "centroid5"), (True, "forstner")],
)
def test_cpu_code_path_equals_superpoint(astronaut, subpixel, method):
    from superpoint_rt import SuperPoint

    kw = dict(conf_threshold=0.016, subpixel=subpixel, subpixel_method=method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = SuperPoint("random", backend="torch", precision="fp32", **kw)
        pipe = GpuPipeline("random", device="cpu", **kw)
    a = cv2.resize(astronaut, (301, 237))
    b = cv2.flip(a, 1)
    gray = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY)
    for images in ([a], [a, b], [gray]):
        got = pipe(images)
        want = sp(images)
        assert isinstance(got, list) and len(got) == len(want)
        for g, w in zip(got, want):
            assert g.image_size == w.image_size == images[0].shape[:2]
            assert len(g) == len(w) > 0
            np.testing.assert_array_equal(g.keypoints, w.keypoints)
            np.testing.assert_allclose(g.scores, w.scores, rtol=1e-6, atol=1e-7)
            assert np.min(np.sum(g.descriptors * w.descriptors, axis=1)) > 0.9999
    single = pipe(a)
    assert not isinstance(single, list) and "e2e" in single.timings
    batch = pipe.batch([a, b])
    assert batch.counts.tolist() == [len(f) for f in pipe([a, b])]
    for f, g in zip(batch.to_list(), pipe([a, b])):
        np.testing.assert_array_equal(f.keypoints, g.keypoints)
        np.testing.assert_array_equal(f.descriptors, g.descriptors)
    assert not batch.descriptors[~batch.mask()].any()
    with pytest.raises(ValueError, match="one shape"):
        pipe.batch([a, gray])
    assert pipe.info()["pipeline"] == "gpu"


@needs_twin
def test_postprocess_validation():
    post = CudaPostprocess(device="cpu")
    logits = torch.zeros((1, 65, 4, 4))
    with pytest.raises(ValueError):
        post.run(logits, torch.zeros((1, 8, 4, 5)), (32, 32))
    with pytest.raises(TypeError):
        post.run(logits.double(), torch.zeros((1, 8, 4, 4)), (32, 32))
    with pytest.raises(ValueError):
        CudaPostprocess(nms_radius=-1, device="cpu")
    with pytest.raises(ValueError):
        CudaPostprocess(interpolation="nearest", device="cpu")
    corner = CudaPostprocess(device="cpu", subpixel_method="forstner")
    assert corner.needs_image and not post.needs_image
    with pytest.raises(ValueError, match="needs the network input"):
        corner.run(logits, torch.ones((1, 8, 4, 4)), (32, 32))
    with pytest.raises(ValueError, match=r"image must be float32 \(B, 1, 8 Hc, 8 Wc\)"):
        corner.run(logits, torch.ones((1, 8, 4, 4)), (32, 32), image=torch.zeros((1, 1, 32, 16)))
    out = post.run(logits, torch.ones((1, 8, 4, 4)), (32, 32))  # uniform heatmap 1/65 >= 0.015: ties everywhere
    assert len(out) == 1 and len(out[0]) > 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_pipeline_equals_cpu_superpoint(astronaut):
    from superpoint_rt import SuperPoint

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = SuperPoint("random", backend="onnxruntime", conf_threshold=0.016)
        pipe = GpuPipeline("random", backend="torch", precision="fp32", conf_threshold=0.016)
    a = cv2.resize(astronaut, (637, 477))
    g, w = pipe(a), sp(a)
    # FP32 (TF32 convolutions) vs ONNX Runtime: nearly all keypoints coincide
    d = np.abs(g.keypoints[:, None, :] - w.keypoints[None, :, :]).max(-1).min(1)
    assert (d == 0).mean() > 0.98
