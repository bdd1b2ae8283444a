"""superpoint_rt: real-time SuperPoint keypoints and descriptors.

from superpoint_rt import SuperPoint
sp = SuperPoint(weights="superpoint_v1.pth")   # or our own weights, or an ONNX file
features = sp(image)                            # keypoints (N,2) x,y; scores (N,); descriptors (N,256)
"""

from __future__ import annotations

from typing import Any

from .types import Features

__version__ = "0.1.0"  # the one source: pyproject.toml (setuptools dynamic) and the C++ build read it
__all__ = [
    "BatchFeatures",
    "Features",
    "NoDefaultWeightsError",
    "SuperPoint",
    "SuperPointOptions",
    "WeightsError",
    "__version__",
    "load_weights",
]


def __getattr__(name: str) -> Any:
    # Lazy: `import superpoint_rt` stays cheap and works before the C++ extension is built.
    if name == "SuperPoint":
        from .api import SuperPoint

        return SuperPoint
    if name == "SuperPointOptions":
        from .options import SuperPointOptions

        return SuperPointOptions
    if name == "BatchFeatures":
        from .batch import BatchFeatures

        return BatchFeatures
    if name in ("load_weights", "WeightsError", "NoDefaultWeightsError"):
        from . import weights

        return getattr(weights, name)
    raise AttributeError(f"module 'superpoint_rt' has no attribute {name!r}")
