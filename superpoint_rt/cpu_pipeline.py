"""The CPU path: images in, :class:`Features` out, with any engine that returns host arrays.

    pipe = CpuPipeline(load_weights(None), SuperPointOptions(backend="openvino"))
    feats = pipe(frame)

Per call: validation and gray conversion (:mod:`superpoint_rt.preprocess`), edge padding to multiples of 8, one
engine call per group of equal-size images, then the C++ post-processing (:mod:`superpoint_rt.ops`: heatmap,
threshold + NMS + border + top-k, descriptor sampling); optionally sub-pixel refinement and an image pyramid
(:mod:`superpoint_rt.multiscale`). The device-resident twin is :class:`superpoint_rt.gpu.pipeline.GpuPipeline`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ops
from .backends import Engine, create_engine
from .multiscale import level_weights, merge_levels, resize_level
from .options import SuperPointOptions
from .preprocess import pad_to_multiple, split_images, to_gray_float
from .subpixel import refine_subpixel
from .types import Features
from .weights import Weights


class CpuPipeline:
    """SuperPoint on host arrays (every CPU engine, and the PyTorch engine on any device).

    Args:
        weights: loaded weights.
        options: the options; ``options.convention`` must be resolved (not None) -- :class:`SuperPoint` does that
            from the weights.
    Not thread-safe: :class:`SuperPoint` serialises calls.
    """

    def __init__(self, weights: Weights, options: SuperPointOptions) -> None:
        if options.convention is None:
            raise ValueError("CpuPipeline needs a resolved convention (SuperPoint sets it from the weights)")
        self.options = options
        self.engine: Engine = create_engine(
            options.backend,
            weights,
            options.precision,
            device=options.device,
            num_threads=options.num_threads,
            int8_model=options.int8_model,
        )

    def configure(self, options: SuperPointOptions) -> None:
        """Take new detection options (the engine options must not change)."""
        self.options = options

    def info(self) -> dict[str, Any]:
        return {**self.engine.info(), "pipeline": "cpu"}

    def __call__(self, images: np.ndarray | Sequence[np.ndarray]) -> Features | list[Features]:
        """One image -> Features; a list / (B, H, W[, C]) batch -> list of Features (equal sizes run batched)."""
        items, is_batch = split_images(images)
        t0 = time.perf_counter()
        grays = [to_gray_float(im) for im in items]
        scales = self.options.scales
        if scales == (1.0,):
            out = self._detect(grays, (time.perf_counter() - t0) / len(items))
        else:
            levels = [resize_level(g, s) for g in grays for s in scales]
            flat = self._detect(levels, (time.perf_counter() - t0) / len(levels))
            n = len(scales)
            weights = level_weights(scales, self.options.scale_weight)
            out = []
            for i, g in enumerate(grays):
                merged, level_index = merge_levels(
                    flat[i * n : (i + 1) * n], g.shape, self.options.max_keypoints, weights
                )
                merged.scales = np.asarray(scales, np.float32)[level_index]
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
            t2 = time.perf_counter()
            logits, desc = self.engine.run(batch)
            t3 = time.perf_counter()
            feats = [self.postprocess(logits[j], desc[j], (h, w), grays[i]) for j, i in enumerate(idx)]
            t4 = time.perf_counter()
            for j, i in enumerate(idx):
                feats[j].timings = {
                    "preprocess": t_pre + (t2 - t1) / len(idx),
                    "network": (t3 - t2) / len(idx),
                    "postprocess": (t4 - t3) / len(idx),
                }
                results[i] = feats[j]
        return [r for r in results if r is not None]

    def postprocess(
        self, logits: np.ndarray, coarse: np.ndarray, size: tuple[int, int], image: np.ndarray | None = None
    ) -> Features:
        """(65, Hc, Wc) logits + (256, Hc, Wc) coarse descriptors -> Features for an image of ``size`` (H, W);
        ``image``: the (H, W) gray network input, which ``subpixel_method="forstner"`` reads (None: not available)."""
        h, w = size
        heat = ops.heatmap(logits)
        if heat.shape != (h, w):
            heat = np.ascontiguousarray(heat[:h, :w])
        return self.features_from_heatmap(heat, coarse, image)

    def features_from_heatmap(self, heat: np.ndarray, coarse: np.ndarray, image: np.ndarray | None = None) -> Features:
        """(H, W) float32 heatmap + (256, Hc, Wc) coarse descriptors -> Features: threshold + NMS + border + top-k,
        optional sub-pixel refinement (``image``: the (H, W) gray input, for ``forstner``), descriptor sampling."""
        o = self.options
        kpts, scores = ops.detect(
            heat,
            conf_threshold=o.conf_threshold,
            nms_radius=o.nms_radius,
            border=o.border,
            max_keypoints=o.max_keypoints,
        )
        if o.subpixel and len(kpts):
            kpts = refine_subpixel(heat, kpts, o.subpixel_method, image)
        desc = ops.sample_descriptors(coarse, kpts, interpolation=o.interpolation, convention=str(o.convention))
        h, w = heat.shape
        return Features(kpts, scores, desc, (h, w))


def engine_heatmap(engine: Engine, image: np.ndarray) -> np.ndarray:
    """The dense detector probability map (H, W) float32 of one image through ``engine`` (host outputs)."""
    gray = to_gray_float(image)
    h, w = gray.shape
    logits, _ = engine.run(pad_to_multiple(gray)[None, None])
    heat = ops.heatmap(np.asarray(logits)[0])
    return np.ascontiguousarray(heat[:h, :w])
