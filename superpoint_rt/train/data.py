"""Training data streams, deterministic by (seed, sample index) so a resumed run sees the same batches.

A batch is a dict of tensors:
    image        (B, 1, H, W) float32 in [0, 1]
    labels       (B, Hc, Wc) int64 detector classes (see :mod:`superpoint_rt.train.losses`)
    cell_valid   (B, Hc, Wc) bool
    keypoint_map (B, H, W) uint8, 1 at the rounded label points (validation metrics)
SuperPoint-stage batches add ``warped_image``, ``warped_labels``, ``warped_cell_valid``,
``warped_keypoint_map`` and ``homography`` (B, 3, 3) float64 source -> warped.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from superpoint_rt.train.augment import homographic_augment, photometric_augment
from superpoint_rt.train.config import DataConfig
from superpoint_rt.train.losses import cell_valid_mask, points_to_labels
from superpoint_rt.train.synthetic import PRIMITIVES, ShapesConfig, generate_shape


def shapes_config(data: DataConfig) -> ShapesConfig:
    return ShapesConfig(
        height=data.height,
        width=data.width,
        draw_scale=data.draw_scale,
        primitives=tuple(data.primitives) if data.primitives else PRIMITIVES,
    )


def keypoint_map(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W) uint8 with 1 at the rounded (x, y) points inside the image."""
    m = np.zeros((height, width), np.uint8)
    p = np.round(np.asarray(points, dtype=np.float64).reshape(-1, 2)).astype(np.int64)
    p = p[(p[:, 0] >= 0) & (p[:, 0] < width) & (p[:, 1] >= 0) & (p[:, 1] < height)]
    m[p[:, 1], p[:, 0]] = 1
    return m


def synthetic_sample(
    data: DataConfig, seed: int, index: int, shapes: ShapesConfig | None = None
) -> dict[str, np.ndarray]:
    """Sample ``index`` of the stream ``seed``: a Synthetic Shapes image, augmented, with its labels."""
    rng = np.random.default_rng([seed, index])
    cfg = shapes if shapes is not None else shapes_config(data)
    img, pts, _ = generate_shape(rng, cfg)
    h, w = img.shape
    valid = np.ones((h, w), bool)
    if data.homographic:
        img, pts, valid, _ = homographic_augment(img, pts, rng, data.homography, data.valid_border_margin)
    fimg = photometric_augment(img, rng, data.photometric)
    return {
        "image": (fimg / 255.0).astype(np.float32)[None],
        "labels": points_to_labels(pts, h, w, rng),
        "cell_valid": cell_valid_mask(valid),
        "keypoint_map": keypoint_map(pts, h, w),
    }


def collate(samples: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.stack([s[k] for s in samples])) for k in samples[0]}


class StepBatches(IterableDataset):
    """Endless batches laid out by step. Global batch ``g`` holds samples ``g*B .. g*B+B-1``.

    Step ``s`` of process ``rank`` (of ``world``) gets global batch ``s*world + rank``; DataLoader
    worker ``w`` of ``n`` produces the steps ``start_step + w + k*n`` (the DataLoader returns workers'
    batches round-robin, so steps arrive in order). Subclasses define :meth:`sample`.
    """

    def __init__(
        self,
        data: DataConfig,
        batch_size: int,
        seed: int,
        start_step: int = 0,
        rank: int = 0,
        world: int = 1,
        num_steps: int | None = None,
    ) -> None:
        super().__init__()
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self.start_step = start_step
        self.rank = rank
        self.world = world
        self.num_steps = num_steps

    def sample(self, index: int) -> dict[str, np.ndarray]:
        """Sample number ``index`` of the endless sequence (deterministic by ``seed`` and ``index``)."""
        raise NotImplementedError

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        g = step * self.world + self.rank
        b = self.batch_size
        return collate([self.sample(g * b + k) for k in range(b)])

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        wid, n = (0, 1) if info is None else (info.id, info.num_workers)
        step = self.start_step + wid
        end = None if self.num_steps is None else self.start_step + self.num_steps
        while end is None or step < end:
            yield self.batch(step)
            step += n


class SyntheticShapesBatches(StepBatches):
    """Endless Synthetic Shapes batches, laid out as :class:`StepBatches`."""

    def __init__(self, data: DataConfig, batch_size: int, seed: int, start_step: int = 0, rank: int = 0,
                 world: int = 1, num_steps: int | None = None) -> None:  # fmt: skip
        super().__init__(data, batch_size, seed, start_step, rank, world, num_steps)
        self.shapes = shapes_config(data)

    def sample(self, index: int) -> dict[str, np.ndarray]:
        return synthetic_sample(self.data, self.seed, index, self.shapes)


def _worker_init(_worker_id: int) -> None:
    """One thread per worker; SIGTERM/SIGUSR1 ignored. torchrun stops a rank by signalling its whole process group,
    the loader's workers included: a worker that died of it made the rank fail with "DataLoader worker is killed"
    instead of finishing its step with a checkpoint (the trainer's stop handler). The rank still ends its workers
    when it exits, and a worker exits by itself when its rank dies."""
    import signal

    for sig in (signal.SIGTERM, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_IGN)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def make_loader(dataset: IterableDataset, num_workers: int) -> DataLoader:
    """A DataLoader over a dataset that already yields batches."""
    return DataLoader(
        dataset,
        batch_size=None,
        num_workers=num_workers,
        worker_init_fn=_worker_init if num_workers > 0 else None,
        prefetch_factor=4 if num_workers > 0 else None,
        persistent_workers=False,
        pin_memory=torch.cuda.is_available(),
    )


def fixed_synthetic_set(data: DataConfig, size: int, seed: int, batch_size: int) -> list[dict[str, torch.Tensor]]:
    """A held-out list of batches (same augmentation as training, its own seed)."""
    shapes = shapes_config(data)
    out = []
    for start in range(0, size, batch_size):
        idx = range(start, min(size, start + batch_size))
        out.append(collate([synthetic_sample(data, seed, i, shapes) for i in idx]))
    return out
