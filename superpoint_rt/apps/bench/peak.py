"""The machine's measured limit per precision: a GEMM probe, in the same run as the network timings held against it.

Each precision's peak is the fastest of a few dense products, each timed for ``seconds`` with ``threads`` threads:

* OpenVINO ``MatMul`` (M = N = K = 1024 and 2048), a stack of four 1x1 ``Convolution`` layers (a GEMM with
  M = 64 * 64 pixels, K = N = 256) and a stack of two 3x3 ``Convolution`` layers (an implicit GEMM with M = 64 * 64
  pixels, K = 128 * 9, N = 128: the network's own kind of layer), compiled for the precision: ``fp32``
  (INFERENCE_PRECISION_HINT f32), ``bf16`` (hint bf16; only where the CPU has native BF16) and ``int8``
  (FakeQuantize on both operands, u8 activations x s8 per-channel weights, as NNCF quantises the network);
* ``fp32`` also NumPy's ``matmul`` (its BLAS, limited to ``threads`` threads).

The rate of a probe is its FLOPs (2 M N K) over its p50 time; the precision's ``gflops`` is the best probe's p50 rate
(``gflops_max``: the best single call of any probe). The benchmark probes twice, before and after its timed rounds,
and keeps each probe's better pass (:func:`merge_peaks`): a peak is a limit, and a busy spell of a shared host
only ever lowers it. The network's efficiency is its FLOPs at the measured size over its p50 network time, divided
by that peak (:func:`efficiency`). Which kernel OpenVINO ran for each probe is recorded (``kernels``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

#: probe shapes: (name, M, K, N)
MATMUL_SHAPES = ((1024, 1024, 1024), (2048, 2048, 2048))
#: 1x1 convolution probe: spatial side, channels, stacked layers
CONV1X1 = (64, 256, 4)
#: 3x3 convolution probe: spatial side, channels, stacked layers
CONV3X3 = (64, 128, 2)
_OV_HINT = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}


def _time_rate(fn: Callable[[], Any], flops: int, seconds: float, min_calls: int = 3) -> dict[str, float]:
    fn()  # compile caches, page faults, thread start-up
    times: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < min_calls:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    p50 = float(np.percentile(times, 50))
    return {
        "gflops_p50": round(flops / p50 / 1e9, 2),
        "gflops_max": round(flops / min(times) / 1e9, 2),
        "calls": len(times),
    }


def _fake_quantize(node: Any, low: Any, high: Any, levels: int) -> Any:
    import openvino.opset13 as op

    lo, hi = op.constant(np.asarray(low, np.float32)), op.constant(np.asarray(high, np.float32))
    return op.fake_quantize(node, lo, hi, lo, hi, levels)


def _ov_model(kind: str, precision: str, shape: tuple[int, ...], rng: np.random.Generator) -> tuple[Any, int, tuple]:
    """(OpenVINO model, FLOPs per call, input shape) of one probe."""
    import openvino as ov
    import openvino.opset13 as op

    def weights(*dims: int) -> Any:
        w = (rng.standard_normal(dims) * 0.05).astype(np.float32)
        if precision != "int8":
            return op.constant(w)
        lim = np.abs(w).reshape(dims[0], -1).max(1).reshape((dims[0],) + (1,) * (len(dims) - 1))
        return _fake_quantize(op.constant(w), -lim, lim, 255)  # symmetric s8, per output channel

    def act(node: Any) -> Any:  # u8 activations in [0, 4]
        return _fake_quantize(node, np.float32(0.0), np.float32(4.0), 256) if precision == "int8" else node

    if kind == "matmul":
        m, k, n = shape
        x = op.parameter([m, k], np.float32, name="x")
        y = op.matmul(act(x), weights(n, k), False, True)
        return ov.Model([y], [x]), 2 * m * k * n, (m, k)
    side, ch, layers = shape
    ks = 3 if kind == "conv3x3" else 1
    x = op.parameter([1, ch, side, side], np.float32, name="x")
    y = x
    for _ in range(layers):
        pad = [ks // 2, ks // 2]
        y = op.relu(op.convolution(act(y), weights(ch, ch, ks, ks), [1, 1], pad, pad, [1, 1]))
    return ov.Model([y], [x]), 2 * side * side * ch * ch * ks * ks * layers, (1, ch, side, side)


def _ov_probe(kind: str, precision: str, shape: tuple[int, ...], threads: int, seconds: float) -> dict[str, Any]:
    import openvino as ov

    rng = np.random.default_rng(0)
    model, flops, in_shape = _ov_model(kind, precision, shape, rng)
    cfg = {
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
        "INFERENCE_NUM_THREADS": int(threads),
        "INFERENCE_PRECISION_HINT": _OV_HINT[precision],
    }
    compiled = ov.Core().compile_model(model, "CPU", cfg)
    request = compiled.create_infer_request()
    x = rng.random(in_shape, dtype=np.float32) * 4.0
    rate = _time_rate(lambda: request.infer({0: x}), flops, seconds)
    kernels = sorted(
        {
            str(o.get_rt_info()["primitiveType"].astype(str))
            for o in compiled.get_runtime_model().get_ordered_ops()
            if str(o.get_rt_info()["layerType"].astype(str)) in ("Convolution", "FullyConnected", "MatMul")
            or "Quantized" in str(o.get_rt_info()["layerType"].astype(str))
        }
    )
    if kind == "matmul":
        name = "openvino matmul " + "x".join(map(str, shape))
    else:
        name = f"openvino {kind} {shape[0]}x{shape[0]} px, {shape[1]} ch, {shape[2]} layers"
    return {"probe": name, "flops": flops, **rate, "kernels": kernels}


def _numpy_probe(n: int, threads: int, seconds: float) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    with threadpool_limits(limits=int(threads), user_api="blas"):
        rate = _time_rate(lambda: np.matmul(a, b, out=out), 2 * n**3, seconds)
    return {"probe": f"numpy matmul {n}x{n}x{n}", "flops": 2 * n**3, **rate, "kernels": ["blas"]}


def gemm_peak(
    precisions: Sequence[str],
    threads: int,
    seconds: float = 1.0,
    matmul_shapes: Sequence[tuple[int, int, int]] = MATMUL_SHAPES,
    conv1x1: tuple[int, int, int] = CONV1X1,
    conv3x3: tuple[int, int, int] = CONV3X3,
) -> dict[str, Any]:
    """Measure the peak of each precision in ``precisions`` ("fp32", "bf16", "int8"; others are skipped with a note).
    ``matmul_shapes`` (M, K, N), ``conv1x1`` and ``conv3x3`` (side, channels, layers): the probes (smaller ones for
    tests).

    Returns ``{"threads", "seconds_per_probe", "precisions": {p: {"gflops", "gflops_max", "best_probe", "probes"}},
    "skipped": {p: why}}``.
    """
    from ...backends import cpu_supports_bf16, openvino_available

    out: dict[str, Any] = {"threads": int(threads), "seconds_per_probe": seconds, "precisions": {}, "skipped": {}}
    for p in dict.fromkeys(precisions):
        if p not in _OV_HINT:
            out["skipped"][p] = "no GEMM probe for this precision"
            continue
        if p == "bf16" and not cpu_supports_bf16():
            out["skipped"][p] = "no native BF16 on this CPU"
            continue
        probes: list[dict[str, Any]] = []
        if openvino_available():
            for shape in matmul_shapes:
                probes.append(_ov_probe("matmul", p, shape, threads, seconds))
            probes.append(_ov_probe("conv1x1", p, conv1x1, threads, seconds))
            probes.append(_ov_probe("conv3x3", p, conv3x3, threads, seconds))
        if p == "fp32":
            probes.append(_numpy_probe(max(s[0] for s in matmul_shapes), threads, seconds))
        if not probes:
            out["skipped"][p] = "needs OpenVINO"
            continue
        out["precisions"][p] = _summarise(probes)
    return out


def _summarise(probes: list[dict[str, Any]]) -> dict[str, Any]:
    best = max(probes, key=lambda r: r["gflops_p50"])
    return {
        "gflops": best["gflops_p50"],
        "gflops_max": max(r["gflops_max"] for r in probes),
        "best_probe": best["probe"],
        "probes": probes,
    }


def merge_peaks(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two passes of :func:`gemm_peak` -> one: each probe's better pass (by p50 rate), ``passes`` counted."""
    if "precisions" not in first or "precisions" not in second:
        return first if "precisions" in first else second
    out = {**first, "precisions": {}, "passes": first.get("passes", 1) + second.get("passes", 1)}
    for p, a in first["precisions"].items():
        b = second["precisions"].get(p)
        if b is None:
            out["precisions"][p] = a
            continue
        theirs = {r["probe"]: r for r in b["probes"]}
        probes = [max(r, theirs.get(r["probe"], r), key=lambda x: x["gflops_p50"]) for r in a["probes"]]
        out["precisions"][p] = _summarise(probes)
    return out


def efficiency(flops: int, seconds: float, peak_gflops: float | None) -> dict[str, float | None]:
    """``{"achieved_gflops", "peak_gflops", "efficiency"}``: ``flops`` done in ``seconds`` against the peak (None
    when there is no peak for the precision)."""
    achieved = flops / seconds / 1e9 if seconds > 0 else None
    eff = achieved / peak_gflops if achieved is not None and peak_gflops else None
    return {
        "achieved_gflops": None if achieved is None else round(achieved, 2),
        "peak_gflops": peak_gflops,
        "efficiency": None if eff is None else round(eff, 3),
    }
