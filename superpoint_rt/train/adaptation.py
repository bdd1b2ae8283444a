"""Homographic Adaptation (SuperPoint paper, sec. 5): pseudo ground-truth keypoints for real images.

For each image: N random homographies (the first is the identity), the detector runs on every warp
(through ``heatmap_fn``, batched), each heatmap is warped back into the source frame together with a
validity mask, and the aggregate is ``sum(heat * mask) / sum(mask)`` (0 where no warp saw the
pixel). Detection on the aggregate (threshold, NMS, border, top-k) gives the points.

``heatmap_fn(batch) -> heat``: ``(B, 1, H, W)`` float32 NumPy in [0, 1] -> ``(B, H, W)`` float32
probabilities; :class:`TorchHeatmap` is the PyTorch one, an OpenVINO engine can be plugged in.

Output: ``<out>/shard_XXXXX.npz`` per ``shard_size`` images (in sorted-path order), in the format of
:mod:`superpoint_rt.train.labels`. Existing shards are skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from superpoint_rt.geometry import HomographyConfig, sample_homography, warp_image
from superpoint_rt.train.augment import valid_mask_after_warp
from superpoint_rt.train.images import list_images, load_image
from superpoint_rt.train.labels import shard_path, write_shard
from superpoint_rt.weights import Weights

HeatmapFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class AdaptationConfig:
    """Homographic Adaptation settings (defaults: the paper / rpautrat's COCO export).

    Attributes:
        num_homographies: warps per image, the identity included.
        homography: random homography parameters.
        valid_border_margin: pixels eroded from each warp's valid area.
        batch_size: warps per ``heatmap_fn`` call.
        threshold, nms_radius, border, top_k: detection on the aggregated heatmap.
    """

    num_homographies: int = 100
    homography: HomographyConfig = field(default_factory=lambda: HomographyConfig(patch_ratio=0.85))
    valid_border_margin: int = 3
    batch_size: int = 25
    threshold: float = 0.015
    nms_radius: int = 4
    border: int = 4
    top_k: int | None = 600


def _detect(heat: np.ndarray, c: AdaptationConfig) -> tuple[np.ndarray, np.ndarray]:
    """Detection through ``superpoint_rt.ops`` (C++ when built, else the NumPy reference)."""
    from superpoint_rt import ops
    from superpoint_rt.ops import reference

    fn = ops.detect if ops.ext_available() else reference.detect
    kp, sc = fn(np.ascontiguousarray(heat, dtype=np.float32), c.threshold, c.nms_radius, c.border, c.top_k)  # type: ignore[misc]
    return np.asarray(kp, np.float32), np.asarray(sc, np.float32)


def aggregate_heatmap(
    image: np.ndarray, heatmap_fn: HeatmapFn, rng: np.random.Generator, config: AdaptationConfig = AdaptationConfig()
) -> tuple[np.ndarray, np.ndarray]:
    """Aggregated heatmap of one image over ``config.num_homographies`` warps.

    Args:
        image: (H, W) float32 in [0, 1].
    Returns:
        (heat (H, W) float32 = sum(unwarped heat * mask) / sum(mask), count (H, W) float32 = sum(mask)).
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2:
        raise ValueError(f"image must be (H, W), got {img.shape}")
    if config.num_homographies < 1:
        raise ValueError("num_homographies must be >= 1")
    h, w = img.shape
    homs = [np.eye(3)] + [sample_homography(h, w, rng, config.homography) for _ in range(config.num_homographies - 1)]
    total = np.zeros((h, w), np.float64)
    count = np.zeros((h, w), np.float64)
    for start in range(0, len(homs), config.batch_size):
        chunk = homs[start : start + config.batch_size]
        batch = np.stack([warp_image(img, hm) for hm in chunk])[:, None].astype(np.float32)
        heats = np.asarray(heatmap_fn(batch), dtype=np.float32)
        if heats.shape != (len(chunk), h, w):
            raise ValueError(f"heatmap_fn returned {heats.shape}, expected {(len(chunk), h, w)}")
        for hm, heat in zip(chunk, heats):
            if np.array_equal(hm, np.eye(3)):
                total += heat
                count += 1.0
                continue
            inv = np.linalg.inv(hm)
            valid = valid_mask_after_warp(h, w, hm, config.valid_border_margin).astype(np.float32)
            back = cv2.warpPerspective(heat, inv, (w, h), flags=cv2.INTER_LINEAR)
            mask = cv2.warpPerspective(valid, inv, (w, h), flags=cv2.INTER_NEAREST)
            total += back * mask
            count += mask
    out = np.where(count > 0, total / np.maximum(count, 1e-9), 0.0)
    return out.astype(np.float32), count.astype(np.float32)


def adapt_image(
    image: np.ndarray, heatmap_fn: HeatmapFn, rng: np.random.Generator, config: AdaptationConfig = AdaptationConfig()
) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo ground truth of one image: (keypoints (N,2) float32 x,y, scores (N,) float32)."""
    heat, _ = aggregate_heatmap(image, heatmap_fn, rng, config)
    return _detect(heat, config)


class TorchHeatmap:
    """``heatmap_fn`` backed by a PyTorch SuperPointNet (eval mode, BF16 autocast optional).

    Args:
        state_dict: network weights (batch-norm or plain keys).
        precision: "fp32" or "bf16" (CPU autocast).
    """

    def __init__(self, state_dict: dict, precision: str = "fp32", device: str = "cpu") -> None:
        import torch

        from superpoint_rt.train.checkpoint import net_from_state

        self.net = net_from_state(state_dict).eval().to(device)
        self.device = torch.device(device)
        self.precision = precision

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        import torch

        from superpoint_rt.train.heatmap import logits_to_heatmap

        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        with torch.no_grad(), torch.autocast(self.device.type, torch.bfloat16, enabled=self.precision == "bf16"):
            feats = self.net.encode(x)
            logits = self.net.detector_head(feats)
        return logits_to_heatmap(logits).float().cpu().numpy()


class EngineHeatmap:
    """``heatmap_fn`` backed by an inference engine (default OpenVINO, BF16 where the CPU has it): the fastest way
    to run the ~100 warps per image of Homographic Adaptation on a CPU.

    Args:
        weights: loaded weights (:func:`superpoint_rt.weights.load_weights`) or a network state dict (batch-norm
            keys are folded).
        backend, precision, num_threads, int8_model: as :func:`superpoint_rt.backends.create_engine`
            (``precision="int8"`` with OpenVINO runs the IR shipped beside packaged weights, or ``int8_model``).
    """

    def __init__(
        self,
        weights: Weights | dict,
        backend: str = "openvino",
        precision: str | None = None,
        num_threads: int | None = None,
        int8_model: str | None = None,
    ) -> None:
        from superpoint_rt.backends import create_engine
        from superpoint_rt.network import fold_batch_norm
        from superpoint_rt.weights import check_state_dict

        if not isinstance(weights, Weights):
            weights = Weights(check_state_dict(fold_batch_norm(weights), "adaptation weights"), source="adaptation")
        self.engine = create_engine(backend, weights, precision, num_threads=num_threads, int8_model=int8_model)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        from superpoint_rt import ops

        logits, _ = self.engine.run(np.ascontiguousarray(batch, dtype=np.float32))
        return np.asarray(ops.heatmap(np.ascontiguousarray(logits)))


def run_adaptation(
    image_dir: str | Path,
    out_dir: str | Path,
    heatmap_fn: HeatmapFn,
    config: AdaptationConfig = AdaptationConfig(),
    size: tuple[int, int] = (240, 320),
    shard_size: int = 100,
    seed: int = 0,
    max_images: int | None = None,
    progress: bool = True,
) -> list[Path]:
    """Pseudo ground truth for every image of ``image_dir`` into ``out_dir`` shards; returns the shards."""
    root = Path(image_dir)
    paths: Sequence[Path] = list_images(root)
    if max_images is not None:
        paths = paths[:max_images]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shards: list[Path] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(paths), unit="img", mininterval=5.0)
    for k, start in enumerate(range(0, len(paths), shard_size)):
        chunk = paths[start : start + shard_size]
        shard = shard_path(out, k)
        shards.append(shard)
        if shard.is_file():
            if bar is not None:
                bar.update(len(chunk))
            continue
        names, pts = [], []
        for i, p in enumerate(chunk):
            rng = np.random.default_rng([seed, start + i])
            kp, sc = adapt_image(load_image(p, size), heatmap_fn, rng, config)
            names.append(str(p.relative_to(root)))
            pts.append(np.concatenate([kp, sc[:, None]], axis=1).astype(np.float32))
            if bar is not None:
                bar.update(1)
        write_shard(shard, names, pts, size)
    if bar is not None:
        bar.close()
    return shards


def run_adaptation_cli(args: argparse.Namespace) -> int:
    from superpoint_rt.weights import load_weights

    weights = load_weights(args.weights)  # the safe loader: a packaged name, .npz, .onnx or a checkpoint
    engine = getattr(args, "engine", "torch")
    fn: HeatmapFn
    if engine == "torch":
        if weights.state_dict is None:
            raise ValueError(f"--engine torch needs state-dict weights, not ONNX ({args.weights})")
        if args.precision == "int8":
            raise ValueError("--precision int8 runs on --engine openvino")
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        fn = TorchHeatmap(weights.state_dict, precision=args.precision)
    else:
        fn = EngineHeatmap(weights, engine, args.precision, args.threads or None, getattr(args, "int8_model", None))
    cfg = AdaptationConfig(
        num_homographies=args.num_homographies,
        batch_size=args.batch_size,
        threshold=args.threshold,
        nms_radius=args.nms_radius,
        border=args.border,
        top_k=args.top_k if args.top_k > 0 else None,
    )
    shards = run_adaptation(
        args.images,
        args.out,
        fn,
        cfg,
        tuple(args.size),  # type: ignore[arg-type]
        args.shard_size,
        args.seed,
        args.max_images,
        not args.no_progress,
    )
    print(f"wrote {len(shards)} shard(s) to {args.out}")
    return 0
