"""Engines that run the SuperPoint network, and the choice among them.

| backend       | device | precisions             | needs                |
|---------------|--------|------------------------|----------------------|
| "openvino"    | CPU    | bf16*, fp32, fp16, int8| openvino             |
| "onnxruntime" | CPU    | fp32                   | onnxruntime          |
| "torch"       | CPU    | fp32, bf16*            | torch                |
| "torch"       | CUDA   | fp16, fp32, bf16       | torch with CUDA      |
| "tensorrt"    | CUDA   | fp16, fp32             | tensorrt + torch     |

(*) native BF16 needs AMX or AVX512-BF16. "auto" picks openvino, then onnxruntime, then torch on the CPU;
on a CUDA device, tensorrt when installed, else torch (CUDA graphs).
"""

from __future__ import annotations

from ..options import BACKENDS, PRECISIONS
from ..weights import Weights
from .base import BackendUnavailableError, Engine, check_network_input
from .onnxruntime_engine import ONNXRuntimeEngine, onnxruntime_available
from .openvino_engine import OpenVINOEngine, cpu_supports_bf16, openvino_available
from .tensorrt import tensorrt_available
from .torch_engine import TorchEngine, cuda_available, torch_available

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "BackendUnavailableError",
    "Engine",
    "ONNXRuntimeEngine",
    "OpenVINOEngine",
    "TorchEngine",
    "available_backends",
    "check_network_input",
    "cpu_supports_bf16",
    "create_engine",
    "cuda_available",
    "default_precision",
    "resolve_backend",
    "tensorrt_available",
]


def available_backends() -> list[str]:
    """Backends whose packages import on this machine, best first."""
    out = []
    if openvino_available():
        out.append("openvino")
    if onnxruntime_available():
        out.append("onnxruntime")
    if torch_available():
        out.append("torch")
    if tensorrt_available() and cuda_available():
        out.append("tensorrt")
    return out


def resolve_backend(backend: str, weights: Weights, device: str | None = None) -> str:
    """Turn "auto" into a concrete backend; validate the name."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {list(BACKENDS)}")
    if backend != "auto":
        return backend
    if device is not None and device.startswith("cuda"):
        return "tensorrt" if tensorrt_available() else "torch"
    avail = available_backends()
    if weights.state_dict is None:  # ONNX weights: torch cannot run them
        avail = [b for b in avail if b != "torch"]
    if not avail:
        raise BackendUnavailableError("no inference backend is installed: pip install openvino (or onnxruntime)")
    return avail[0]


def default_precision(backend: str, device: str | None = None) -> str:
    """The fastest precision that keeps accuracy: BF16 on CPUs with native BF16 under OpenVINO, FP16 on CUDA."""
    if backend == "openvino":
        return "bf16" if cpu_supports_bf16() else "fp32"
    if backend == "tensorrt" or (backend == "torch" and device is not None and device.startswith("cuda")):
        return "fp16"
    return "fp32"


def create_engine(
    backend: str,
    weights: Weights,
    precision: str | None = None,
    device: str | None = None,
    num_threads: int | None = None,
    int8_model: str | None = None,
) -> Engine:
    """Create an engine. ``backend`` may be "auto"; ``precision`` None picks :func:`default_precision`."""
    backend = resolve_backend(backend, weights, device)
    if precision is None:
        precision = default_precision(backend, device)
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {list(PRECISIONS)}")
    if device is not None and device.startswith("cuda") and backend not in ("torch", "tensorrt"):
        raise BackendUnavailableError(f"backend {backend!r} runs on the CPU; use backend='torch' for device={device!r}")
    if backend == "openvino":
        if precision == "int8":
            # the IR given (checked against the weights' fingerprint), else the one shipped beside packaged weights
            from ..quantize import check_int8_model, packaged_int8_model

            found = packaged_int8_model(weights) if int8_model is None else check_int8_model(int8_model, weights)
            int8_model = None if found is None else str(found)
        return OpenVINOEngine(weights, precision, num_threads=num_threads, model_path=int8_model)
    if backend == "onnxruntime":
        return ONNXRuntimeEngine(weights, precision, num_threads=num_threads)
    if backend == "tensorrt":
        from .tensorrt import TensorRTEngine

        return TensorRTEngine(weights, precision, device or "cuda")
    if device is not None and device.startswith("cuda"):
        from .torch_cuda import TorchCUDAEngine

        return TorchCUDAEngine(weights, precision, device)
    return TorchEngine(weights, precision, device=device or "cpu", num_threads=num_threads)
