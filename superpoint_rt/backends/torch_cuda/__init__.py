"""The PyTorch CUDA backend (``backend="torch"`` on a CUDA device): FP16, channels_last, one CUDA graph per shape.

* :mod:`.engine`: :class:`TorchCUDAEngine`, and :func:`build_net` / :func:`make_forward` (the graph body, also run
  on the CPU by the GPU pipeline's CPU path and the tests).
* :mod:`.graphs`: :class:`GraphCache`, the per-shape LRU of captured CUDA graphs (pure Python, tested anywhere).

Importing this package never imports torch.
"""

from __future__ import annotations

from .engine import CUDA_PRECISIONS, TorchCUDAEngine, build_net, make_forward
from .graphs import GraphCache, GraphCacheStats

__all__ = ["CUDA_PRECISIONS", "GraphCache", "GraphCacheStats", "TorchCUDAEngine", "build_net", "make_forward"]
