"""Homographic Adaptation: identity-only equals plain detection; unwarping is consistent; shards resume."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("torch")

from superpoint_rt.ops import reference
from superpoint_rt.train.adaptation import (
    AdaptationConfig,
    TorchHeatmap,
    adapt_image,
    aggregate_heatmap,
    run_adaptation,
)
from superpoint_rt.train.labels import load_labels


def _peaky_heatmap(batch: np.ndarray) -> np.ndarray:
    """A deterministic 'detector': blurred squared image (smooth, with local maxima)."""
    out = []
    for img in batch[:, 0]:
        out.append(cv2.GaussianBlur(img**2, (5, 5), 1.5) * 0.5)
    return np.stack(out).astype(np.float32)


def _image(seed: int = 0, h: int = 48, w: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.uniform(0, 1, (h, w)).astype(np.float32), (0, 0), 2.0)


def test_identity_only_equals_plain_detection() -> None:
    import torch

    from superpoint_rt.network import SuperPointNet

    torch.manual_seed(0)
    net = SuperPointNet()
    fn = TorchHeatmap(net.state_dict())
    img = _image()
    cfg = AdaptationConfig(num_homographies=1, threshold=0.01, top_k=None)
    kp, sc = adapt_image(img, fn, np.random.default_rng(0), cfg)
    heat = fn(img[None, None])[0]
    want_kp, want_sc = reference.detect(heat, 0.01, cfg.nms_radius, cfg.border)  # type: ignore[misc]
    np.testing.assert_array_equal(kp, want_kp)
    np.testing.assert_allclose(sc, want_sc, rtol=1e-6)


def test_aggregate_of_equivariant_detector_is_the_source_heatmap() -> None:
    img = _image(1)
    cfg = AdaptationConfig(num_homographies=6, batch_size=4)
    heat, count = aggregate_heatmap(img, _peaky_heatmap, np.random.default_rng(2), cfg)
    direct = _peaky_heatmap(img[None, None])[0]
    assert count.max() == 6 and count.min() >= 1  # the identity sees every pixel
    inner = (slice(8, -8), slice(8, -8))
    # warping is (nearly) equivariant for this smooth detector: close to the direct heatmap
    assert np.abs(heat[inner] - direct[inner]).mean() < 0.1 * direct[inner].mean()


def test_shards_written_resumed_and_loaded(tmp_path: Path) -> None:
    src = tmp_path / "imgs"
    (src / "sub").mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(src / ("sub" if i == 2 else "") / f"im{i}.png"), (_image(i, 60, 90) * 255).astype(np.uint8))
    cfg = AdaptationConfig(num_homographies=2, threshold=0.05)
    calls: list[int] = []

    def fn(b: np.ndarray) -> np.ndarray:
        calls.append(len(b))
        return _peaky_heatmap(b)

    shards = run_adaptation(src, tmp_path / "out", fn, cfg, size=(48, 64), shard_size=2, progress=False)
    assert [s.name for s in shards] == ["shard_00000.npz", "shard_00001.npz"]
    labels = load_labels(tmp_path / "out")
    assert sorted(labels) == ["im0.png", "im1.png", "sub/im2.png"]
    assert all(v.ndim == 2 and v.shape[1] == 3 for v in labels.values())
    n = len(calls)
    run_adaptation(src, tmp_path / "out", fn, cfg, size=(48, 64), shard_size=2, progress=False)
    assert len(calls) == n  # everything skipped


def test_engine_heatmap_equals_torch_heatmap():
    """The engine-backed heatmap_fn (ONNX Runtime FP32, C++ heatmap) equals the PyTorch one (BN folded)."""
    import torch

    from superpoint_rt.network import SuperPointNet
    from superpoint_rt.train.adaptation import EngineHeatmap, TorchHeatmap

    torch.manual_seed(0)
    net = SuperPointNet(batch_norm=True)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    sd = net.state_dict()
    batch = np.random.default_rng(0).random((3, 1, 48, 64), dtype=np.float32)
    a = TorchHeatmap(sd, precision="fp32")(batch)
    b = EngineHeatmap(sd, backend="onnxruntime", precision="fp32")(batch)
    assert a.shape == b.shape == (3, 48, 64)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_engine_heatmap_int8_runs_the_packaged_ir() -> None:
    """precision="int8" with the packaged weights runs their shipped INT8 IR; its heatmap stays close to FP32's
    (the FP32 ONNX Runtime engine as the oracle: same network, no quantisation)."""
    pytest.importorskip("openvino")
    from superpoint_rt.train.adaptation import EngineHeatmap
    from superpoint_rt.weights import load_weights

    w = load_weights("superpoint-rt")
    img = cv2.imread(str(Path(__file__).resolve().parents[1] / "data" / "astronaut.jpg"), cv2.IMREAD_GRAYSCALE)
    batch = (cv2.resize(img, (320, 240), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0)[None, None]
    q = EngineHeatmap(w, backend="openvino", precision="int8")
    assert q.engine.precision == "int8"
    a = EngineHeatmap(w, backend="onnxruntime", precision="fp32")(batch)
    b = q(batch)
    assert a.shape == b.shape == (1, 240, 320)
    assert not np.array_equal(a, b)  # quantised, not the FP32 network
    assert np.abs(a - b).mean() < 1e-3 and np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.98


def test_adapt_cli_loads_weights_by_name_and_refuses_int8_on_torch(tmp_path: Path) -> None:
    from superpoint_rt.apps.train_cli import main

    src = tmp_path / "img"
    src.mkdir()
    img = cv2.imread(str(Path(__file__).resolve().parents[1] / "data" / "astronaut.jpg"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(src / "a.png"), cv2.resize(img, (64, 48)))
    args = ["adapt", "--weights", "superpoint-rt", "--images", str(src), "--size", "48", "64"]
    args += ["--num-homographies", "3", "--no-progress"]
    with pytest.raises(ValueError, match="int8 runs on --engine openvino"):
        main([*args, "--out", str(tmp_path / "t"), "--engine", "torch", "--precision", "int8"])
    assert main([*args, "--out", str(tmp_path / "o"), "--engine", "onnxruntime", "--precision", "fp32"]) == 0
    labels = load_labels(tmp_path / "o")
    assert list(labels) == ["a.png"] and labels["a.png"].shape[1] == 3
