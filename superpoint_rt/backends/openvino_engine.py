"""OpenVINO CPU engine: the CPU default (INT8 where the weights carry the guarded INT8 IR, AMX included; BF16 on
AMX / AVX512-BF16 without it, else FP32: :mod:`superpoint_rt.backends.auto`).

A model is compiled once per input shape (B, H, W) and cached (``compile_seconds`` records the first-frame
cost); the infer request and its output tensors are reused between frames.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import numpy as np

from ..export import onnx_bytes
from ..weights import Weights
from .base import BackendUnavailableError, Engine, check_network_input

_OV_PRECISION = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def cpu_supports_bf16() -> bool:
    """True when OpenVINO's CPU plugin reports native BF16 (AMX or AVX512-BF16)."""
    try:
        import openvino as ov

        return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:
        return False


class OpenVINOEngine(Engine):
    """OpenVINO on the CPU.

    Args:
        weights: the network weights (state dict or ONNX).
        precision: "fp32", "bf16" or "fp16" (the CPU plugin's inference precision hint); "int8" needs a
            quantised model (``model_path`` to an OpenVINO IR made by ``superpoint-rt quantize``).
        num_threads: CPU threads for inference (None: OpenVINO's default, all cores).
        max_cached_shapes: compiled models kept (least recently used dropped first).
        model_path: an OpenVINO IR (.xml) to run instead of the weights' ONNX export (e.g. an INT8 model).
    """

    name = "openvino"

    def __init__(
        self,
        weights: Weights,
        precision: str = "fp32",
        num_threads: int | None = None,
        max_cached_shapes: int = 8,
        model_path: str | None = None,
    ) -> None:
        super().__init__()
        try:
            import openvino as ov
        except ImportError as e:
            raise BackendUnavailableError("backend 'openvino' needs the openvino package (pip install openvino)") from e
        if precision not in ("fp32", "bf16", "fp16", "int8"):
            raise ValueError(f"openvino precision must be fp32, bf16, fp16 or int8, got {precision!r}")
        if precision == "int8" and model_path is None:
            raise BackendUnavailableError(
                "precision='int8' needs a quantised OpenVINO model: create one with `superpoint-rt quantize` "
                "and pass it as int8_model=PATH"
            )
        if precision == "bf16" and not cpu_supports_bf16():
            raise BackendUnavailableError("this CPU has no native BF16 (AMX or AVX512-BF16): use precision='fp32'")
        if num_threads is not None and num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        self.precision = precision
        self.num_threads = num_threads
        self._core = ov.Core()
        if model_path is not None:
            self._model = self._core.read_model(str(model_path))
        else:
            self._model = self._core.read_model(onnx_bytes(weights), ov.Tensor(np.empty(0, np.uint8)))
        self._config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
        # int8 models carry their own FakeQuantize; their float parts run in bf16 when the CPU has it.
        hint = "bf16" if precision == "int8" and cpu_supports_bf16() else _OV_PRECISION.get(precision, "f32")
        self._config["INFERENCE_PRECISION_HINT"] = hint
        if num_threads is not None:
            self._config["INFERENCE_NUM_THREADS"] = int(num_threads)
        self._compiled: OrderedDict[tuple[int, int, int], Any] = OrderedDict()
        self._max_cached = max(1, max_cached_shapes)

    def _request(self, shape: tuple[int, int, int]) -> Any:
        if shape in self._compiled:
            self._compiled.move_to_end(shape)
            return self._compiled[shape]
        b, h, w = shape
        t0 = time.perf_counter()
        model = self._model.clone()
        model.reshape({model.inputs[0].any_name: [b, 1, h, w]})
        compiled = self._core.compile_model(model, "CPU", self._config)
        request = compiled.create_infer_request()
        self.compile_seconds[shape] = time.perf_counter() - t0
        self._compiled[shape] = (compiled, request)
        while len(self._compiled) > self._max_cached:
            self._compiled.popitem(last=False)
        return self._compiled[shape]

    def run(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_network_input(image)
        b, _, h, w = image.shape
        _compiled, request = self._request((b, h, w))
        request.infer({0: image})
        logits = request.get_tensor("logits").data
        desc = request.get_tensor("descriptors").data
        return logits, desc

    def info(self) -> dict[str, Any]:
        import openvino as ov

        d = super().info()
        d.update(
            openvino=ov.__version__,
            cpu=self._core.get_property("CPU", "FULL_DEVICE_NAME"),
            inference_precision=self._config["INFERENCE_PRECISION_HINT"],
            num_threads=self.num_threads,
            compile_seconds={f"{k[0]}x{k[1]}x{k[2]}": round(v, 3) for k, v in self.compile_seconds.items()},
        )
        return d
