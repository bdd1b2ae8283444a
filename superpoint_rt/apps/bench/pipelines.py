"""The pipelines the benchmark times, behind one call: ``pipeline(frames) -> (detections, stage seconds)``.

Every detection option (threshold, NMS radius, border) is given at construction and fixed for the pipeline's
life: a different threshold means a new pipeline. Each detection is ``(keypoints (N, 2) x,y, scores (N,),
descriptors (N, D))``. Attributes the run and the report read: ``name`` (reference | ours | ours-gpu),
``backend``, ``precision``, ``label``, ``is_default``, ``postprocess_impl``, ``convention``, ``conf_threshold``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any, Protocol, cast

import numpy as np

from ...types import Features
from ...weights import NoDefaultWeightsError, Weights, load_weights

#: keypoints (N, 2) x,y, scores (N,), descriptors (N, D)
Detections = tuple[np.ndarray, np.ndarray, np.ndarray]
#: the detection threshold of the original demo
DEMO_CONF_THRESHOLD = 0.015


class Pipeline(Protocol):
    """What the benchmark needs of a pipeline."""

    name: str
    backend: str
    precision: str
    conf_threshold: float

    @property
    def label(self) -> str: ...

    def __call__(self, frames: Sequence[np.ndarray]) -> tuple[list[Detections], dict[str, float]]: ...


def gray_float(frame: np.ndarray) -> np.ndarray:
    """BGR uint8 -> gray float32 in [0, 1], the demo's way (OpenCV conversion, divide by 255)."""
    import cv2

    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0


class ReferencePipeline:
    """What the original Magic Leap demo does: PyTorch eager FP32 network + the demo's NumPy post-processing
    (:func:`superpoint_rt.ops.reference.postprocess_demo_style`, grid NMS with one Python iteration per candidate).
    """

    name = "reference"
    backend = "torch-eager"
    precision = "fp32"
    label = "reference torch-eager fp32 + numpy"
    is_default = False
    postprocess_impl = "numpy-python-loop"
    #: the function that does the post-processing, for the JSON
    postprocess_source = "superpoint_rt.ops.reference.postprocess_demo_style"
    #: where the demo samples descriptors (grid_sample, align_corners=False, zero padding)
    convention = "magicleap"

    def __init__(
        self,
        weights: Weights,
        conf_threshold: float = DEMO_CONF_THRESHOLD,
        nms_radius: int = 4,
        border: int = 4,
        num_threads: int | None = None,
    ) -> None:
        import torch

        from ...network import SuperPointNet

        if weights.state_dict is None:
            raise ValueError("the reference pipeline needs state-dict weights (not ONNX)")
        if num_threads is not None:  # PyTorch's intra-op threads (process-wide)
            torch.set_num_threads(int(num_threads))
        self._torch = torch
        self.net = SuperPointNet().eval()
        self.net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.state_dict.items()})
        self.conf_threshold = float(conf_threshold)
        self.nms_radius = nms_radius
        self.border = border

    def network(self, grays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, H, W) float32 -> logits (B, 65, Hc, Wc), coarse descriptors (B, 256, Hc, Wc)."""
        torch = self._torch
        with torch.no_grad():
            logits, desc = self.net(torch.from_numpy(grays)[:, None])
        return logits.numpy(), desc.numpy()

    def postprocess(self, logits: np.ndarray, coarse: np.ndarray) -> Detections:
        """One image's (65, Hc, Wc) logits and (C, Hc, Wc) coarse descriptors -> detections, the demo's way."""
        from ...ops.reference import postprocess_demo_style

        return postprocess_demo_style(
            logits, coarse, conf_threshold=self.conf_threshold, nms_radius=self.nms_radius, border=self.border
        )

    def heatmap(self, frame: np.ndarray) -> np.ndarray:
        """The FP32 demo-style heatmap (H, W) of one BGR frame."""
        from ...ops.reference import heatmap_demo_style

        logits, _ = self.network(gray_float(frame)[None])
        return heatmap_demo_style(logits[0])

    def __call__(self, frames: Sequence[np.ndarray]) -> tuple[list[Detections], dict[str, float]]:
        t0 = time.perf_counter()
        grays = np.stack([gray_float(f) for f in frames])
        t1 = time.perf_counter()
        logits, coarse = self.network(grays)
        t2 = time.perf_counter()
        out = [self.postprocess(logits[i], coarse[i]) for i in range(len(frames))]
        t3 = time.perf_counter()
        return out, {"preprocess": t1 - t0, "network": t2 - t1, "postprocess": t3 - t2, "e2e": t3 - t0}


class OursPipeline:
    """:class:`superpoint_rt.SuperPoint` on one engine; the per-stage times come from ``Features.timings``.

    ``options`` (conf_threshold, nms_radius, border, num_threads, ...) go to the constructor of SuperPoint.
    """

    name = "ours"
    postprocess_impl = "cpp"

    def __init__(self, weights: Weights, backend: str, precision: str | None, **options: Any) -> None:
        from ...api import SuperPoint

        self.sp = SuperPoint(weights, backend=backend, precision=precision, **options)
        self.backend = self.sp.backend
        self.precision = self.sp.precision
        self.conf_threshold = float(self.sp.conf_threshold)
        self.convention = str(self.sp.convention)
        self.is_default = backend == "auto" and precision is None

    @property
    def label(self) -> str:
        return f"ours {self.backend} {self.precision}" + (" (default)" if self.is_default else "")

    def heatmap(self, frame: np.ndarray) -> np.ndarray:
        """The engine's heatmap (H, W) of one BGR frame."""
        return np.asarray(self.sp.heatmap(frame))

    def __call__(self, frames: Sequence[np.ndarray]) -> tuple[list[Detections], dict[str, float]]:
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
    postprocess_impl = "cuda"

    def __init__(self, weights: Weights, backend: str, precision: str | None, **options: Any) -> None:
        from ...gpu.pipeline import GpuPipeline

        options.pop("num_threads", None)
        self.pipe = GpuPipeline(weights, backend=backend, precision=precision or "fp16", **options)
        self.backend = f"gpu-{self.pipe.backend}"
        self.precision = self.pipe.precision
        self.conf_threshold = float(options.get("conf_threshold", DEMO_CONF_THRESHOLD))
        self.convention = str(options.get("convention") or weights.convention or "center")

    @property
    def label(self) -> str:
        return f"ours GPU {self.pipe.backend} {self.precision}"

    def __call__(self, frames: Sequence[np.ndarray]) -> tuple[list[Detections], dict[str, float]]:
        t0 = time.perf_counter()
        feats = cast(list[Features], self.pipe(list(frames)))
        t1 = time.perf_counter()
        return [(f.keypoints, f.scores, f.descriptors) for f in feats], {"e2e": t1 - t0}


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


def postprocess_isolated(ref: ReferencePipeline, frame: np.ndarray, iterations: int) -> dict[str, Any]:
    """Post-processing alone on one image's FP32 network outputs, warm caches, nothing else running in between:
    ours (the C++ ops, as SuperPoint calls them) vs the reference's NumPy + Python-loop version, alternated; both at
    the reference's detection options."""
    from ... import ops

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
