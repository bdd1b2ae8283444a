#!/usr/bin/env python
"""Where the network's time goes, layer by layer, in OpenVINO: per-layer time, kernel and achieved GFLOP/s.

For each precision (default: int8 and fp32; bf16 where the CPU has it) the network is compiled for one input size
with performance counters on (``PERF_COUNT``), run ``--warmup`` times and then ``--iterations`` times; per layer the
p50 of its counter, the kernel OpenVINO ran (``exec_type``: ``jit_avx2_I8`` is an INT8 kernel, ``brgconv_avx2_f32``
an FP32 one; a ``Reorder`` is a layout or precision conversion), and for convolutions the FLOPs
(``superpoint_rt.apps.bench.flops``) over that time. The precisions are interleaved call by call. With
``--isa-probe JSON`` (``bench/isa_probe.py``'s output) each convolution's rate is also held against the machine's
per-instruction limit with every core busy (``all_cpus``), INT8 against the INT8 limit and FP32/BF16 against the
FMA limit (BF16: the FMA limit, a lower bound).

    python bench/profile_layers.py --size 480 640 --isa-probe bench/results/isa_probe_zen2.json

Writes ``bench/results/layers_<name>.json`` (CPU model and flags, versions, load recorded).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from superpoint_rt.apps.bench.flops import layer_flops, network_flops  # noqa: E402
from superpoint_rt.sysinfo import cpu_description, machine_load, versions  # noqa: E402


def compile_request(precision: str, height: int, width: int, threads: int | None) -> Any:
    """An OpenVINO infer request of the engine SuperPoint builds for ``precision``, with performance counters."""
    import openvino as ov

    from superpoint_rt.backends import create_engine
    from superpoint_rt.weights import load_weights

    engine: Any = create_engine("openvino", load_weights(None), precision, num_threads=threads)
    config = dict(engine._config, PERF_COUNT="YES")
    model = engine._model.clone()
    model.reshape({model.inputs[0].any_name: [1, 1, height, width]})
    return ov.Core().compile_model(model, "CPU", config).create_infer_request(), config


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--precision", nargs="+", default=["int8", "fp32"])
    ap.add_argument("--size", type=int, nargs=2, default=[480, 640], metavar=("H", "W"))
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="OpenVINO threads (default: all)")
    ap.add_argument("--isa-probe", type=Path, default=None, help="bench/isa_probe.py JSON of this machine")
    ap.add_argument("--name", default="this_cpu", help="file name part: layers_<name>.json")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    h, w = args.size
    flops = dict(layer_flops(h, w))
    limits: dict[str, float] = {}
    if args.isa_probe:
        probe = json.loads(args.isa_probe.read_text())["all_cpus"]
        limits = {"int8": probe["int8_gops"], "fp32": probe["fp32_gflops"], "bf16": probe["fp32_gflops"]}

    requests = {}
    for p in args.precision:
        try:
            requests[p] = compile_request(p, h, w, args.threads)
        except Exception as e:  # e.g. BF16 on a CPU without it
            print(f"skipped {p}: {e}")
    x = np.random.default_rng(0).random((1, 1, h, w), dtype=np.float32)
    load = machine_load()
    for _ in range(args.warmup):
        for req, _cfg in requests.values():
            req.infer({0: x})
    totals: dict[str, list[float]] = {p: [] for p in requests}
    layers: dict[str, dict[tuple[str, str, str], list[float]]] = {p: {} for p in requests}
    for _ in range(args.iterations):
        for p, (req, _cfg) in requests.items():
            t0 = time.perf_counter()
            req.infer({0: x})
            totals[p].append(time.perf_counter() - t0)
            for info in req.profiling_info:
                key = (info.node_name, info.node_type, info.exec_type)
                layers[p].setdefault(key, []).append(info.real_time.total_seconds())

    result: dict[str, Any] = {
        "benchmark": "profile_layers",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "size": [h, w],
        "iterations": args.iterations,
        "network_gflop": round(network_flops(h, w) / 1e9, 4),
        "isa_limits_all_cpus": limits or None,
        "cpu": cpu_description(),
        "versions": versions(),
        "load": {"before": load, "after": machine_load()},
        "precisions": {},
    }
    for p, (_req, cfg) in requests.items():
        rows = []
        for (node, kind, kernel), ts in layers[p].items():
            ms = float(np.median(ts)) * 1e3
            if ms <= 0:
                continue
            layer = node.split("/")[0]
            row: dict[str, Any] = {"node": node, "type": kind, "kernel": kernel, "p50_ms": round(ms, 3)}
            if kind == "Convolution" and layer in flops:
                row["gflop"] = round(flops[layer] / 1e9, 4)
                row["gflops"] = round(flops[layer] / ms / 1e6, 2)
                if p in limits:
                    row["of_isa_limit"] = round(row["gflops"] / limits[p], 3)
            rows.append(row)
        rows.sort(key=lambda r: -r["p50_ms"])
        total = float(np.median(totals[p])) * 1e3
        result["precisions"][p] = {
            "config": {k: str(v) for k, v in cfg.items()},
            "p50_ms": round(total, 2),
            "network_gflops": round(network_flops(h, w) / total / 1e6, 2),
            "sum_of_layers_ms": round(sum(r["p50_ms"] for r in rows), 2),
            "kernels": sorted({r["kernel"] for r in rows}),
            "layers": rows,
        }
        print(f"== {p}: p50 {total:.1f} ms, {result['precisions'][p]['network_gflops']} GFLOP/s")
        for r in rows[:12]:
            extra = f" {r['gflops']:7.1f} GFLOP/s" if "gflops" in r else ""
            extra += f" ({r['of_isa_limit']:.2f} of the limit)" if "of_isa_limit" in r else ""
            print(f"  {r['p50_ms']:8.2f} ms  {r['node'][:36]:36s} {r['kernel']:22s}{extra}")
    out = args.out or ROOT / "bench" / "results" / f"layers_{args.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
