"""ONNX export vs PyTorch, and every CPU engine vs PyTorch FP32 (the float64-free oracle here is torch eager)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from superpoint_rt.backends import BackendUnavailableError, cpu_supports_bf16, create_engine
from superpoint_rt.export import build_onnx, export_onnx
from superpoint_rt.weights import load_weights

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def torch_outputs(rand_weights):
    from superpoint_rt.network import SuperPointNet

    net = SuperPointNet().eval()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in rand_weights.state_dict.items()})
    x = np.random.default_rng(1).random((2, 1, 64, 96), dtype=np.float32)
    with torch.no_grad():
        a, b = net(torch.from_numpy(x))
    return x, a.numpy(), b.numpy()


def test_onnx_export_matches_torch_with_dynamic_shapes(rand_weights, torch_outputs, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    path = export_onnx(rand_weights, tmp_path / "sp.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x, a, b = torch_outputs
    la, lb = sess.run(["logits", "descriptors"], {"image": x})
    assert np.abs(la - a).max() <= 1e-4
    assert np.abs(lb - b).max() <= 1e-4
    # another batch and size through the same file: the axes are dynamic
    x2 = np.random.default_rng(2).random((1, 1, 40, 24), dtype=np.float32)
    la2, lb2 = sess.run(["logits", "descriptors"], {"image": x2})
    assert la2.shape == (1, 65, 5, 3) and lb2.shape == (1, 256, 5, 3)
    # the exported file loads back as ONNX weights, with the metadata
    w = load_weights(path)
    assert w.onnx_path == path and w.meta.get("stage") == "random"


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino", "torch"])
def test_fp32_engines_match_torch(backend, rand_weights, torch_outputs):
    x, a, b = torch_outputs
    eng = create_engine(backend, rand_weights, "fp32")
    la, lb = eng.run(x)
    assert np.abs(la - a).max() <= 1e-4
    assert np.abs(lb - b).max() <= 1e-4


@pytest.mark.skipif(not cpu_supports_bf16(), reason="CPU without native BF16 (AMX / AVX512-BF16)")
def test_openvino_bf16_close_to_fp32(rand_weights, torch_outputs):
    x, a, b = torch_outputs
    la, lb = create_engine("openvino", rand_weights, "bf16").run(x)
    # BF16 has an 8-bit mantissa: loose bounds, the accuracy guard is the keypoint agreement in bench/eval
    assert np.abs(la - a).max() < 0.1 * (np.abs(a).max() + 1)
    cos = (lb * b).sum(1)
    assert np.median(cos) > 0.99


def test_openvino_caches_compiled_shapes(rand_weights):
    eng = create_engine("openvino", rand_weights, "fp32")
    x = np.zeros((1, 1, 32, 32), np.float32)
    eng.run(x)
    eng.run(x)
    eng.run(np.zeros((1, 1, 40, 32), np.float32))
    assert set(eng.compile_seconds) == {(1, 32, 32), (1, 40, 32)}


def test_float16_onnx_graph_is_valid(rand_weights):
    import onnx

    m = build_onnx(rand_weights, dtype="float16")
    assert m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert all(o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for o in m.graph.output)


def test_engine_input_checks(rand_weights):
    eng = create_engine("onnxruntime", rand_weights, "fp32")
    with pytest.raises(TypeError):
        eng.run(np.zeros((1, 1, 16, 16), np.float64))
    with pytest.raises(ValueError):
        eng.run(np.zeros((1, 1, 17, 16), np.float32))
    with pytest.raises(ValueError):
        eng.run(np.zeros((1, 3, 16, 16), np.float32))


def test_unavailable_combinations_are_clear(rand_weights):
    with pytest.raises(BackendUnavailableError, match="fp32 only"):
        create_engine("onnxruntime", rand_weights, "bf16")
    with pytest.raises(BackendUnavailableError, match="int8"):
        create_engine("openvino", rand_weights, "int8")
    with pytest.raises(ValueError, match="unknown backend"):
        create_engine("tensorflow", rand_weights)
    with pytest.raises(BackendUnavailableError, match="CUDA"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            create_engine("torch", rand_weights, "fp16")
