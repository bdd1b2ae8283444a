"""Pseudo ground-truth label shards: what ``train adapt`` writes and the SuperPoint stage reads.

A label folder holds ``shard_XXXXX.npz`` files, each with

* ``names`` (n,) str: image paths relative to the image folder,
* ``points`` (M, 3) float32: x, y, score of every image's points, concatenated,
* ``offsets`` (n+1,) int64: image ``i``'s points are ``points[offsets[i]:offsets[i+1]]``,
* ``size`` (2,) int64: the (H, W) the images were loaded at (:func:`superpoint_rt.train.images.load_image`).

Shards are written atomically (a temporary file, then a rename), so an existing shard is complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def shard_path(label_dir: str | Path, index: int) -> Path:
    """The ``index``-th shard of ``label_dir``."""
    return Path(label_dir) / f"shard_{index:05d}.npz"


def write_shard(path: str | Path, names: Sequence[str], points: Sequence[np.ndarray], size: tuple[int, int]) -> Path:
    """One shard: ``names[i]``'s points are ``points[i]`` ((N_i, 3) x, y, score); atomic."""
    path = Path(path)
    offsets = [0]
    for p in points:
        offsets.append(offsets[-1] + len(p))
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(
        tmp,
        names=np.array(list(names), dtype=str),
        points=np.concatenate(points) if len(points) else np.zeros((0, 3), np.float32),
        offsets=np.asarray(offsets, np.int64),
        size=np.asarray(size, np.int64),
    )
    tmp.replace(path)
    return path


def load_labels(label_dir: str | Path) -> dict[str, np.ndarray]:
    """All shards of ``label_dir`` -> {relative image path: (N, 3) float32 x,y,score}."""
    out: dict[str, np.ndarray] = {}
    shards = sorted(Path(label_dir).glob("shard_*.npz"))
    if not shards:
        raise ValueError(f"no shard_*.npz in {label_dir}")
    for s in shards:
        with np.load(s) as z:
            off = z["offsets"]
            pts = z["points"]
            for i, name in enumerate(z["names"]):
                out[str(name)] = pts[off[i] : off[i + 1]]
    return out
