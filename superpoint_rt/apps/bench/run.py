"""One benchmark run: what it measures (:class:`BenchConfig`) and the measuring (:func:`run_benchmark`).

Every pipeline runs in a worker (:mod:`.workers`): by default a process of its own, with the same thread count as the
others, warmed up, timed one call per round with the order rotating each round (``isolation="process"``); or all in
this process (``isolation="none"``). For every resolution: the images, the detection threshold, the agreement checks
and the isolated post-processing timing; then for every batch size the timed rounds. A GEMM probe (:mod:`.peak`)
measures the machine's peak per precision in the same run, and every network timing is held against it
(:mod:`.flops`: the network's FLOPs at the measured size). The result is a JSON-able dict: one record per pipeline x
resolution x batch x stage, the machine (CPU, versions, load before/after), the settings, the peak and a summary
(ours/reference ratios, the default engine against the others, efficiency, agreement).
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ...sysinfo import cpu_description, machine_load, versions
from .agreement import pipeline_agreements
from .flops import network_flops, padded
from .peak import efficiency, merge_peaks
from .pipelines import DEMO_CONF_THRESHOLD, resolve_weights
from .thresholds import common_threshold, threshold_for_count
from .timing import STAGES, timing_stats
from .workers import LocalWorker, PipelineSpec, ProcessWorker, make_worker, settle, total_cpu_ns

#: identifies the layout of the result JSON; 2: workers (``settings.isolation``), the GEMM peak and efficiency,
#: INT8 among the engines, ``summary.precision_agreement`` (was ``bf16_vs_fp32_agreement``) and ``engine_ratios``
SCHEMA = "superpoint_rt.bench/2"
ALL_RESOLUTIONS = ((240, 320), (480, 640), (720, 1280))
ALL_BATCHES = (1, 8)
#: our engines besides the default one: every CPU engine x precision; the one the default resolves to, and
#: precisions this CPU lacks, are left out (the latter with the reason in ``skipped``)
OTHER_ENGINES = (("openvino", "int8"), ("openvino", "bf16"), ("openvino", "fp32"), ("onnxruntime", "fp32"))
#: kept for older callers: the FP32 engines
FP32_ENGINES = (("onnxruntime", "fp32"), ("openvino", "fp32"))
ISOLATIONS = ("process", "none")
Worker = LocalWorker | ProcessWorker


def available_cpus() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class BenchConfig:
    """What one benchmark run measures.

    ``engines``: ours, as (backend, precision); ("auto", None) is the default engine, "gpu-<backend>" the
    device-resident GPU pipeline. ``images``: files or folders, () = the package's bundled photos.
    ``conf_threshold``: None = 0.015, or with random weights the median per resolution of the per-image values that
    ~``target_candidates`` pixels pass. ``num_threads``: every pipeline's threads, the reference's PyTorch included
    (None: the CPUs this process may use). ``isolation``: "process" (each pipeline in a process of its own) or
    "none" (all in this one). ``peak_seconds``: per GEMM probe (0: no probe, no efficiency).
    """

    weights: str | None = None
    resolutions: tuple[tuple[int, int], ...] = ((480, 640),)
    batches: tuple[int, ...] = (1,)
    iterations: int = 20
    warmup: int = 2
    engines: tuple[tuple[str, str | None], ...] = (("auto", None), *OTHER_ENGINES)
    reference: bool = True
    images: tuple[str, ...] = ()
    conf_threshold: float | None = None
    target_candidates: int = 1500
    nms_radius: int = 4
    border: int = 4
    num_threads: int | None = None
    agreement: bool = True
    isolation: str = "process"
    peak_seconds: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Raise ValueError on settings that cannot be measured."""
        if self.iterations < 1 or self.warmup < 0:
            raise ValueError(f"iterations must be >= 1 and warmup >= 0, got {self.iterations}, {self.warmup}")
        for h, w in self.resolutions:
            if h < 16 or w < 16:
                raise ValueError(f"resolution {h}x{w} is below the 16x16 minimum")
        if any(b < 1 for b in self.batches):
            raise ValueError(f"batches must be >= 1, got {self.batches}")
        if self.isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {ISOLATIONS}, got {self.isolation!r}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {self.num_threads}")
        if self.peak_seconds < 0:
            raise ValueError(f"peak_seconds must be >= 0, got {self.peak_seconds}")


def _gather(workers: Sequence[Worker], method: str, *args: Any) -> list[Any]:
    """Ask every worker at once (process workers work in parallel), then collect; an exception stands in for a
    failed answer."""
    for w in workers:
        w.submit(method, *args)
    out: list[Any] = []
    for w in workers:
        try:
            out.append(w.result())
        except Exception as e:
            out.append(e)
    return out


def _specs(cfg: BenchConfig, threads: int, has_state_dict: bool, skipped: list[str]) -> list[PipelineSpec]:
    def spec(kind: str, backend: str, precision: str | None, num_threads: int | None) -> PipelineSpec:
        return PipelineSpec(
            kind, backend, precision, cfg.weights, tuple(cfg.images), cfg.nms_radius, cfg.border, num_threads
        )

    specs = []
    if cfg.reference:
        if has_state_dict:
            specs.append(spec("reference", "torch-eager", "fp32", threads))
        else:
            skipped.append("reference: needs state-dict weights (ONNX given)")
    for backend, precision in cfg.engines:
        if backend.startswith("gpu-"):
            specs.append(spec("gpu", backend[4:], precision, None))
        else:
            specs.append(spec("ours", backend, precision, threads))
    return specs


def _build(
    workers: list[Worker], threshold: float, skipped: list[str] | None
) -> tuple[list[Worker], list[dict[str, Any]]]:
    """(Re)build every worker's pipeline at ``threshold``; workers that fail (``skipped`` given: the first build) or
    duplicate an earlier one's backend and precision are closed and dropped."""
    keep: list[Worker] = []
    metas: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for w, meta in zip(workers, _gather(workers, "build", threshold), strict=True):
        if isinstance(meta, Exception):
            if skipped is None:
                raise meta
            spec = w.spec
            name = "reference" if spec.kind == "reference" else f"{spec.backend}:{spec.precision or 'default'}"
            skipped.append(f"{name}: {str(meta).removeprefix(spec.key + ': ')}")
            w.close()
            continue
        key = (meta["pipeline"], meta["backend"], meta["precision"])
        if key in seen:
            w.close()
            continue
        seen.add(key)
        keep.append(w)
        metas.append(meta)
    return keep, metas


def _peak(cfg: BenchConfig, precisions: Sequence[str], threads: int, log: Callable[[str], None]) -> dict[str, Any]:
    """The GEMM probe, in a process of its own (or this one, ``isolation="none"``)."""
    if cfg.peak_seconds <= 0:
        return {"skipped": "peak_seconds = 0"}
    worker = make_worker(PipelineSpec("probe"), cfg.isolation)
    try:
        peak: dict[str, Any] = worker.call("gemm_peak", list(precisions), threads, cfg.peak_seconds)
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"}
    finally:
        worker.close()
    for p, v in peak["precisions"].items():
        log(f"peak {p}: {v['gflops']} GFLOP/s ({v['best_probe']})")
    return peak


def run_benchmark(cfg: BenchConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmark described by ``cfg``; returns the JSON-able result (records + summary)."""
    cfg.check()
    weights, is_random, weights_note = resolve_weights(cfg.weights)
    log(weights_note)
    threads = cfg.num_threads or available_cpus()
    device, vers = cpu_description(), versions()
    load_before = machine_load()
    started = time.time()
    per_resolution_threshold = is_random and cfg.conf_threshold is None
    fixed = DEMO_CONF_THRESHOLD if cfg.conf_threshold is None else float(cfg.conf_threshold)

    skipped: list[str] = []
    specs = _specs(cfg, threads, weights.state_dict is not None, skipped)
    workers: list[Worker] = [make_worker(s, cfg.isolation) for s in specs]
    try:
        workers, metas = _build(workers, fixed, skipped)
        for s in skipped:
            log(f"skipped {s}")
        if not workers:
            raise RuntimeError("no pipeline could be created: " + "; ".join(skipped))
        precisions = sorted({m["precision"] for m in metas if m["pipeline"] != "ours-gpu"} | {"fp32"})
        if cfg.isolation == "process":
            settle([w.pid for w in workers])
        peak = _peak(cfg, precisions, threads, log)
        current = fixed

        records: list[dict[str, Any]] = []
        thresholds_rec: dict[str, Any] = {}
        threshold_used: dict[str, float] = {}
        agreement: dict[str, Any] = {}
        ref_agreement: dict[str, Any] = {}
        isolated: dict[str, Any] = {}
        for h, w in cfg.resolutions:
            res = f"{h}x{w}"
            counts = [c for c in _gather(workers, "load_frames", h, w)]
            for c in counts:
                if isinstance(c, Exception):
                    raise c
            n_frames = int(counts[0])
            ref = next((k for k, m in enumerate(metas) if m["pipeline"] == "reference"), None)
            if not per_resolution_threshold:
                per_image, threshold = [fixed] * n_frames, fixed
            else:  # random weights: ~target_candidates pixels pass, one value for every pipeline at this resolution
                src = ref if ref is not None else next(k for k, m in enumerate(metas) if m["pipeline"] == "ours")
                heats = workers[src].call("heatmaps")
                per_image = [threshold_for_count(hm, cfg.target_candidates) for hm in heats]
                threshold = common_threshold(per_image)
            thresholds_rec[res] = [round(t, 8) for t in per_image]
            threshold_used[res] = round(threshold, 8)
            if threshold != current:  # options are fixed at construction: new pipelines for a new threshold
                workers, metas = _build(workers, threshold, None)
                current = threshold

            if cfg.agreement:
                outs = _gather([workers[k] for k, m in enumerate(metas) if m["pipeline"] != "ours-gpu"], "detect_each")
                cpu_metas = [m for m in metas if m["pipeline"] != "ours-gpu"]
                for o in outs:
                    if isinstance(o, Exception):
                        raise o
                agreement[res], ref_agreement[res] = pipeline_agreements(cpu_metas, outs)
            if ref is not None:
                isolated[res] = workers[ref].call("postprocess_isolated", max(cfg.iterations, 5))

            for batch in cfg.batches:
                records += _time_configuration(workers, metas, n_frames, h, w, batch, cfg, device, vers, threads, log)
        if cfg.isolation == "process":
            settle([w.pid for w in workers])
        peak = merge_peaks(peak, _peak(cfg, precisions, threads, log))
        _add_efficiency(records, peak)
    finally:
        for wk in workers:
            wk.close()

    summary = _summary(records, agreement, ref_agreement, metas)
    summary["postprocess_isolated"] = isolated
    return {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "duration_s": round(time.time() - started, 1),
        "device": device,
        "versions": vers,
        "load": {"before": load_before, "after": machine_load()},
        "weights": {
            "source": weights.source,
            "random": is_random,
            "note": weights_note,
            "convention": weights.convention,
        },
        "settings": {
            **{k: v for k, v in asdict(cfg).items() if k not in ("extra", "engines")},
            "engines": [f"{b}:{p or 'default'}" for b, p in cfg.engines],
            "threads": threads,
            "isolation_rule": ISOLATION_RULES[cfg.isolation],
            "benchmark_pid": os.getpid(),
            "conf_thresholds": thresholds_rec,
            "conf_threshold_used": threshold_used,
            "conf_threshold_rule": (
                f"per image: the value that ~{cfg.target_candidates} heatmap pixels pass (FP32 reference heatmap); "
                "per resolution: the median of its images' values, given to every pipeline at construction"
                if per_resolution_threshold
                else "fixed"
            ),
            "reference_postprocess": (
                "superpoint_rt.ops.reference.postprocess_demo_style"
                if any(m["pipeline"] == "reference" for m in metas)
                else None
            ),
            "latency_definition": "per call (one batch of B images); fps = B / p50",
            "flops_definition": "2 x multiply-accumulates of the convolutions at the padded size (apps/bench/flops.py)",
            **cfg.extra,
        },
        "peak": peak,
        "pipelines": metas,
        "skipped": skipped,
        "records": records,
        "summary": summary,
    }


#: how the pipelines were timed, for the JSON
ISOLATION_RULES = {
    "process": (
        "each pipeline in a process of its own (spawned), the same thread count, warmed up; rounds interleaved, one "
        "call per pipeline per round, the order rotating each round; before each timed call the other pipelines' "
        "processes are let go idle (their CPU time stops advancing), and the CPU they used during it is recorded "
        "(others_cpu_ms)"
    ),
    "none": "every pipeline in the benchmark's process, one call each per round, the order rotating each round",
}


def _time_configuration(
    workers: Sequence[Worker],
    metas: Sequence[dict[str, Any]],
    n: int,
    h: int,
    w: int,
    batch: int,
    cfg: BenchConfig,
    device: dict[str, Any],
    vers: dict[str, Any],
    threads: int,
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Warm-up then timed rounds, every pipeline once per round (the order rotating); one record per pipeline x
    stage."""
    batches = [[(i * batch + k) % n for k in range(batch)] for i in range(max(n, 1))]
    k_all = range(len(workers))
    samples: list[dict[str, list[float]]] = [{s: [] for s in STAGES} for _ in k_all]
    counts: list[list[int]] = [[] for _ in k_all]
    others_cpu: list[list[float]] = [[] for _ in k_all]
    waited = [0.0 for _ in k_all]
    isolated = cfg.isolation == "process"
    load_at_start = machine_load()["loadavg"]
    if cfg.warmup:
        for k in k_all:
            if isolated:
                settle([x.pid for j, x in enumerate(workers) if j != k])
            workers[k].call("run", [batches[i % len(batches)] for i in range(cfg.warmup)])
    for it in range(cfg.iterations):
        idx = batches[(cfg.warmup + it) % len(batches)]
        for r in range(len(workers)):
            k = (r + it) % len(workers)  # the order rotates every round
            others = [x.pid for j, x in enumerate(workers) if j != k]
            if isolated:
                waited[k] += settle(others)
            cpu0 = total_cpu_ns(others) if isolated else None
            times, kp = workers[k].call("run", [idx])[0]
            cpu1 = total_cpu_ns(others) if cpu0 is not None else None
            if cpu0 is not None and cpu1 is not None:
                others_cpu[k].append((cpu1 - cpu0) / 1e6)
            for s, v in times.items():
                samples[k][s].append(v)
            counts[k].append(kp)
    records: list[dict[str, Any]] = []
    for k in k_all:
        m = metas[k]
        stages = [s for s in STAGES if samples[k][s]]
        mine = []
        for s in stages:
            rec: dict[str, Any] = {
                "pipeline": m["pipeline"],
                "backend": m["backend"],
                "precision": m["precision"],
                "default_engine": m["is_default"],
                "postprocess_impl": m["postprocess_impl"],
                "height": h,
                "width": w,
                "batch": batch,
                "stage": s,
                **timing_stats(samples[k][s], batch),
                "iterations": cfg.iterations,
                "keypoints_per_image": int(np.mean(counts[k])),
                "isolation": cfg.isolation,
                "threads": m.get("num_threads"),
                "loadavg_at_start": load_at_start,
                "device": device,
                "versions": vers,
            }
            if isolated:
                rec["others_cpu_ms_mean"] = round(float(np.mean(others_cpu[k])), 3) if others_cpu[k] else None
                rec["settle_wait_s"] = round(waited[k], 3)
            mine.append(rec)
        records += mine
        e2e = next(r for r in mine if r["stage"] == "e2e")
        log(
            f"{h}x{w} b{batch} {m['label']:<32} e2e p50 {e2e['p50_ms']:9.2f} ms  p99 {e2e['p99_ms']:9.2f} ms  "
            f"{e2e['fps']:8.2f} FPS  ({e2e['keypoints_per_image']} kp/img)"
        )
    return records


def _add_efficiency(records: list[dict[str, Any]], peak: dict[str, Any]) -> None:
    """Network records get the network's FLOPs (per call), the rate achieved at p50 and against the precision's
    peak (:func:`.peak.efficiency`), and ``efficiency_best``: the fastest call against the fastest probe call."""
    peaks = peak.get("precisions", {})
    for rec in records:
        if rec["stage"] != "network":
            continue
        hp, wp = padded(rec["height"], rec["width"])
        flops = network_flops(hp, wp, rec["batch"])
        p = peaks.get(rec["precision"], {}) if rec["pipeline"] != "ours-gpu" else {}
        rec["network_gflop"] = round(flops / 1e9, 4)
        rec.update(efficiency(flops, rec["p50_ms"] / 1e3, p.get("gflops")))
        best = efficiency(flops, rec["min_ms"] / 1e3, p.get("gflops_max"))
        rec["efficiency_best"] = best["efficiency"]


def _summary(
    records: list[dict[str, Any]],
    agreement: dict[str, Any],
    ref_agreement: dict[str, Any],
    metas: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """Ours against the reference (per engine), the default engine against our others, efficiency, the auto check."""
    ratios = []
    index = {
        (r["pipeline"], r["backend"], r["precision"], r["height"], r["width"], r["batch"], r["stage"]): r
        for r in records
    }
    for key, r in index.items():
        pipeline, backend, precision, h, w, b, stage = key
        if not pipeline.startswith("ours") or stage != "e2e":
            continue
        row: dict[str, Any] = {
            "backend": backend,
            "precision": precision,
            "default_engine": r["default_engine"],
            "height": h,
            "width": w,
            "batch": b,
            "e2e_fps": r["fps"],
        }
        for s in ("e2e", "postprocess", "network"):
            ours = index.get((pipeline, backend, precision, h, w, b, s))
            refr = index.get(("reference", "torch-eager", "fp32", h, w, b, s))
            if ours is None or refr is None or ours["p50_ms"] <= 0:
                continue
            row[f"{s}_latency_ratio_ours_over_reference"] = round(ours["p50_ms"] / refr["p50_ms"], 5)
            row[f"{s}_speedup"] = round(refr["p50_ms"] / ours["p50_ms"], 2)
        ratios.append(row)

    engine_ratios: list[dict[str, Any]] = []
    auto_check: list[dict[str, Any]] = []
    configs = sorted({(r["height"], r["width"], r["batch"]) for r in records})
    for h, w, b in configs:
        here = [x for x in records if (x["height"], x["width"], x["batch"]) == (h, w, b)]
        ours_e2e: list[dict[str, Any]] = [x for x in here if x["stage"] == "e2e" and x["pipeline"] == "ours"]
        default: dict[str, Any] | None = next((x for x in ours_e2e if x["default_engine"]), None)
        if default is None:
            continue
        net = {(x["backend"], x["precision"]): x for x in here if x["stage"] == "network"}
        name = f"{default['backend']}:{default['precision']}"
        for other in ours_e2e:
            if other is default:
                continue
            erow: dict[str, Any] = {
                "height": h,
                "width": w,
                "batch": b,
                "default": name,
                "other": f"{other['backend']}:{other['precision']}",
                "e2e_speedup": round(other["p50_ms"] / default["p50_ms"], 3),
            }
            dn, on = (
                net.get((default["backend"], default["precision"])),
                net.get((other["backend"], other["precision"])),
            )
            if dn is not None and on is not None:
                erow["network_speedup"] = round(on["p50_ms"] / dn["p50_ms"], 3)
            engine_ratios.append(erow)
        fastest = min(ours_e2e, key=lambda x: float(x["p50_ms"]))
        auto_check.append(
            {
                "height": h,
                "width": w,
                "batch": b,
                "default": name,
                "fastest": f"{fastest['backend']}:{fastest['precision']}",
                "default_is_fastest": fastest is default,
                "default_over_fastest_p50": round(default["p50_ms"] / fastest["p50_ms"], 3),
            }
        )
    eff_keys = ["pipeline", "backend", "precision", "height", "width", "batch", "p50_ms", "network_gflop"]
    eff_keys += ["achieved_gflops", "peak_gflops", "efficiency", "efficiency_best"]
    eff = [{k: r.get(k) for k in eff_keys} for r in records if r["stage"] == "network" and "efficiency" in r]
    chosen = next((m.get("chosen_by") for m in metas if m.get("is_default")), None)
    return {
        "ratios": ratios,
        "engine_ratios": engine_ratios,
        "efficiency": eff,
        "auto_choice": chosen,
        "auto_check": auto_check,
        "precision_agreement": agreement,
        "fp32_vs_reference_agreement": ref_agreement,
    }
