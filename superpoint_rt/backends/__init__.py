"""Engines that run the SuperPoint network, and the choice among them.

| backend       | device | precisions             | needs                |
|---------------|--------|------------------------|----------------------|
| "openvino"    | CPU    | bf16*, fp32, fp16, int8| openvino             |
| "onnxruntime" | CPU    | fp32                   | onnxruntime          |
| "torch"       | CPU    | fp32, bf16*            | torch                |
| "torch"       | CUDA   | fp16, fp32, bf16       | torch with CUDA      |
| "tensorrt"    | CUDA   | fp16, fp32             | tensorrt + torch     |

(*) native BF16 needs AMX or AVX512-BF16. On the CPU, "auto" and ``precision=None`` follow one rule decided by
measurement (:mod:`superpoint_rt.backends.auto`: the guarded INT8 IR where the weights carry one and the CPU has AVX2
(AMX included; BF16 on AMX / AVX512-BF16 CPUs without it), else the faster FP32 engine); on a CUDA device, tensorrt
when installed, else torch (CUDA graphs), FP16.
"""

from __future__ import annotations

from ..options import BACKENDS, PRECISIONS
from ..weights import Weights
from .auto import AutoChoice, CpuCaps, choose, fastest_for, guarded_int8_model
from .base import BackendUnavailableError, Engine, check_network_input
from .onnxruntime_engine import ONNXRuntimeEngine, onnxruntime_available
from .openvino_engine import OpenVINOEngine, cpu_supports_bf16, openvino_available
from .tensorrt import tensorrt_available
from .torch_engine import TorchEngine, cuda_available, torch_available

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "AutoChoice",
    "BackendUnavailableError",
    "CpuCaps",
    "Engine",
    "ONNXRuntimeEngine",
    "OpenVINOEngine",
    "TorchEngine",
    "auto_choice",
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


def _cpu_backends(weights: Weights | None) -> list[str]:
    avail = [b for b in available_backends() if b != "tensorrt"]
    if weights is not None and weights.state_dict is None:  # ONNX weights: torch cannot run them
        avail = [b for b in avail if b != "torch"]
    return avail


def auto_choice(weights: Weights | None, backend: str = "auto", caps: CpuCaps | None = None) -> AutoChoice:
    """What runs on this CPU for ``backend`` ("auto" or a CPU backend) and ``precision=None``, and why
    (:func:`superpoint_rt.backends.auto.choose`; ``caps`` None: this machine's)."""
    installed = _cpu_backends(weights)
    if backend == "auto" and not installed:
        raise BackendUnavailableError("no inference backend is installed: pip install openvino (or onnxruntime)")
    guarded, note = guarded_int8_model(weights) if weights is not None else (None, "no weights given")
    return choose(caps or CpuCaps.detect(), installed, guarded is not None, backend, note)


def resolve_backend(backend: str, weights: Weights, device: str | None = None, precision: str | None = None) -> str:
    """Turn "auto" into a concrete backend (for ``precision`` when given: :func:`~.auto.fastest_for`); validate the
    name."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {list(BACKENDS)}")
    if backend != "auto":
        return backend
    if device is not None and device.startswith("cuda"):
        return "tensorrt" if tensorrt_available() else "torch"
    if precision is not None:
        found = fastest_for(precision, _cpu_backends(weights))
        if found is not None:
            return found
    return auto_choice(weights).backend


def default_precision(backend: str, device: str | None = None, weights: Weights | None = None) -> str:
    """The fastest precision that keeps accuracy: FP16 on CUDA; on the CPU the rule of
    :mod:`superpoint_rt.backends.auto` (under OpenVINO: INT8 where ``weights`` carry the guarded IR, AMX included,
    BF16 where native without it, else FP32)."""
    if backend == "tensorrt" or (backend == "torch" and device is not None and device.startswith("cuda")):
        return "fp16"
    if backend in ("openvino", "onnxruntime", "torch"):
        return auto_choice(weights, backend).precision
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
    on_cuda = device is not None and device.startswith("cuda")
    choice: AutoChoice | None = None
    if precision is None and not on_cuda and backend in ("auto", "openvino", "onnxruntime", "torch"):
        choice = auto_choice(weights, backend)
        backend, precision = choice.backend, choice.precision
    backend = resolve_backend(backend, weights, device, precision)
    if precision is None:
        precision = default_precision(backend, device, weights)
    engine = _make_engine(backend, weights, precision, device, num_threads, int8_model)
    engine.chosen_by = None if choice is None else choice.as_dict()
    return engine


def _make_engine(
    backend: str,
    weights: Weights,
    precision: str,
    device: str | None,
    num_threads: int | None,
    int8_model: str | None,
) -> Engine:
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
