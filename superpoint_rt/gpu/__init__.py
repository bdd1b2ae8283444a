"""GPU helpers that do not need a GPU to import: TensorRT engine-cache logic, CUDA-graph bookkeeping, batch layout.

Nothing here imports torch, TensorRT or CUDA at module level; the GPU engines live in
:mod:`superpoint_rt.backends.tensorrt_engine` and :mod:`superpoint_rt.backends.torch_cuda`.
"""

from __future__ import annotations
