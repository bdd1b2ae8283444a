from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from superpoint_rt.types import Features


class StubSuperPoint:
    """Deterministic fake features from an image (no network): keypoints, scores and descriptors that depend on
    the image's content, and a call counter, for layout and resume tests."""

    class _Opts:
        def detection(self) -> dict[str, Any]:
            return {"stub": True, "scales": (1.0,)}

    class _Weights:
        source = "stub"

    def __init__(self, n: int = 5, dim: int = 4) -> None:
        self.n, self.dim, self.calls = n, dim, 0
        self.options, self.weights = self._Opts(), self._Weights()

    def __call__(self, image: np.ndarray) -> Features:
        self.calls += 1
        h, w = image.shape[:2]
        seed = int(image.astype(np.int64).sum()) % (2**32)
        rng = np.random.default_rng(seed)
        kp = rng.uniform(0, [w - 1, h - 1], (self.n, 2)).astype(np.float32)
        d = rng.normal(size=(self.n, self.dim)).astype(np.float32)
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        return Features(kp, np.linspace(1, 0.5, self.n, dtype=np.float32), d, (h, w))


@pytest.fixture(scope="session")
def scene_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six frames of the rendered 3-D scene, 120x160, as PNGs in a/ and b/ sub-folders."""
    import cv2

    from superpoint_rt.eval.scene3d import make_scene

    d = tmp_path_factory.mktemp("scene")
    scene = make_scene(seed=0, frames=24, height=120, width=160)
    for i, k in enumerate(range(0, 24, 4)):
        sub = d / ("a" if i < 3 else "b")
        sub.mkdir(exist_ok=True)
        cv2.imwrite(str(sub / f"f{k:02d}.png"), scene.render(k).image)
    return d


@pytest.fixture(scope="session")
def stub_sp() -> type[StubSuperPoint]:
    """The :class:`StubSuperPoint` class (fixture: the test folders are not packages)."""
    return StubSuperPoint
