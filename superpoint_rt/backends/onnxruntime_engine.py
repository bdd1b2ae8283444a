"""ONNX Runtime CPU engine: the portable FP32 path and the parity oracle for the other engines."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..export import onnx_bytes
from ..weights import Weights
from .base import BackendUnavailableError, Engine, check_network_input


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class ONNXRuntimeEngine(Engine):
    """ONNX Runtime, CPUExecutionProvider, FP32.

    Args:
        weights: the network weights (state dict or ONNX).
        precision: only "fp32".
        num_threads: intra-op threads (None: ONNX Runtime's default).
    """

    name = "onnxruntime"

    def __init__(self, weights: Weights, precision: str = "fp32", num_threads: int | None = None) -> None:
        super().__init__()
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise BackendUnavailableError("backend 'onnxruntime' needs onnxruntime (pip install onnxruntime)") from e
        if precision != "fp32":
            raise BackendUnavailableError(f"backend 'onnxruntime' runs fp32 only, got precision={precision!r}")
        if num_threads is not None and num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if num_threads is not None:
            opts.intra_op_num_threads = int(num_threads)
            opts.inter_op_num_threads = 1
        self.num_threads = num_threads
        self._session = ort.InferenceSession(onnx_bytes(weights), opts, providers=["CPUExecutionProvider"])

    def run(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_network_input(image)
        logits, desc = self._session.run(["logits", "descriptors"], {"image": image})
        return logits, desc

    def info(self) -> dict[str, Any]:
        import onnxruntime as ort

        d = super().info()
        d.update(onnxruntime=ort.__version__, num_threads=self.num_threads)
        return d
