"""Result types shared by every backend.

Coordinates: keypoints are (x, y) = (column, row) in input-image pixels, pixel centres at integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Features:
    """Keypoints and descriptors of one image.

    Attributes:
        keypoints: (N, 2) float32, x,y in input pixels, sorted by descending score.
        scores: (N,) float32 detector confidence in (0, 1].
        descriptors: (N, D) float32, unit L2 norm (D = 256).
        image_size: (height, width) of the input image.
        timings: per-stage seconds, e.g. {"preprocess": ..., "network": ..., "postprocess": ...}.
        scales: (N,) float32, the pyramid scale each keypoint was detected at (multi-scale detection,
            ``SuperPoint(scales=...)``); None for single-scale detection.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    descriptors: np.ndarray
    image_size: tuple[int, int]
    timings: dict[str, float] = field(default_factory=dict)
    scales: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    def __repr__(self) -> str:
        return f"Features(n={len(self)}, image_size={self.image_size}, descriptor_dim={self.descriptors.shape[1]})"

    @classmethod
    def empty(cls, image_size: tuple[int, int], dim: int = 256) -> Features:
        return cls(np.zeros((0, 2), np.float32), np.zeros((0,), np.float32), np.zeros((0, dim), np.float32), image_size)
