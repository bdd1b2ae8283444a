"""The device pipeline: frames in, features out on a CUDA GPU (:mod:`superpoint_rt.gpu.pipeline`).

Nothing here imports torch, TensorRT or CUDA at module level. The engines it drives live with their backends:
:mod:`superpoint_rt.backends.tensorrt` and :mod:`superpoint_rt.backends.torch_cuda`.
"""

from __future__ import annotations
