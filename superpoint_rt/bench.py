"""``superpoint-rt bench``: per-stage latency and FPS of our pipeline against a reference-style one, in one run.

Two pipelines run on the same images (real photos resized to each resolution), interleaved iteration by iteration so
that a change in machine load hits both alike:

* **reference**: what the original Magic Leap demo does, re-implemented here: gray float32 image, PyTorch eager FP32
  network (:class:`superpoint_rt.network.SuperPointNet`), NumPy softmax + reshape/transpose to the full-resolution
  heatmap, ``np.where`` threshold, greedy grid NMS with one Python iteration per candidate, border removal, bilinear
  descriptor sampling and L2 normalisation in NumPy. At batch B the network runs on the whole batch and the
  post-processing loops over the images (the demo itself is batch 1 only).
* **ours**: :class:`superpoint_rt.SuperPoint` with the default engine (OpenVINO BF16 where the CPU has native BF16)
  and with the FP32 engines (ONNX Runtime, OpenVINO FP32); post-processing in C++.

Stages: ``preprocess`` (image -> network input), ``network``, ``postprocess`` (outputs -> keypoints + descriptors),
``e2e`` (uint8 BGR frames in, keypoints + descriptors out, measured around the whole call). Latencies are per call
(one batch of B images); ``fps`` = B / p50 latency.

With random weights (no default weights shipped) the heatmap is near uniform, so the detection threshold is set per
image such that about ``target_candidates`` (1500) pixels pass it, identical for both pipelines, and recorded.

Output: a JSON file (one record per measurement + a summary with the ours/reference ratios and the BF16-vs-FP32
keypoint agreement) and a PNG chart in ``bench/results/``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from .types import Features
from .weights import NoDefaultWeightsError, Weights, load_weights

SCHEMA = "superpoint_rt.bench/1"
STAGES = ("preprocess", "network", "postprocess", "e2e")
ALL_RESOLUTIONS = ((240, 320), (480, 640), (720, 1280))
ALL_BATCHES = (1, 8)
#: our engines besides the default one: (backend, precision)
FP32_ENGINES = (("onnxruntime", "fp32"), ("openvino", "fp32"))
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "bench" / "results"


# --------------------------------------------------------------------------------------------------------------------
# Machine description
# --------------------------------------------------------------------------------------------------------------------


def cpu_description() -> dict[str, Any]:
    """CPU model string and the flags that decide the fast paths (AMX, AVX512-BF16, AVX512-VNNI)."""
    model = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model in ("", platform.machine(), platform.processor()):
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    out: dict[str, Any] = {
        "cpu": model,
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "amx": bool(flags & {"amx_tile", "amx_bf16", "amx_int8"}),
        "avx512_bf16": "avx512_bf16" in flags,
        "avx512_vnni": "avx512_vnni" in flags,
        "avx512f": "avx512f" in flags,
    }
    try:
        import openvino as ov

        out["openvino_cpu_name"] = ov.Core().get_property("CPU", "FULL_DEVICE_NAME")
    except Exception:
        pass
    try:
        from .backends import cpu_supports_bf16

        out["native_bf16"] = cpu_supports_bf16()
    except Exception:
        out["native_bf16"] = False
    return out


def versions() -> dict[str, str | None]:
    """Versions of Python and of the packages that run the benchmark (None when not installed)."""
    from . import __version__

    out: dict[str, str | None] = {"python": platform.python_version(), "superpoint_rt": __version__}
    for name in ("numpy", "torch", "openvino", "onnxruntime", "cv2"):
        try:
            mod = __import__(name)
            out["opencv" if name == "cv2" else name] = str(getattr(mod, "__version__", "unknown"))
        except ImportError:
            out["opencv" if name == "cv2" else name] = None
    return out


def machine_load() -> dict[str, Any]:
    """Load averages (1, 5, 15 min), CPU count, this process's niceness and the busiest other processes."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "loadavg": load,
        "cpu_count": os.cpu_count(),
        "nice": os.nice(0) if hasattr(os, "nice") else None,
        "busiest_processes": _busiest_processes(),
    }


def _busiest_processes(n: int = 3) -> list[str]:
    """``ps`` lines (pid, nice, %cpu over the process lifetime, command) of the busiest other processes."""
    import shutil
    import subprocess

    ps = shutil.which("ps")
    if ps is None:
        return []
    try:
        out = subprocess.run(
            [ps, "-eo", "pid,ni,pcpu,args", "--sort=-pcpu"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    me = os.getpid()
    rows = []
    for line in out.splitlines()[1:]:
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[0].isdigit() and int(parts[0]) != me:
            rows.append(" ".join(parts)[:120])
        if len(rows) == n:
            break
    return rows


# --------------------------------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------------------------------


def default_image_paths() -> list[Path]:
    """The repository's test photos (tests/data/*.jpg|png); empty when not in a source checkout."""
    data = REPO_ROOT / "tests" / "data"
    return sorted(p for p in data.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def load_images(paths: Sequence[str | os.PathLike[str]] | None, height: int, width: int) -> list[np.ndarray]:
    """Real photos as BGR uint8 (height, width, 3), resized with area/cubic interpolation.

    ``paths`` None: the repository's test photos, else the first frames of the bundled sample video.
    """
    import cv2

    files = [Path(p) for p in paths] if paths else default_image_paths()
    frames: list[np.ndarray] = []
    for p in files:
        if p.is_dir():
            frames += [im for q in sorted(p.iterdir()) if (im := cv2.imread(str(q), cv2.IMREAD_COLOR)) is not None]
            continue
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot read {p} as an image")
        frames.append(img)
    if not frames:
        video = Path(__file__).resolve().parent / "data" / "sample" / "coffee_240x320.mp4"
        cap = cv2.VideoCapture(str(video))
        while len(frames) < 8:
            ok, img = cap.read()
            if not ok:
                break
            frames.append(img)
        cap.release()
    if not frames:
        raise FileNotFoundError("no benchmark images: pass --images FILES/DIR")
    out = []
    for img in frames:
        interp = cv2.INTER_AREA if img.shape[0] * img.shape[1] > height * width else cv2.INTER_CUBIC
        out.append(cv2.resize(img, (width, height), interpolation=interp))
    return out


# --------------------------------------------------------------------------------------------------------------------
# The reference-style pipeline (the original demo's steps, re-implemented)
# --------------------------------------------------------------------------------------------------------------------


def demo_heatmap(logits: np.ndarray) -> np.ndarray:
    """Demo-style heatmap: (65, Hc, Wc) logits -> (8Hc, 8Wc), softmax as exp / (sum + 1e-5), dustbin dropped."""
    dense = np.exp(logits)
    dense = dense / (np.sum(dense, axis=0) + 1e-5)
    nodust = dense[:-1]
    hc, wc = logits.shape[1:]
    heat = nodust.transpose(1, 2, 0).reshape(hc, wc, 8, 8).transpose(0, 2, 1, 3).reshape(hc * 8, wc * 8)
    return heat


def demo_grid_nms(ys: np.ndarray, xs: np.ndarray, scores: np.ndarray, h: int, w: int, radius: int) -> np.ndarray:
    """The demo's greedy NMS: visit candidates by descending score in a Python loop over a padded integer grid.

    Returns the kept candidates' indices into the inputs, by descending score.
    """
    order = np.argsort(-scores, kind="stable")
    r = radius
    grid = np.zeros((h + 2 * r, w + 2 * r), np.int32)
    grid[ys + r, xs + r] = 1
    inverse = np.full((h, w), -1, np.int64)
    inverse[ys, xs] = np.arange(len(ys))
    for i in order:  # one Python iteration per candidate, as in the demo
        y, x = int(ys[i]) + r, int(xs[i]) + r
        if grid[y, x] == 1:
            grid[y - r : y + r + 1, x - r : x + r + 1] = 0
            grid[y, x] = -1
    ky, kx = np.nonzero(grid == -1)
    kept = inverse[ky - r, kx - r]
    return kept[np.argsort(-scores[kept], kind="stable")]


def demo_sample_descriptors(coarse: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinear sampling as the demo's ``grid_sample`` (u = x/8 - 0.5, zero padding), then L2 normalisation.

    coarse (C, Hc, Wc), xy (N, 2) pixels -> (N, C).
    """
    c, hc, wc = coarse.shape
    u = xy[:, 0].astype(np.float64) / 8.0 - 0.5
    v = xy[:, 1].astype(np.float64) / 8.0 - 0.5
    x0, y0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fx, fy = u - x0, v - y0
    flat = coarse.reshape(c, hc * wc)
    out = np.zeros((c, len(xy)), np.float64)
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            yy, xx = y0 + dy, x0 + dx
            inside = (yy >= 0) & (yy < hc) & (xx >= 0) & (xx < wc)
            idx = np.clip(yy, 0, hc - 1) * wc + np.clip(xx, 0, wc - 1)
            out += flat[:, idx] * (wy * wx * inside)
    desc = out.astype(np.float32)
    desc /= np.maximum(np.linalg.norm(desc, axis=0), 1e-12)[None, :]
    return np.ascontiguousarray(desc.T)


def demo_postprocess(
    logits: np.ndarray, coarse: np.ndarray, conf_threshold: float, nms_radius: int = 4, border: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The whole demo post-processing of one image -> (keypoints (N, 2) x,y, scores (N,), descriptors (N, 256))."""
    heat = demo_heatmap(logits)
    h, w = heat.shape
    ys, xs = np.where(heat >= conf_threshold)
    scores = heat[ys, xs]
    kept = demo_grid_nms(ys, xs, scores, h, w, nms_radius)
    ys, xs, scores = ys[kept], xs[kept], scores[kept]
    inside = (xs >= border) & (xs < w - border) & (ys >= border) & (ys < h - border)
    xy = np.stack([xs[inside], ys[inside]], axis=1).astype(np.float32)
    desc = demo_sample_descriptors(coarse, xy)
    return xy, scores[inside].astype(np.float32), desc


def _reference_postprocess_fn() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``superpoint_rt.ops.reference.postprocess_demo_style`` when it exists with the expected signature, else ours."""
    try:
        from .ops import reference

        fn = getattr(reference, "postprocess_demo_style", None)
    except Exception:
        fn = None
    if fn is None:
        return demo_postprocess

    def call(logits: np.ndarray, coarse: np.ndarray, conf_threshold: float, nms_radius: int, border: int) -> Any:
        out = fn(logits, coarse, conf_threshold=conf_threshold, nms_radius=nms_radius, border=border)
        if isinstance(out, Features):
            return out.keypoints, out.scores, out.descriptors
        return out

    return call


class ReferencePipeline:
    """Reference-style pipeline: PyTorch eager FP32 + NumPy post-processing with the Python-loop NMS."""

    name = "reference"
    backend = "torch-eager"
    precision = "fp32"

    def __init__(self, weights: Weights, nms_radius: int = 4, border: int = 4) -> None:
        import torch

        from .network import SuperPointNet

        if weights.state_dict is None:
            raise ValueError("the reference pipeline needs state-dict weights (not ONNX)")
        self._torch = torch
        self.net = SuperPointNet().eval()
        self.net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.state_dict.items()})
        self.nms_radius = nms_radius
        self.border = border
        self.postprocess_fn = _reference_postprocess_fn()
        self.postprocess_impl = (
            "superpoint_rt.ops.reference.postprocess_demo_style"
            if self.postprocess_fn is not demo_postprocess
            else "superpoint_rt.bench.demo_postprocess"
        )

    def network(self, grays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, H, W) float32 -> logits (B, 65, Hc, Wc), coarse descriptors (B, 256, Hc, Wc)."""
        torch = self._torch
        with torch.no_grad():
            logits, desc = self.net(torch.from_numpy(grays)[:, None])
        return logits.numpy(), desc.numpy()

    def __call__(
        self, frames: Sequence[np.ndarray], thresholds: Sequence[float]
    ) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], dict[str, float]]:
        import cv2

        t0 = time.perf_counter()
        grays = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0 for f in frames])
        t1 = time.perf_counter()
        logits, coarse = self.network(grays)
        t2 = time.perf_counter()
        out = [
            self.postprocess_fn(logits[i], coarse[i], float(thresholds[i]), self.nms_radius, self.border)
            for i in range(len(frames))
        ]
        t3 = time.perf_counter()
        return out, {"preprocess": t1 - t0, "network": t2 - t1, "postprocess": t3 - t2, "e2e": t3 - t0}


class OursPipeline:
    """:class:`superpoint_rt.SuperPoint` on one engine; the per-stage times come from ``Features.timings``."""

    name = "ours"

    def __init__(self, weights: Weights, backend: str, precision: str | None, **kwargs: Any) -> None:
        from .api import SuperPoint

        self.sp = SuperPoint(weights, backend=backend, precision=precision, **kwargs)
        self.backend = self.sp.backend
        self.precision = self.sp.precision
        self.is_default = backend == "auto" and precision is None

    @property
    def label(self) -> str:
        return f"ours {self.backend} {self.precision}" + (" (default)" if self.is_default else "")

    def __call__(
        self, frames: Sequence[np.ndarray], thresholds: Sequence[float]
    ) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], dict[str, float]]:
        # One threshold per call: the batch's median of the per-image thresholds (identical for the reference).
        self.sp.conf_threshold = float(thresholds[0])
        t0 = time.perf_counter()
        feats = cast(list[Features], self.sp(list(frames)) if len(frames) > 1 else [self.sp(frames[0])])
        t1 = time.perf_counter()
        times = {s: float(sum(f.timings.get(s, 0.0) for f in feats)) for s in ("preprocess", "network", "postprocess")}
        times["e2e"] = t1 - t0
        return [(f.keypoints, f.scores, f.descriptors) for f in feats], times


class GpuOursPipeline:
    """:class:`superpoint_rt.gpu.pipeline.GpuPipeline` (engine ``gpu-tensorrt`` or ``gpu-torch``): end to end only
    (the stages run asynchronously on one stream; one synchronisation per call)."""

    name = "ours-gpu"
    is_default = False

    def __init__(self, weights: Weights, backend: str, precision: str | None, **kwargs: Any) -> None:
        from .gpu.pipeline import GpuPipeline

        kwargs.pop("num_threads", None)
        self.pipe = GpuPipeline(weights, backend=backend, precision=precision or "fp16", **kwargs)
        self.backend = f"gpu-{self.pipe.backend}"
        self.precision = self.pipe.precision

    @property
    def label(self) -> str:
        return f"ours GPU {self.pipe.backend} {self.precision}"

    def __call__(
        self, frames: Sequence[np.ndarray], thresholds: Sequence[float]
    ) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], dict[str, float]]:
        self.pipe.post.conf_threshold = float(thresholds[0])
        t0 = time.perf_counter()
        feats = cast(list[Features], self.pipe(list(frames)))
        t1 = time.perf_counter()
        return [(f.keypoints, f.scores, f.descriptors) for f in feats], {"e2e": t1 - t0}


# --------------------------------------------------------------------------------------------------------------------
# Thresholds, agreement
# --------------------------------------------------------------------------------------------------------------------


def threshold_for_count(heat: np.ndarray, count: int) -> float:
    """The largest threshold that at least ``count`` pixels of ``heat`` pass (heat >= threshold)."""
    flat = heat.ravel()
    if count >= flat.size:
        return float(flat.min())
    return float(np.partition(flat, flat.size - count)[flat.size - count])


def keypoint_agreement(
    kp_ref: np.ndarray, desc_ref: np.ndarray, kp_test: np.ndarray, desc_test: np.ndarray, radius: float = 1.0
) -> dict[str, Any]:
    """How well ``test`` keypoints reproduce ``ref`` ones.

    For every reference keypoint the nearest test keypoint (Euclidean); a match when within ``radius`` px.
    Returns the counts, the matched fraction and the matched descriptors' cosine similarities (the array, under
    ``"cosines"``, for pooling).
    """
    n, m = len(kp_ref), len(kp_test)
    if n == 0 or m == 0:
        return {"reference": n, "test": m, "matched": 0, "cosines": np.zeros(0, np.float64)}
    best = np.empty(n, np.int64)
    best_d2 = np.empty(n, np.float64)
    a, b = kp_ref.astype(np.float64), kp_test.astype(np.float64)
    for s in range(0, n, 1024):
        d2 = ((a[s : s + 1024, None, :] - b[None, :, :]) ** 2).sum(-1)
        best[s : s + 1024] = d2.argmin(1)
        best_d2[s : s + 1024] = d2[np.arange(d2.shape[0]), best[s : s + 1024]]
    ok = best_d2 <= radius * radius + 1e-9
    cos = np.einsum("ij,ij->i", desc_ref[ok].astype(np.float64), desc_test[best[ok]].astype(np.float64))
    return {"reference": n, "test": m, "matched": int(ok.sum()), "cosines": cos}


def summarise_agreement(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pool :func:`keypoint_agreement` results over images."""
    n = sum(p["reference"] for p in parts)
    matched = sum(p["matched"] for p in parts)
    cos = np.concatenate([p["cosines"] for p in parts]) if parts else np.zeros(0)
    return {
        "images": len(parts),
        "reference_keypoints": n,
        "test_keypoints": sum(p["test"] for p in parts),
        "fraction_within_1px": round(matched / n, 4) if n else None,
        "descriptor_cosine_median": round(float(np.median(cos)), 5) if cos.size else None,
        "descriptor_cosine_p1": round(float(np.percentile(cos, 1)), 5) if cos.size else None,
    }


# --------------------------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class BenchConfig:
    """What one benchmark run measures."""

    weights: str | None = None
    resolutions: tuple[tuple[int, int], ...] = ((480, 640),)
    batches: tuple[int, ...] = (1,)
    iterations: int = 20
    warmup: int = 2
    engines: tuple[tuple[str, str | None], ...] = (("auto", None), *FP32_ENGINES)
    reference: bool = True
    images: tuple[str, ...] = ()
    conf_threshold: float | None = None  # None: 0.015, or per image (~target_candidates) with random weights
    target_candidates: int = 1500
    nms_radius: int = 4
    border: int = 4
    num_threads: int | None = None
    agreement: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def _resolve_weights(spec: str | None) -> tuple[Weights, bool, str]:
    """(weights, random?, note)."""
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
            "superpoint_rt ships no default weights yet: fell back to weights='random' (seeded). The heatmap is "
            "near uniform, so the detection threshold is set per image so that ~target_candidates pixels pass it.",
        )


def timing_stats(samples: Sequence[float], batch: int = 1) -> dict[str, float]:
    """Per-call seconds -> p50 / p99 / mean / min milliseconds and FPS (``batch`` images per call, FPS from p50)."""
    ms = np.asarray(samples, np.float64) * 1e3
    p50 = float(np.percentile(ms, 50))
    return {
        "p50_ms": round(p50, 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
        "mean_ms": round(float(ms.mean()), 4),
        "min_ms": round(float(ms.min()), 4),
        "fps": round(batch * 1e3 / p50, 3) if p50 > 0 else float("inf"),
    }


def run_benchmark(cfg: BenchConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmark described by ``cfg``; returns the JSON-able result (records + summary)."""
    if cfg.iterations < 1 or cfg.warmup < 0:
        raise ValueError(f"iterations must be >= 1 and warmup >= 0, got {cfg.iterations}, {cfg.warmup}")
    for h, w in cfg.resolutions:
        if h < 16 or w < 16:
            raise ValueError(f"resolution {h}x{w} is below the 16x16 minimum")
    if any(b < 1 for b in cfg.batches):
        raise ValueError(f"batches must be >= 1, got {cfg.batches}")
    weights, is_random, weights_note = _resolve_weights(cfg.weights)
    log(weights_note)
    device, vers = cpu_description(), versions()
    load_before = machine_load()
    started = time.time()

    kwargs: dict[str, Any] = {"nms_radius": cfg.nms_radius, "border": cfg.border, "num_threads": cfg.num_threads}
    pipelines: list[Any] = []
    skipped: list[str] = []
    if cfg.reference:
        if weights.state_dict is None:
            skipped.append("reference: needs state-dict weights (ONNX given)")
        else:
            pipelines.append(ReferencePipeline(weights, cfg.nms_radius, cfg.border))
    seen: set[tuple[str, str]] = set()
    for backend, precision in cfg.engines:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p: OursPipeline | GpuOursPipeline
                if backend.startswith("gpu-"):
                    p = GpuOursPipeline(weights, backend[4:], precision, **kwargs)
                else:
                    p = OursPipeline(weights, backend, precision, **kwargs)
        except Exception as e:  # a backend that is not installed / not supported on this CPU
            skipped.append(f"{backend}:{precision or 'default'}: {type(e).__name__}: {e}")
            continue
        if (p.backend, p.precision) in seen:
            continue
        seen.add((p.backend, p.precision))
        pipelines.append(p)
    for s in skipped:
        log(f"skipped {s}")
    if not pipelines:
        raise RuntimeError("no pipeline could be created: " + "; ".join(skipped))
    ref = next((p for p in pipelines if isinstance(p, ReferencePipeline)), None)
    threshold_net: Any = ref or next((p for p in pipelines if isinstance(p, OursPipeline)), None)
    if threshold_net is None and is_random and cfg.conf_threshold is None:
        threshold_net = ReferencePipeline(weights, cfg.nms_radius, cfg.border)  # only its network, for thresholds

    records: list[dict[str, Any]] = []
    thresholds_rec: dict[str, Any] = {}
    agreement: dict[str, Any] = {}
    ref_agreement: dict[str, Any] = {}
    isolated: dict[str, Any] = {}
    for h, w in cfg.resolutions:
        frames = load_images(cfg.images or None, h, w)
        # Per-image detection threshold (random weights: ~target_candidates pass), identical for both pipelines.
        if cfg.conf_threshold is not None or not is_random:
            per_image = [0.015 if cfg.conf_threshold is None else float(cfg.conf_threshold)] * len(frames)
        else:
            per_image = []
            for f in frames:
                heat = _fp32_heatmap(threshold_net, f)
                per_image.append(threshold_for_count(heat, cfg.target_candidates))
        thresholds_rec[f"{h}x{w}"] = [round(t, 8) for t in per_image]

        if cfg.agreement:
            agreement[f"{h}x{w}"], ref_agreement[f"{h}x{w}"] = _agreements(pipelines, frames, per_image)
        if ref is not None and cfg.iterations > 0:
            isolated[f"{h}x{w}"] = _postprocess_isolated(ref, frames[0], per_image[0], cfg)

        for batch in cfg.batches:
            n = len(frames)
            batches = [[(i * batch + k) % n for k in range(batch)] for i in range(max(n, 1))]
            samples: dict[int, dict[str, list[float]]] = {id(p): {s: [] for s in STAGES} for p in pipelines}
            counts: dict[int, list[int]] = {id(p): [] for p in pipelines}
            batch_thresholds = [float(np.median([per_image[i] for i in b])) for b in batches]
            load_at_start = machine_load()["loadavg"]
            for it in range(cfg.warmup + cfg.iterations):
                bi = it % len(batches)
                fr = [frames[i] for i in batches[bi]]
                thr = [batch_thresholds[bi]] * batch
                for p in pipelines:  # interleaved: the same load for every pipeline
                    out, times = p(fr, thr)
                    if it >= cfg.warmup:
                        for s in times:
                            samples[id(p)][s].append(times[s])
                        counts[id(p)].append(int(np.mean([len(o[0]) for o in out])))
            for p in pipelines:
                stages = [s for s in STAGES if samples[id(p)][s]]
                for s in stages:
                    rec = {
                        "pipeline": p.name,
                        "backend": p.backend,
                        "precision": p.precision,
                        "default_engine": bool(getattr(p, "is_default", False)),
                        "postprocess_impl": "numpy-python-loop"
                        if p is ref
                        else ("cuda" if p.name == "ours-gpu" else "cpp"),
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
                    records.append(rec)
                e2e = next(r for r in records[-len(stages) :] if r["stage"] == "e2e")
                log(
                    f"{h}x{w} b{batch} {_label(p):<32} e2e p50 {e2e['p50_ms']:9.2f} ms  p99 {e2e['p99_ms']:9.2f} ms  "
                    f"{e2e['fps']:8.2f} FPS  ({e2e['keypoints_per_image']} kp/img)"
                )

    summary = _summary(records, agreement, ref_agreement)
    summary["postprocess_isolated"] = isolated
    result = {
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
            "conf_threshold_rule": (
                f"per image: the value that ~{cfg.target_candidates} heatmap pixels pass (FP32 reference heatmap); "
                "a batch uses the median of its images' thresholds, the same in both pipelines"
                if is_random and cfg.conf_threshold is None
                else "fixed"
            ),
            "reference_postprocess": ref.postprocess_impl if ref is not None else None,
            "latency_definition": "per call (one batch of B images); fps = B / p50",
            **cfg.extra,
        },
        "pipelines": [
            {"pipeline": p.name, "backend": p.backend, "precision": p.precision, "label": _label(p)} for p in pipelines
        ],
        "skipped": skipped,
        "records": records,
        "summary": summary,
    }
    return result


def _label(p: Any) -> str:
    return p.label if isinstance(p, (OursPipeline, GpuOursPipeline)) else "reference torch-eager fp32 + numpy"


def _postprocess_isolated(
    ref: ReferencePipeline, frame: np.ndarray, threshold: float, cfg: BenchConfig
) -> dict[str, Any]:
    """Post-processing alone on one image's FP32 network outputs, warm caches, nothing else running in between:
    ours (the C++ ops, as SuperPoint calls them) vs the reference's NumPy + Python-loop version, alternated."""
    import cv2

    from . import ops

    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
    logits, coarse = ref.network(gray[None])
    lg, cs = np.ascontiguousarray(logits[0]), np.ascontiguousarray(coarse[0])

    def ours() -> int:
        heat = ops.heatmap(lg)
        kp, _ = ops.detect(heat, threshold, cfg.nms_radius, cfg.border)
        ops.sample_descriptors(cs, kp)
        return len(kp)

    def reference() -> int:
        return len(ref.postprocess_fn(lg, cs, threshold, cfg.nms_radius, cfg.border)[0])

    times: dict[str, list[float]] = {"ours": [], "reference": []}
    counts = {"ours": ours(), "reference": reference()}
    for _ in range(max(cfg.iterations, 5)):
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


def _fp32_heatmap(pipeline: Any, frame: np.ndarray) -> np.ndarray:
    import cv2

    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
    if isinstance(pipeline, ReferencePipeline):
        logits, _ = pipeline.network(gray[None])
        return demo_heatmap(logits[0])
    return np.asarray(pipeline.sp.heatmap(frame))


def _agreements(
    pipelines: Sequence[Any], frames: Sequence[np.ndarray], thresholds: Sequence[float]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """BF16 vs FP32 (same backend) and ours-FP32 vs reference, at batch 1 over ``frames``."""
    outs: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for p in pipelines:
        outs[id(p)] = [p([f], [t])[0][0] for f, t in zip(frames, thresholds)]
    ours = [p for p in pipelines if isinstance(p, OursPipeline)]
    bf16 = [p for p in ours if p.precision == "bf16"]
    fp32 = [p for p in ours if p.precision == "fp32"]
    agreement: dict[str, Any] = {}
    for pb in bf16:
        pf = next((p for p in fp32 if p.backend == pb.backend), fp32[0] if fp32 else None)
        if pf is None:
            continue
        parts = [keypoint_agreement(a[0], a[2], b[0], b[2]) for a, b in zip(outs[id(pf)], outs[id(pb)])]
        agreement[f"{pb.backend}:bf16 vs {pf.backend}:fp32"] = summarise_agreement(parts)
    ref_agreement: dict[str, Any] = {}
    ref = next((p for p in pipelines if isinstance(p, ReferencePipeline)), None)
    if ref is not None:
        for pf in fp32:
            parts = [keypoint_agreement(a[0], a[2], b[0], b[2]) for a, b in zip(outs[id(ref)], outs[id(pf)])]
            s = summarise_agreement(parts)
            s["descriptor_convention"] = f"reference: magicleap, ours: {pf.sp.convention}"
            ref_agreement[f"{pf.backend}:fp32 vs reference"] = s
    return agreement, ref_agreement


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


# --------------------------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------------------------


def write_results(result: dict[str, Any], out_dir: str | os.PathLike[str], name: str, chart: bool = True) -> list[Path]:
    """Write ``<name>.json`` (and ``<name>.png``) into ``out_dir``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(result, indent=1, default=_json_default) + "\n")
    paths = [path]
    if chart:
        paths.append(plot_results(result, out / f"{name}.png"))
    return paths


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def plot_results(result: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Stacked p50 stage latencies and end-to-end FPS per pipeline and configuration (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = result["records"]
    configs = sorted({(r["height"], r["width"], r["batch"]) for r in recs})
    labels = [p["label"] for p in result["pipelines"]]
    keys = [(p["pipeline"], p["backend"], p["precision"]) for p in result["pipelines"]]
    index = {
        (r["pipeline"], r["backend"], r["precision"], r["height"], r["width"], r["batch"], r["stage"]): r for r in recs
    }
    fig, axes = plt.subplots(len(configs), 2, figsize=(13, 2.4 + 1.1 * len(keys) * len(configs)), squeeze=False)
    palette = ["#999999", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]
    for row, (h, w, b) in enumerate(configs):
        ax_lat, ax_fps = axes[row]
        n = len(keys)
        height = 0.8 / n
        for j, (k, label) in enumerate(zip(keys, labels)):
            vals = [index.get((*k, h, w, b, s), {}).get("p50_ms", 0.0) for s in STAGES]
            ys = np.arange(len(STAGES)) + (j - (n - 1) / 2) * height
            bars = ax_lat.barh(ys, vals, height=height, color=palette[j % len(palette)], label=label)
            for bar, v in zip(bars, vals):
                ax_lat.text(bar.get_width(), bar.get_y() + height / 2, f" {v:.3g}", va="center", fontsize=6)
        ax_lat.set_yticks(np.arange(len(STAGES)), list(STAGES), fontsize=8)
        ax_lat.invert_yaxis()
        ax_lat.set_xscale("log")
        ax_lat.set_xlabel("p50 latency per call, ms (log)")
        ax_lat.set_title(f"{h}x{w}, batch {b}: per stage", fontsize=9)
        if row == len(configs) - 1:
            ax_lat.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
        fps = [index.get((*k, h, w, b, "e2e"), {}).get("fps", 0.0) for k in keys]
        y = np.arange(n)
        bars = ax_fps.barh(y, fps, color=[palette[j % len(palette)] for j in range(n)])
        for bar, v in zip(bars, fps):
            ax_fps.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {v:.1f}", va="center", fontsize=7)
        ax_fps.set_yticks(y, labels, fontsize=7)
        ax_fps.invert_yaxis()
        ax_fps.set_xscale("log")
        ax_fps.set_xlabel("end-to-end FPS (images/s, log)")
        ax_fps.set_title(f"{h}x{w}, batch {b}: end to end", fontsize=9)
    dev = result["device"]
    load = result["load"]["before"].get("loadavg", [])
    weights = "RANDOM weights" if result["weights"]["random"] else result["weights"]["source"]
    fig.suptitle(
        f"superpoint_rt bench: {dev.get('cpu')} ({dev.get('cpu_count')} CPUs), {weights}, load {load}", fontsize=9
    )
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _parse_resolutions(text: str) -> tuple[tuple[int, int], ...]:
    out = []
    for part in text.split(","):
        try:
            h, w = (int(v) for v in part.lower().split("x"))
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"resolution must be HxW (e.g. 480x640), got {part!r}") from e
        out.append((h, w))
    return tuple(out)


def _parse_engines(text: str) -> tuple[tuple[str, str | None], ...]:
    out: list[tuple[str, str | None]] = []
    for part in text.split(","):
        part = part.strip()
        if part in ("default", "auto"):
            out.append(("auto", None))
        elif ":" in part:
            b, p = part.split(":", 1)
            out.append((b, p or None))
        else:
            out.append((part, None))
    return tuple(out)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The bench options (shared by ``superpoint-rt bench`` and ``bench/bench_cpu.py``)."""
    p.add_argument("--weights", default=None, help="weights (default: the package's; random when none ship)")
    p.add_argument("--quick", action="store_true", help="480x640, batch 1, 20 iterations (also the default)")
    p.add_argument("--full", action="store_true", help="every resolution (240x320, 480x640, 720x1280) x batch (1, 8)")
    p.add_argument("--resolutions", type=_parse_resolutions, default=None, help="HxW[,HxW...] (default 480x640)")
    p.add_argument("--batches", default=None, help="B[,B...] (default 1)")
    p.add_argument("--iters", type=int, default=20, help="timed iterations per configuration (default 20)")
    p.add_argument("--warmup", type=int, default=2, help="untimed iterations first (engine compilation) (default 2)")
    p.add_argument(
        "--engines",
        type=_parse_engines,
        default=None,
        help="ours, comma separated backend:precision or 'default' (default: default,onnxruntime:fp32,openvino:fp32)",
    )
    p.add_argument("--no-reference", action="store_true", help="skip the reference-style pipeline")
    p.add_argument("--no-agreement", action="store_true", help="skip the BF16 vs FP32 keypoint agreement")
    p.add_argument("--images", nargs="+", default=None, help="image files or folders (default: tests/data photos)")
    p.add_argument("--conf-threshold", type=float, default=None, help="fixed threshold (default: see --target)")
    p.add_argument("--target", type=int, default=1500, help="random weights: pixels passing the per-image threshold")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for our engines")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default bench/results)")
    p.add_argument("--name", default=None, help="file stem (default cpu_quick / cpu_full / cpu_custom)")
    p.add_argument("--no-chart", action="store_true", help="JSON only")


def config_from_args(args: argparse.Namespace) -> tuple[BenchConfig, str]:
    """BenchConfig and the output file stem from parsed options."""
    resolutions = args.resolutions or (ALL_RESOLUTIONS if args.full else ((480, 640),))
    if args.batches:
        try:
            batches = tuple(int(b) for b in str(args.batches).split(","))
        except ValueError as e:
            raise ValueError(f"--batches must be integers like 1,8, got {args.batches!r}") from e
    else:
        batches = ALL_BATCHES if args.full else (1,)
    custom = args.resolutions is not None or args.batches is not None
    name = args.name or ("cpu_custom" if custom else "cpu_full" if args.full else "cpu_quick")
    cfg = BenchConfig(
        weights=args.weights,
        resolutions=resolutions,
        batches=batches,
        iterations=args.iters,
        warmup=args.warmup,
        engines=args.engines or BenchConfig().engines,
        reference=not args.no_reference,
        images=tuple(args.images or ()),
        conf_threshold=args.conf_threshold,
        target_candidates=args.target,
        num_threads=args.threads,
        agreement=not args.no_agreement,
    )
    return cfg, name


def cmd_bench(args: argparse.Namespace) -> int:
    cfg, name = config_from_args(args)
    if hasattr(os, "nice") and os.nice(0) > 0:
        print(f"warning: running at niceness {os.nice(0)}; timings are affected", file=sys.stderr)
    result = run_benchmark(cfg)
    paths = write_results(result, args.out, name, chart=not args.no_chart)
    print_summary(result)
    for p in paths:
        print(f"wrote {p}")
    return 0


def print_summary(result: dict[str, Any]) -> None:
    """Human-readable ratios and agreement."""
    if result["weights"]["random"]:
        print(f"NOTE: {result['weights']['note']}")
    print(f"load average before/after: {result['load']['before']['loadavg']} / {result['load']['after']['loadavg']}")
    for r in result["summary"]["ratios"]:
        sp = r.get("e2e_speedup")
        pp = r.get("postprocess_speedup")
        print(
            f"{r['height']}x{r['width']} b{r['batch']} {r['backend']}:{r['precision']}"
            + (" (default)" if r["default_engine"] else "")
            + f": {r['e2e_fps']} FPS"
            + (f", e2e {sp}x and post-processing {pp}x faster than the reference" if sp is not None else "")
        )
    for res, iso in result["summary"].get("postprocess_isolated", {}).items():
        print(
            f"{res} post-processing alone (warm, same FP32 outputs): ours {iso['ours_p50_ms']} ms, reference "
            f"{iso['reference_p50_ms']} ms p50 ({iso['speedup_p50']}x)"
        )
    for res, agr in result["summary"]["bf16_vs_fp32_agreement"].items():
        for k, v in agr.items():
            print(
                f"{res} {k}: {v['fraction_within_1px']} of FP32 keypoints within 1 px; descriptor cosine median "
                f"{v['descriptor_cosine_median']}, 1st percentile {v['descriptor_cosine_p1']}"
            )


def register(subparsers: Any) -> None:
    """Add ``superpoint-rt bench``."""
    p = subparsers.add_parser("bench", help="benchmark: per-stage latency/FPS vs a reference-style pipeline")
    add_arguments(p)
    p.set_defaults(func=cmd_bench)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_cpu", description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_arguments(parser)
    return cmd_bench(parser.parse_args(argv))
