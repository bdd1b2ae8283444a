"""The PyTorch CUDA engine: its GPU-free parts on the CPU (graph cache, FP32-normalising forward), the rest on a GPU."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from superpoint_rt.backends.torch_cuda.graphs import GraphCache

torch = pytest.importorskip("torch")


# ---- graph cache (pure Python) ---------------------------------------------------------------------------------------


def test_graph_cache_captures_once_per_shape_and_evicts_lru():
    captured, released = [], []
    cache = GraphCache(lambda s: captured.append(s) or f"graph{s}", max_graphs=2, release=released.append)
    assert cache.get((1, 8, 8)) == "graph(1, 8, 8)"
    assert cache.get((1, 8, 8)) == "graph(1, 8, 8)"
    assert captured == [(1, 8, 8)] and cache.stats.hits == 1
    cache.get((2, 8, 8))
    cache.get((1, 8, 8))  # (1,8,8) is now the most recent
    cache.get((4, 8, 8))  # evicts (2,8,8), the least recently used
    assert cache.shapes() == [(1, 8, 8), (4, 8, 8)] and released == ["graph(2, 8, 8)"]
    assert cache.stats.evictions == 1 and len(cache) == 2
    cache.clear()
    assert len(cache) == 0 and len(released) == 3


def test_graph_cache_remembers_failed_captures():
    calls = []

    def capture(shape):
        calls.append(shape)
        raise RuntimeError("operation not permitted when stream is capturing")

    cache = GraphCache(capture)
    assert cache.get((1, 16, 16)) is None and cache.get((1, 16, 16)) is None
    assert calls == [(1, 16, 16)]  # tried once, then eager without retrying every frame
    assert "RuntimeError" in cache.stats.failures[(1, 16, 16)]
    with pytest.raises(ValueError):
        GraphCache(capture, max_graphs=0)


# ---- the graph body on the CPU ---------------------------------------------------------------------------------------


def _reference_net(weights):
    from superpoint_rt.network import SuperPointNet

    net = SuperPointNet().eval()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.state_dict.items()})
    return net


def test_make_forward_fp32_equals_network(rand_weights):
    from superpoint_rt.backends.torch_cuda import build_net, make_forward

    x = torch.from_numpy(np.random.default_rng(0).random((2, 1, 32, 48), dtype=np.float32))
    net = build_net(rand_weights, "cpu", torch.float32)
    with torch.no_grad():
        la, da = make_forward(net, torch.float32)(x)
        lb, db = _reference_net(rand_weights)(x)
    assert la.dtype == torch.float32 and da.dtype == torch.float32
    torch.testing.assert_close(la, lb, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(da, db, rtol=1e-4, atol=1e-4)


def test_make_forward_normalises_in_fp32_where_fp16_overflows(rand_weights):
    """Scaled-up descriptor head: the sum of squares exceeds FP16's 65504; normalising in FP32 stays finite."""
    from superpoint_rt.backends.torch_cuda import build_net, make_forward

    sd = dict(rand_weights.state_dict)
    sd["convDb.weight"] = sd["convDb.weight"] * np.float32(400.0)
    w = type(rand_weights)(sd, meta=rand_weights.meta, source="scaled")
    x = torch.from_numpy(np.random.default_rng(1).random((1, 1, 32, 32), dtype=np.float32))
    net = build_net(w, "cpu", torch.bfloat16)  # BF16 compute on the CPU; the normalisation path is the same
    with torch.no_grad():
        raw = net.descriptor_head(net.encode(x.to(torch.bfloat16))).float()
        _, desc = make_forward(net, torch.bfloat16)(x)
    assert float((raw**2).sum(1).max()) > 65504  # FP16's largest finite value: an FP16 sum would overflow
    norms = desc.norm(dim=1)
    assert torch.isfinite(desc).all()
    torch.testing.assert_close(norms, torch.ones_like(norms), rtol=1e-4, atol=1e-4)


def test_make_forward_rejects_a_normalising_net():
    from superpoint_rt.backends.torch_cuda import make_forward
    from superpoint_rt.network import SuperPointNet

    with pytest.raises(ValueError, match="normalize_descriptors=False"):
        make_forward(SuperPointNet(), torch.float32)


def test_engine_unavailable_without_cuda(rand_weights):
    from superpoint_rt.backends import BackendUnavailableError
    from superpoint_rt.backends.torch_cuda import TorchCUDAEngine

    with pytest.raises(BackendUnavailableError):
        TorchCUDAEngine(rand_weights, "int8")
    with pytest.raises(BackendUnavailableError, match="CUDA device"):
        TorchCUDAEngine(rand_weights, "fp16", device="cpu")
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailableError, match="no CUDA GPU"):
            TorchCUDAEngine(rand_weights, "fp16")


# ---- on a GPU --------------------------------------------------------------------------------------------------------

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_cuda_engine_matches_cpu_fp32_with_graphs_and_batches(rand_weights, precision):
    from superpoint_rt.backends import create_engine
    from superpoint_rt.backends.torch_cuda import TorchCUDAEngine

    cpu = create_engine("onnxruntime", rand_weights, "fp32")
    eng = TorchCUDAEngine(rand_weights, precision, max_graphs=2)
    rng = np.random.default_rng(0)
    for shape in [(1, 1, 64, 80), (3, 1, 64, 80), (1, 1, 64, 80), (2, 1, 48, 48)]:
        x = rng.random(shape, dtype=np.float32)
        la, da = eng.run(x)
        la, da = la.copy(), da.copy()
        lb, db = cpu.run(x)
        tol = 2e-3 if precision == "fp32" else 5e-2
        assert np.abs(la - lb).max() <= tol * (1 + np.abs(lb).max())
        assert np.median(np.sum(da * db, axis=1)) > 0.999
    info = eng.info()
    assert info["cuda_graphs"] and len(info["graphs"]) == 2 and not info["graph_failures"]


@pytest.mark.gpu
@gpu
def test_cuda_graph_replay_equals_eager(rand_weights):
    from superpoint_rt.backends.torch_cuda import TorchCUDAEngine

    x = np.random.default_rng(2).random((2, 1, 64, 64), dtype=np.float32)
    g = TorchCUDAEngine(rand_weights, "fp16", cuda_graphs=True)
    e = TorchCUDAEngine(rand_weights, "fp16", cuda_graphs=False)
    for _ in range(3):  # replays reuse the static buffers
        lg, dg = (a.copy() for a in g.run(x))
    le, de = e.run(x)
    np.testing.assert_allclose(lg, le, rtol=0, atol=1e-2)
    np.testing.assert_allclose(dg, de, rtol=0, atol=1e-2)


@pytest.mark.gpu
@gpu
def test_cuda_engine_run_device(rand_weights):
    from superpoint_rt.backends.torch_cuda import TorchCUDAEngine

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eng = TorchCUDAEngine(rand_weights, "fp16")
    x = torch.rand((1, 1, 64, 64), device="cuda")
    logits, desc = eng.run_device(x)
    torch.cuda.synchronize()
    assert logits.is_cuda and logits.dtype == torch.float32 and tuple(desc.shape) == (1, 256, 8, 8)
    with pytest.raises(ValueError):
        eng.run_device(torch.rand((1, 1, 60, 64), device="cuda"))
