"""The public entry point: ``SuperPoint(weights=..., backend="auto")(image) -> Features``."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ops
from .backends import Engine, create_engine
from .multiscale import check_scales, merge_levels, resize_level
from .preprocess import pad_to_multiple, split_images, to_gray_float
from .subpixel import refine_subpixel
from .types import Features
from .weights import Weights, load_weights

INTERPOLATIONS = ("bilinear", "bicubic")
CONVENTIONS = ("center", "magicleap", "superglue")


class SuperPoint:
    """SuperPoint interest points and descriptors for gray or BGR images.

    Every knob, with its default (the original authors' demo for detection):

    ============== ============ ==========================================================================
    weights        None         path to the original ``superpoint_v1.pth``, our ``.npz``/``.pth``, or an
                                ONNX file; None = the package's default weights (raises while none ship);
                                "random" = seeded random weights (tests only)
    backend        "auto"       "openvino" (CPU default), "onnxruntime" (portable FP32), "torch"
                                (CPU/CUDA), "auto" = the best one installed
    precision      None         "fp32" | "bf16" | "fp16" | "int8"; None = fastest accurate one for the
                                backend (BF16 on CPUs with AMX/AVX512-BF16 under OpenVINO)
    device         None         "cpu" or "cuda[:N]" (torch backend)
    conf_threshold 0.015        keep heatmap values >= this
    nms_radius     4            greedy NMS: a kept point suppresses the (2r+1)^2 square around it
    border         4            drop points closer than this to the image border (after NMS)
    max_keypoints  None         keep the top-k by score (None: all)
    interpolation  "bilinear"   descriptor sampling: "bilinear" | "bicubic"
    subpixel       False        refine keypoints to the vertex of the heatmap's local quadratic fit
                                (superpoint_rt.subpixel; descriptors are sampled at the refined points)
    convention     None         "center" | "magicleap" | "superglue"; None = what the weights record
    num_threads    None         CPU threads for the engine
    int8_model     None         OpenVINO IR of a quantised model for precision="int8" (None: the IR shipped
                                beside packaged weights, if any); checked against the weights' fingerprint
    scales         (1.0,)       image pyramid for multi-scale detection, e.g. (1.0, 0.71, 0.5): the network
                                runs on each resized copy and the keypoints merge in input pixels, top-k over
                                all levels (superpoint_rt.multiscale; CPU path; costs the levels' total area)
    ============== ============ ==========================================================================

    Calling it: ``sp(image) -> Features``; ``sp([img, ...])`` or ``sp(array (B,H,W[,C]))`` -> list of Features
    (images of equal size run as one batch). Thread-safety: calls are serialised by an internal lock (the
    engines' buffers are reused per call), so one object may be shared between threads, but for parallel
    throughput use one SuperPoint per thread.
    """

    def __init__(
        self,
        weights: str | os.PathLike[str] | Weights | None = None,
        backend: str = "auto",
        precision: str | None = None,
        device: str | None = None,
        *,
        conf_threshold: float = 0.015,
        nms_radius: int = 4,
        border: int = 4,
        max_keypoints: int | None = None,
        interpolation: str = "bilinear",
        subpixel: bool = False,
        convention: str | None = None,
        num_threads: int | None = None,
        int8_model: str | None = None,
        scales: Sequence[float] = (1.0,),
    ) -> None:
        if not (0.0 <= float(conf_threshold) <= 1.0) or not np.isfinite(conf_threshold):
            raise ValueError(f"conf_threshold must be in [0, 1], got {conf_threshold}")
        if int(nms_radius) != nms_radius or nms_radius < 0:
            raise ValueError(f"nms_radius must be an integer >= 0, got {nms_radius}")
        if int(border) != border or border < 0:
            raise ValueError(f"border must be an integer >= 0, got {border}")
        if max_keypoints is not None and (int(max_keypoints) != max_keypoints or max_keypoints < 0):
            raise ValueError(f"max_keypoints must be None or an integer >= 0, got {max_keypoints}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
        self.weights = load_weights(weights)
        convention = convention or self.weights.convention or "center"
        if convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
        self.conf_threshold = float(conf_threshold)
        self.nms_radius = int(nms_radius)
        self.border = int(border)
        self.max_keypoints = None if max_keypoints is None else int(max_keypoints)
        self.interpolation = interpolation
        self.subpixel = bool(subpixel)
        self.convention = convention
        self.scales = check_scales(scales)
        self._gpu: Any = None
        if backend == "tensorrt" or (device is not None and device.startswith("cuda")):
            if self.subpixel:
                raise ValueError("subpixel=True runs on the CPU path only (not yet in the CUDA post-processing)")
            if self.scales != (1.0,):
                raise ValueError("multi-scale detection (scales) runs on the CPU path only (not yet on the GPU)")
            # the device-resident pipeline: upload, network, CUDA post-processing, one sync per call
            from .gpu.pipeline import GpuPipeline

            self._gpu = GpuPipeline(
                self.weights,
                backend=backend if backend in ("tensorrt", "torch") else "auto",
                precision=precision or "fp16",
                device=device or "cuda",
                conf_threshold=self.conf_threshold,
                nms_radius=self.nms_radius,
                border=self.border,
                max_keypoints=self.max_keypoints,
                interpolation=self.interpolation,
                convention=self.convention,
            )
            self.engine: Engine = self._gpu.engine
        else:
            self.engine = create_engine(
                backend, self.weights, precision, device=device, num_threads=num_threads, int8_model=int8_model
            )
        self._lock = threading.Lock()

    @property
    def backend(self) -> str:
        return self.engine.name

    @property
    def precision(self) -> str:
        return self.engine.precision

    def info(self) -> dict[str, Any]:
        """Engine, weights and detection settings, for logs and benchmark records."""
        return {
            **self.engine.info(),
            "weights": self.weights.source,
            "weights_meta": {k: v for k, v in self.weights.meta.items() if k != "config"},
            "conf_threshold": self.conf_threshold,
            "nms_radius": self.nms_radius,
            "border": self.border,
            "max_keypoints": self.max_keypoints,
            "interpolation": self.interpolation,
            "subpixel": self.subpixel,
            "convention": self.convention,
            "scales": list(self.scales),
        }

    def __repr__(self) -> str:
        return (
            f"SuperPoint(backend={self.backend!r}, precision={self.precision!r}, weights={self.weights.source!r}, "
            f"convention={self.convention!r})"
        )

    def __call__(self, images: np.ndarray | Sequence[np.ndarray]) -> Features | list[Features]:
        """Detect and describe. One image -> Features; a list/batch -> list of Features."""
        if self._gpu is not None:
            with self._lock:
                return self._gpu(images)  # type: ignore[no-any-return]
        items, is_batch = split_images(images)
        t0 = time.perf_counter()
        grays = [to_gray_float(im) for im in items]
        if self.scales == (1.0,):
            out = self._detect(grays, (time.perf_counter() - t0) / len(items))
        else:
            levels = [resize_level(g, s) for g in grays for s in self.scales]
            flat = self._detect(levels, (time.perf_counter() - t0) / len(levels))
            n = len(self.scales)
            out = []
            for i, g in enumerate(grays):
                merged, level_index = merge_levels(flat[i * n : (i + 1) * n], g.shape, self.max_keypoints)
                merged.scales = np.asarray(self.scales, np.float32)[level_index]
                out.append(merged)
        return out if is_batch else out[0]

    def _detect(self, grays: list[np.ndarray], t_pre: float) -> list[Features]:
        """Gray float32 images -> Features each (images of one size run as one batch); ``t_pre``: seconds per image
        of preprocessing so far, added to the ``preprocess`` timing."""
        results: list[Features | None] = [None] * len(grays)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, g in enumerate(grays):
            groups.setdefault(g.shape, []).append(i)
        for (h, w), idx in groups.items():
            t1 = time.perf_counter()
            batch = np.stack([pad_to_multiple(grays[i]) for i in idx])[:, None]
            with self._lock:
                t2 = time.perf_counter()
                logits, desc = self.engine.run(batch)
                t3 = time.perf_counter()
                feats = [self._postprocess(logits[j], desc[j], (h, w)) for j in range(len(idx))]
                t4 = time.perf_counter()
            for j, i in enumerate(idx):
                feats[j].timings = {
                    "preprocess": t_pre + (t2 - t1) / len(idx),
                    "network": (t3 - t2) / len(idx),
                    "postprocess": (t4 - t3) / len(idx),
                }
                results[i] = feats[j]
        return [r for r in results if r is not None]

    def _postprocess(self, logits: np.ndarray, coarse: np.ndarray, size: tuple[int, int]) -> Features:
        """(65,Hc,Wc) logits + (256,Hc,Wc) coarse descriptors -> Features for an image of ``size`` (H, W)."""
        h, w = size
        heat = ops.heatmap(logits)
        if heat.shape != (h, w):
            heat = np.ascontiguousarray(heat[:h, :w])
        kpts, scores = ops.detect(
            heat,
            conf_threshold=self.conf_threshold,
            nms_radius=self.nms_radius,
            border=self.border,
            max_keypoints=self.max_keypoints,
        )
        if self.subpixel and len(kpts):
            kpts = refine_subpixel(heat, kpts)
        desc = ops.sample_descriptors(coarse, kpts, interpolation=self.interpolation, convention=self.convention)
        return Features(kpts, scores, desc, (h, w))

    def heatmap(self, image: np.ndarray) -> np.ndarray:
        """The dense detector probability map (H, W) float32 of one image (at scale 1, whatever ``scales``)."""
        gray = to_gray_float(image)
        h, w = gray.shape
        with self._lock:
            logits, _ = self.engine.run(pad_to_multiple(gray)[None, None])
            heat = ops.heatmap(logits[0])
        return np.ascontiguousarray(heat[:h, :w])

    def batch(self, images: np.ndarray | Sequence[np.ndarray]) -> Any:
        """Images of one size -> :class:`~superpoint_rt.batch.BatchFeatures` (fixed-K padded arrays + counts).

        On a GPU this comes straight from the kernels' output layout; on the CPU it is built from the list.
        """
        from .batch import BatchFeatures

        if self._gpu is not None:
            with self._lock:
                return self._gpu.batch(images)
        feats = self(images)
        return BatchFeatures.from_list(feats if isinstance(feats, list) else [feats])

    def stream(self, source: Any, **kwargs: Any) -> Any:
        """Iterate (frame_index, frame, Features) over a video file, camera, URL or image folder.

        See :func:`superpoint_rt.streaming.stream` for the options.
        """
        from .streaming import stream

        return stream(self, source, **kwargs)
