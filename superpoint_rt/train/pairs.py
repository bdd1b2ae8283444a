"""SuperPoint stage data: (image, random warp of it, H) pairs from real images + pseudo ground truth.

Images come from ``data.image_dir`` (:func:`superpoint_rt.train.images.load_image`, as in adaptation:
cover ``(height, width)``, centre crop), labels from ``data.label_dir`` (:mod:`superpoint_rt.train.labels`
shards written by ``train adapt`` at the same size); either one folder each or lists of folders that pair up
(e.g. crops labelled in separate adaptation runs). Sample ``i`` of stream ``seed``: the image of index
``perm_epoch[i % N]`` (a fresh permutation per epoch), a random homography ``H`` (source -> warped,
``data.homography``), photometric augmentation on each side independently. Batches hold the keys listed in
:mod:`superpoint_rt.train.data`.

The validation pairs are drawn from the same images with another seed (not a held-out image set;
keep ``image_dir`` images out of it yourself if that matters).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from superpoint_rt.geometry import points_inside, sample_homography, warp_image, warp_points
from superpoint_rt.train.augment import photometric_augment, valid_mask_after_warp
from superpoint_rt.train.config import DataConfig
from superpoint_rt.train.data import StepBatches, collate, keypoint_map
from superpoint_rt.train.images import load_image
from superpoint_rt.train.labels import load_labels
from superpoint_rt.train.losses import cell_valid_mask, points_to_labels, points_to_soft_labels


def label_sources(data: DataConfig) -> list[tuple[Path, Path]]:
    """``data.image_dir`` / ``data.label_dir`` as (image folder, label folder) pairs.

    Each is one path or a list of paths; lists pair up by position (labels of ``label_dir[i]`` name
    images relative to ``image_dir[i]``).
    """
    if not data.image_dir or not data.label_dir:
        raise ValueError("the superpoint stage needs data.image_dir and data.label_dir")
    images = [data.image_dir] if isinstance(data.image_dir, str) else list(data.image_dir)
    labels = [data.label_dir] if isinstance(data.label_dir, str) else list(data.label_dir)
    if len(images) != len(labels):
        raise ValueError(
            "data.image_dir and data.label_dir must pair up: "
            f"{len(images)} image folder(s), {len(labels)} label folder(s)"
        )
    return [(Path(i), Path(lab)) for i, lab in zip(images, labels)]


class PairSource:
    """The labelled images: paths, their points, and pair sampling.

    Images are ordered by source (the order of ``data.image_dir``), then by relative path; with one source this is
    the sorted relative paths, as before multi-source data existed (so resumed runs replay the same stream).
    """

    def __init__(self, data: DataConfig) -> None:
        self.data = data
        self.paths: list[Path] = []
        self.points: list[np.ndarray] = []
        for image_dir, label_dir in label_sources(data):
            if not image_dir.is_dir():
                raise ValueError(f"data.image_dir: not a folder: {image_dir}")
            labels = load_labels(label_dir)
            for name in sorted(labels):
                path = image_dir / name
                if not path.is_file():
                    raise ValueError(f"labels in {label_dir} name {name}, which is not in {image_dir}")
                self.paths.append(path)
                self.points.append(labels[name][:, :2])
        self._perm: tuple[int, int, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def image_index(self, seed: int, i: int) -> int:
        n = len(self.paths)
        epoch = i // n
        if self._perm is None or self._perm[:2] != (seed, epoch):
            self._perm = (seed, epoch, np.random.default_rng([seed, epoch, 7]).permutation(n))
        return int(self._perm[2][i % n])

    def sample(self, seed: int, i: int) -> dict[str, np.ndarray]:
        d = self.data
        k = self.image_index(seed, i)
        rng = np.random.default_rng([seed, i])
        img = load_image(self.paths[k], (d.height, d.width)) * 255.0
        return make_pair(img, self.points[k], rng, d)


def make_pair(image: np.ndarray, points: np.ndarray, rng: np.random.Generator, d: DataConfig) -> dict[str, np.ndarray]:
    """One training pair from a (H, W) float image in [0, 255] and its (N, 2) x,y points."""
    h, w = image.shape
    hm = sample_homography(h, w, rng, d.homography)
    warped = warp_image(image.astype(np.float32), hm)
    valid = valid_mask_after_warp(h, w, hm, d.valid_border_margin)
    wp = warp_points(points, hm)
    wp = wp[points_inside(wp, h, w)]
    if len(wp):
        r = np.round(wp).astype(np.int64)
        wp = wp[valid[r[:, 1], r[:, 0]]]
    src = photometric_augment(image, rng, d.photometric)
    dst = photometric_augment(warped, rng, d.photometric)
    to_labels = points_to_soft_labels if d.detector_targets == "soft" else points_to_labels
    return {
        "image": (src / 255.0).astype(np.float32)[None],
        "labels": to_labels(points, h, w, rng),
        "cell_valid": np.ones((h // 8, w // 8), bool),
        "keypoint_map": keypoint_map(points, h, w),
        "warped_image": (dst / 255.0).astype(np.float32)[None],
        "warped_labels": to_labels(wp, h, w, rng),
        "warped_cell_valid": cell_valid_mask(valid),
        "warped_keypoint_map": keypoint_map(wp, h, w),
        "homography": hm.astype(np.float64),
    }


class PairBatches(StepBatches):
    """Endless pair batches, laid out as :class:`~superpoint_rt.train.data.StepBatches`."""

    def __init__(self, data: DataConfig, batch_size: int, seed: int, start_step: int = 0, rank: int = 0,
                 world: int = 1, num_steps: int | None = None) -> None:  # fmt: skip
        super().__init__(data, batch_size, seed, start_step, rank, world, num_steps)
        self._source: PairSource | None = None

    @property
    def source(self) -> PairSource:
        if self._source is None:
            self._source = PairSource(self.data)
        return self._source

    def sample(self, index: int) -> dict[str, np.ndarray]:
        return self.source.sample(self.seed, index)


def fixed_pair_set(data: DataConfig, size: int, seed: int, batch_size: int) -> list[dict[str, torch.Tensor]]:
    """Held-out-seed validation pairs (``size`` of them, in batches)."""
    src = PairSource(data)
    out = []
    for start in range(0, size, batch_size):
        out.append(collate([src.sample(seed, i) for i in range(start, min(size, start + batch_size))]))
    return out
