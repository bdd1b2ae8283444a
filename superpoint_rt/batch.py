"""Padded batch output: B images' features in fixed-size arrays (what the GPU path returns in one copy).

Coordinates as in :class:`~superpoint_rt.types.Features`: keypoints are (x, y) = (column, row) in input pixels,
pixel centres at integers. Row ``b`` holds ``counts[b]`` valid entries first (descending score), then zeros.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .types import Features


@dataclass
class BatchFeatures:
    """Keypoints and descriptors of B images, zero-padded to K per image.

    Attributes:
        keypoints: (B, K, 2) float32 x, y; rows past ``counts[b]`` are zero.
        scores: (B, K) float32; zero past ``counts[b]``.
        descriptors: (B, K, D) float32 unit rows; zero past ``counts[b]``.
        counts: (B,) int64 valid keypoints per image (<= K).
        image_size: (height, width) shared by the batch.
        timings: per-stage seconds for the whole batch.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    descriptors: np.ndarray
    counts: np.ndarray
    image_size: tuple[int, int]
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kp, sc, de, ct = self.keypoints, self.scores, self.descriptors, self.counts
        for name, arr in (("keypoints", kp), ("scores", sc), ("descriptors", de), ("counts", ct)):
            if not isinstance(arr, np.ndarray):
                raise TypeError(f"BatchFeatures.{name} must be a numpy array, got {type(arr).__name__}")
        if kp.ndim != 3 or kp.shape[2] != 2:
            raise ValueError(f"keypoints must be (B, K, 2), got {kp.shape}")
        b, k = kp.shape[:2]
        if sc.shape != (b, k):
            raise ValueError(f"scores must be (B, K) = {(b, k)}, got {sc.shape}")
        if de.ndim != 3 or de.shape[:2] != (b, k):
            raise ValueError(f"descriptors must be (B, K, D) with (B, K) = {(b, k)}, got {de.shape}")
        if ct.shape != (b,) or not np.issubdtype(ct.dtype, np.integer):
            raise ValueError(f"counts must be an integer array of shape (B,) = {(b,)}, got {ct.dtype} {ct.shape}")
        if b and (ct.min() < 0 or ct.max() > k):
            raise ValueError(f"counts must be in [0, K={k}], got {ct.tolist()}")

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def max_keypoints(self) -> int:
        """K, the padded length."""
        return int(self.keypoints.shape[1])

    def mask(self) -> np.ndarray:
        """(B, K) bool: True for valid entries."""
        return np.arange(self.max_keypoints)[None, :] < self.counts[:, None]

    def __getitem__(self, i: int) -> Features:
        n = int(self.counts[i])
        return Features(
            np.ascontiguousarray(self.keypoints[i, :n], dtype=np.float32),
            np.ascontiguousarray(self.scores[i, :n], dtype=np.float32),
            np.ascontiguousarray(self.descriptors[i, :n], dtype=np.float32),
            self.image_size,
            dict(self.timings),
        )

    def to_list(self) -> list[Features]:
        """One :class:`Features` per image (copies of the valid rows)."""
        return [self[i] for i in range(len(self))]

    @classmethod
    def from_list(cls, features: Sequence[Features], max_keypoints: int | None = None) -> BatchFeatures:
        """Pad a list of Features (same image size and descriptor dim) to K = ``max_keypoints`` or the longest.

        Raises:
            ValueError: empty list, differing image sizes / descriptor dims, or an image with more than K keypoints.
        """
        if len(features) == 0:
            raise ValueError("BatchFeatures.from_list needs at least one Features")
        size = tuple(features[0].image_size)
        dim = int(features[0].descriptors.shape[1])
        for f in features:
            if tuple(f.image_size) != size:
                raise ValueError(f"all images of a batch must have the same size, got {size} and {f.image_size}")
            if f.descriptors.shape[1] != dim:
                raise ValueError(f"descriptor dims differ: {dim} and {f.descriptors.shape[1]}")
        counts = np.array([len(f) for f in features], np.int64)
        k = int(counts.max()) if max_keypoints is None else int(max_keypoints)
        if counts.max() > k:
            raise ValueError(f"an image has {counts.max()} keypoints, more than max_keypoints={k}")
        b = len(features)
        kp = np.zeros((b, k, 2), np.float32)
        sc = np.zeros((b, k), np.float32)
        de = np.zeros((b, k, dim), np.float32)
        for i, f in enumerate(features):
            n = len(f)
            kp[i, :n], sc[i, :n], de[i, :n] = f.keypoints, f.scores, f.descriptors
        return cls(kp, sc, de, counts, (int(size[0]), int(size[1])))
