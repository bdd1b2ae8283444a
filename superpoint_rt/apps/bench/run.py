"""One benchmark run: what it measures (:class:`BenchConfig`) and the measuring (:func:`run_benchmark`).

For every resolution: the images, the detection threshold, the agreement checks and the isolated post-processing
timing; then for every batch size the pipelines, interleaved iteration by iteration (a change in machine load hits
them alike). The result is a JSON-able dict: one record per pipeline x resolution x batch x stage, the machine
(CPU, versions, load before/after), the settings and a summary (ours/reference ratios, agreement).
"""

from __future__ import annotations

import datetime as _dt
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ...sysinfo import cpu_description, machine_load, versions
from ...weights import NoDefaultWeightsError, Weights, load_weights
from .agreement import pipeline_agreements
from .images import load_images
from .pipelines import DEMO_CONF_THRESHOLD, ReferencePipeline, create_pipelines
from .thresholds import common_threshold, threshold_for_count
from .timing import STAGES, timing_stats

#: identifies the layout of the result JSON (unchanged since the benchmark lived in ``superpoint_rt.bench``)
SCHEMA = "superpoint_rt.bench/1"
ALL_RESOLUTIONS = ((240, 320), (480, 640), (720, 1280))
ALL_BATCHES = (1, 8)
#: our engines besides the default one: (backend, precision)
FP32_ENGINES = (("onnxruntime", "fp32"), ("openvino", "fp32"))


@dataclass
class BenchConfig:
    """What one benchmark run measures.

    ``engines``: ours, as (backend, precision); ("auto", None) is the default engine, "gpu-<backend>" the
    device-resident GPU pipeline. ``images``: files or folders, () = the package's bundled photos.
    ``conf_threshold``: None = 0.015, or with random weights the median per resolution of the per-image values that
    ~``target_candidates`` pixels pass.
    """

    weights: str | None = None
    resolutions: tuple[tuple[int, int], ...] = ((480, 640),)
    batches: tuple[int, ...] = (1,)
    iterations: int = 20
    warmup: int = 2
    engines: tuple[tuple[str, str | None], ...] = (("auto", None), *FP32_ENGINES)
    reference: bool = True
    images: tuple[str, ...] = ()
    conf_threshold: float | None = None
    target_candidates: int = 1500
    nms_radius: int = 4
    border: int = 4
    num_threads: int | None = None
    agreement: bool = True
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


def resolve_weights(spec: str | None) -> tuple[Weights, bool, str]:
    """(weights, random?, note): ``spec`` as ``load_weights``; seeded random weights when the installation lacks the
    default weights file (or for ``"random"``)."""
    if spec == "random":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_weights("random"), True, "random weights requested (--weights random)"
    try:
        w = load_weights(spec)
        return w, w.meta.get("stage") == "random", f"weights: {w.source}"
    except NoDefaultWeightsError:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = load_weights("random")
        return (
            w,
            True,
            "this installation lacks the default weights file: fell back to weights='random' (seeded). The heatmap is "
            "near uniform, so the detection threshold is set per resolution so that ~target_candidates pixels pass "
            "it.",
        )


def run_benchmark(cfg: BenchConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmark described by ``cfg``; returns the JSON-able result (records + summary)."""
    cfg.check()
    weights, is_random, weights_note = resolve_weights(cfg.weights)
    log(weights_note)
    device, vers = cpu_description(), versions()
    load_before = machine_load()
    started = time.time()
    per_resolution_threshold = is_random and cfg.conf_threshold is None
    fixed = DEMO_CONF_THRESHOLD if cfg.conf_threshold is None else float(cfg.conf_threshold)

    def build(threshold: float) -> tuple[list[Any], list[str]]:
        return create_pipelines(
            weights,
            cfg.engines,
            reference=cfg.reference,
            conf_threshold=threshold,
            nms_radius=cfg.nms_radius,
            border=cfg.border,
            num_threads=cfg.num_threads,
        )

    pipelines, skipped = build(fixed)
    for s in skipped:
        log(f"skipped {s}")
    if not pipelines:
        raise RuntimeError("no pipeline could be created: " + "; ".join(skipped))
    current = fixed
    heat_source = _heatmap_source(pipelines, weights, cfg) if per_resolution_threshold else None

    records: list[dict[str, Any]] = []
    thresholds_rec: dict[str, Any] = {}
    threshold_used: dict[str, float] = {}
    agreement: dict[str, Any] = {}
    ref_agreement: dict[str, Any] = {}
    isolated: dict[str, Any] = {}
    for h, w in cfg.resolutions:
        res = f"{h}x{w}"
        frames = load_images(cfg.images or None, h, w)
        if heat_source is None:
            per_image = [fixed] * len(frames)
            threshold = fixed
        else:  # random weights: ~target_candidates pixels pass, one value for every pipeline at this resolution
            per_image = [threshold_for_count(heat_source.heatmap(f), cfg.target_candidates) for f in frames]
            threshold = common_threshold(per_image)
        thresholds_rec[res] = [round(t, 8) for t in per_image]
        threshold_used[res] = round(threshold, 8)
        if threshold != current:  # options are fixed at construction: new pipelines for a new threshold
            pipelines = []  # let the old engines go before the new ones are made
            pipelines, _ = build(threshold)
            current = threshold
        ref = next((p for p in pipelines if isinstance(p, ReferencePipeline)), None)

        if cfg.agreement:
            agreement[res], ref_agreement[res] = pipeline_agreements(pipelines, frames)
        if ref is not None:
            isolated[res] = postprocess_isolated(ref, frames[0], max(cfg.iterations, 5))

        for batch in cfg.batches:
            records += _time_configuration(pipelines, frames, h, w, batch, cfg, device, vers, log)

    ref = next((p for p in pipelines if isinstance(p, ReferencePipeline)), None)
    summary = _summary(records, agreement, ref_agreement)
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
            "conf_thresholds": thresholds_rec,
            "conf_threshold_used": threshold_used,
            "conf_threshold_rule": (
                f"per image: the value that ~{cfg.target_candidates} heatmap pixels pass (FP32 reference heatmap); "
                "per resolution: the median of its images' values, given to every pipeline at construction"
                if per_resolution_threshold
                else "fixed"
            ),
            "reference_postprocess": ref.postprocess_source if ref is not None else None,
            "latency_definition": "per call (one batch of B images); fps = B / p50",
            **cfg.extra,
        },
        "pipelines": [
            {"pipeline": p.name, "backend": p.backend, "precision": p.precision, "label": p.label} for p in pipelines
        ],
        "skipped": skipped,
        "records": records,
        "summary": summary,
    }


def _heatmap_source(pipelines: Sequence[Any], weights: Weights, cfg: BenchConfig) -> Any:
    """What computes the heatmaps the random-weights thresholds come from: the reference (FP32, the demo's
    heatmap), else our first CPU pipeline, else a reference network made for this alone."""
    src = next((p for p in pipelines if isinstance(p, ReferencePipeline)), None)
    src = src or next((p for p in pipelines if hasattr(p, "heatmap")), None)
    return src or ReferencePipeline(weights, DEMO_CONF_THRESHOLD, cfg.nms_radius, cfg.border)


def _time_configuration(
    pipelines: Sequence[Any],
    frames: Sequence[np.ndarray],
    h: int,
    w: int,
    batch: int,
    cfg: BenchConfig,
    device: dict[str, Any],
    vers: dict[str, Any],
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Warm-up then timed iterations of every pipeline, interleaved; one record per pipeline x stage."""
    n = len(frames)
    batches = [[(i * batch + k) % n for k in range(batch)] for i in range(max(n, 1))]
    samples: dict[int, dict[str, list[float]]] = {id(p): {s: [] for s in STAGES} for p in pipelines}
    counts: dict[int, list[int]] = {id(p): [] for p in pipelines}
    load_at_start = machine_load()["loadavg"]
    for it in range(cfg.warmup + cfg.iterations):
        fr = [frames[i] for i in batches[it % len(batches)]]
        for p in pipelines:  # interleaved: the same load for every pipeline
            out, times = p(fr)
            if it >= cfg.warmup:
                for s in times:
                    samples[id(p)][s].append(times[s])
                counts[id(p)].append(int(np.mean([len(o[0]) for o in out])))
    records: list[dict[str, Any]] = []
    for p in pipelines:
        stages = [s for s in STAGES if samples[id(p)][s]]
        mine = [
            {
                "pipeline": p.name,
                "backend": p.backend,
                "precision": p.precision,
                "default_engine": bool(getattr(p, "is_default", False)),
                "postprocess_impl": p.postprocess_impl,
                "height": h,
                "width": w,
                "batch": batch,
                "stage": s,
                **timing_stats(samples[id(p)][s], batch),
                "iterations": cfg.iterations,
                "keypoints_per_image": int(np.mean(counts[id(p)])),
                "loadavg_at_start": load_at_start,
                "device": device,
                "versions": vers,
            }
            for s in stages
        ]
        records += mine
        e2e = next(r for r in mine if r["stage"] == "e2e")
        log(
            f"{h}x{w} b{batch} {p.label:<32} e2e p50 {e2e['p50_ms']:9.2f} ms  p99 {e2e['p99_ms']:9.2f} ms  "
            f"{e2e['fps']:8.2f} FPS  ({e2e['keypoints_per_image']} kp/img)"
        )
    return records


def postprocess_isolated(ref: ReferencePipeline, frame: np.ndarray, iterations: int) -> dict[str, Any]:
    """Post-processing alone on one image's FP32 network outputs, warm caches, nothing else running in between:
    ours (the C++ ops, as SuperPoint calls them) vs the reference's NumPy + Python-loop version, alternated; both at
    the reference's detection options."""
    from ... import ops
    from .pipelines import gray_float

    logits, coarse = ref.network(gray_float(frame)[None])
    lg, cs = np.ascontiguousarray(logits[0]), np.ascontiguousarray(coarse[0])

    def ours() -> int:
        heat = ops.heatmap(lg)
        kp, _ = ops.detect(heat, ref.conf_threshold, ref.nms_radius, ref.border)
        ops.sample_descriptors(cs, kp)
        return len(kp)

    def reference() -> int:
        return len(ref.postprocess(lg, cs)[0])

    times: dict[str, list[float]] = {"ours": [], "reference": []}
    counts = {"ours": ours(), "reference": reference()}
    for _ in range(iterations):
        for name, fn in (("ours", ours), ("reference", reference)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    out: dict[str, Any] = {"keypoints": counts}
    for name, ts in times.items():
        out[f"{name}_p50_ms"] = round(float(np.percentile(ts, 50)) * 1e3, 4)
        out[f"{name}_min_ms"] = round(float(np.min(ts)) * 1e3, 4)
    out["speedup_p50"] = round(out["reference_p50_ms"] / out["ours_p50_ms"], 2)
    return out


def _summary(records: list[dict[str, Any]], agreement: dict[str, Any], ref_agreement: dict[str, Any]) -> dict[str, Any]:
    """Ratios ours/reference (latency) and speed-ups reference/ours per resolution x batch x engine."""
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
    return {"ratios": ratios, "bf16_vs_fp32_agreement": agreement, "fp32_vs_reference_agreement": ref_agreement}
