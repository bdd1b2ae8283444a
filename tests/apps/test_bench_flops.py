"""The network's FLOPs (hand-worked for a tiny input, and counted from the real PyTorch modules) and the efficiency
field the benchmark derives from them and the GEMM peak."""

from __future__ import annotations

import pytest

from superpoint_rt.apps.bench.flops import layer_flops, network_flops, padded
from superpoint_rt.apps.bench.peak import efficiency, gemm_peak, merge_peaks


def test_flops_hand_worked_8x8():
    # 2 * Cin * Cout * k * k * pixels; conv1* at 8x8 = 64 px, conv2* at 4x4 = 16, conv3* at 2x2 = 4, the rest 1x1
    expected = {
        "conv1a": 2 * 1 * 64 * 9 * 64,
        "conv1b": 2 * 64 * 64 * 9 * 64,
        "conv2a": 2 * 64 * 64 * 9 * 16,
        "conv2b": 2 * 64 * 64 * 9 * 16,
        "conv3a": 2 * 64 * 128 * 9 * 4,
        "conv3b": 2 * 128 * 128 * 9 * 4,
        "conv4a": 2 * 128 * 128 * 9,
        "conv4b": 2 * 128 * 128 * 9,
        "convPa": 2 * 128 * 256 * 9,
        "convPb": 2 * 256 * 65,
        "convDa": 2 * 128 * 256 * 9,
        "convDb": 2 * 256 * 256,
    }
    assert dict(layer_flops(8, 8)) == expected
    assert network_flops(8, 8) == sum(expected.values()) == 10_854_912
    assert network_flops(8, 8, batch=3) == 3 * 10_854_912


def test_flops_scale_with_pixels_and_the_480x640_figure():
    # every layer runs at a fixed fraction of the input pixels: FLOPs = 169608 per input pixel (= 10854912 / 64)
    assert network_flops(480, 640) == 169_608 * 480 * 640  # ~52.1 GFLOP
    assert network_flops(240, 320) * 4 == network_flops(480, 640)
    assert padded(479, 633) == (480, 640) and padded(480, 640) == (480, 640)
    with pytest.raises(ValueError):
        network_flops(12, 16)
    with pytest.raises(ValueError):
        network_flops(8, 8, batch=0)


def test_flops_match_the_pytorch_modules():
    """Counted from the real network: every Conv2d's output size x its weight's size x 2."""
    torch = pytest.importorskip("torch")
    from superpoint_rt.network import SuperPointNet

    net = SuperPointNet().eval()
    counted: dict[str, int] = {}

    def hook(name):
        def f(mod, _inp, out):
            counted[name] = 2 * out.shape[0] * out.shape[2] * out.shape[3] * mod.weight.numel()

        return f

    for name, mod in net.named_modules():
        if isinstance(mod, torch.nn.Conv2d):
            mod.register_forward_hook(hook(name))
    with torch.no_grad():
        net(torch.zeros(2, 1, 24, 40))
    assert counted == dict(layer_flops(24, 40, batch=2))


def test_efficiency_field_hand_worked():
    e = efficiency(52_000_000_000, 0.5, 130.0)  # 104 GFLOP/s against 130
    assert e == {"achieved_gflops": 104.0, "peak_gflops": 130.0, "efficiency": 0.8}
    assert efficiency(10**9, 0.01, None) == {"achieved_gflops": 100.0, "peak_gflops": None, "efficiency": None}
    assert efficiency(10**9, 0.0, 10.0)["efficiency"] is None


def test_gemm_peak_probe_reports_each_precision():
    pytest.importorskip("openvino")
    pytest.importorskip("threadpoolctl")
    peak = gemm_peak(
        ["fp32", "int8", "fp16"],
        threads=1,
        seconds=0.01,
        matmul_shapes=((128, 128, 128),),
        conv1x1=(16, 64, 2),
        conv3x3=(16, 32, 1),
    )
    assert peak["threads"] == 1 and "fp16" in peak["skipped"]
    for p in ("fp32", "int8"):
        v = peak["precisions"][p]
        assert v["gflops"] > 0 and v["gflops_max"] >= v["gflops"]
        assert v["best_probe"] in [r["probe"] for r in v["probes"]]
        assert all(r["kernels"] for r in v["probes"])
    assert any(r["probe"].startswith("numpy") for r in peak["precisions"]["fp32"]["probes"])
    # the INT8 probes really run integer kernels
    assert any("I8" in k or "i8" in k for r in peak["precisions"]["int8"]["probes"] for k in r["kernels"])


def test_merge_peaks_keeps_each_probes_better_pass():
    def probe(name, p50, mx):
        return {"probe": name, "gflops_p50": p50, "gflops_max": mx, "kernels": ["k"]}

    a = {"threads": 2, "precisions": {"fp32": {"probes": [probe("m", 10.0, 12.0), probe("c", 30.0, 31.0)]}}}
    b = {"threads": 2, "precisions": {"fp32": {"probes": [probe("m", 40.0, 41.0), probe("c", 20.0, 35.0)]}}}
    m = merge_peaks(a, b)
    fp32 = m["precisions"]["fp32"]
    assert m["passes"] == 2 and fp32["gflops"] == 40.0 and fp32["best_probe"] == "m"
    assert [r["gflops_p50"] for r in fp32["probes"]] == [40.0, 30.0]
    assert fp32["gflops_max"] == 41.0  # the best call of the probes kept
    assert merge_peaks({"error": "x"}, b) is b
